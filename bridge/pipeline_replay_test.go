package bridge

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/journal"
)

// TestBacklogOfManyTagsCompletes replays more distinct tags than the queue has
// room for, with one worker: every job must apply (the old pipeline sent on its
// ready channel while holding the lanes' lock and deadlocked here).
func TestBacklogOfManyTagsCompletes(t *testing.T) {
	var applied atomic.Int64
	p := NewPipeline(PipelineOptions{
		Store: journal.NewMemory(),
		Apply: func(ctx context.Context, j *journal.Job, later bool) error {
			applied.Add(1)
			return nil
		},
		Report:  func(*journal.Job, Outcome, int, time.Duration) {},
		Workers: 1, Capacity: 2, Initial: time.Millisecond, Max: time.Millisecond,
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.Start(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for round := range 3 {
			var jobs []*journal.Job
			for i := range 10 {
				jobs = append(jobs, &journal.Job{Registry: "main", Namespace: "ns", Stream: "s", Tag: fmt.Sprintf("t%d-%d", round, i)})
			}
			p.PushBacklog(jobs)
		}
	}()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("PushBacklog blocked: replay of 30 tags with capacity 2 and 1 worker never returned")
	}
	if err := p.Wait(ctx); err != nil {
		t.Fatalf("queue not drained: %d applied of 30", applied.Load())
	}
	if applied.Load() != 30 {
		t.Fatalf("applied %d, want 30", applied.Load())
	}
	p.Stop()
}
