package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// collect runs Consume, keeping every delivered job unacked (a cluster that is
// down), until ctx ends; jobs returns what arrived so far.
func collect(t *testing.T, ctx context.Context, l *Log) (jobs func() []*bridge.Job, done <-chan error) {
	t.Helper()
	var mu sync.Mutex
	var got []*bridge.Job
	d := make(chan error, 1)
	go func() {
		d <- l.Consume(ctx, func(j *bridge.Job) {
			mu.Lock()
			got = append(got, j)
			mu.Unlock()
		})
	}()
	return func() []*bridge.Job {
		mu.Lock()
		defer mu.Unlock()
		return append([]*bridge.Job(nil), got...)
	}, d
}

// settle waits until no job arrived for quiet, at most 30s, and returns the jobs.
func settle(t *testing.T, jobs func() []*bridge.Job, quiet time.Duration) []*bridge.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	last, since := -1, time.Now()
	for time.Now().Before(deadline) {
		n := len(jobs())
		if n != last {
			last, since = n, time.Now()
		} else if time.Since(since) >= quiet {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return jobs()
}

// TestPausedGroupHoldsOnlyItsWindow: the jobs of a group nobody finishes (its
// cluster is down) fill that group's window, no more; the rest stay in the
// stream, and another group's jobs stored behind them are delivered.
func TestPausedGroupHoldsOnlyItsWindow(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), Options{})
	const stuck = 300 // more than the default window (256)
	var batch []*bridge.Job
	for i := range stuck {
		j := job(fmt.Sprintf("down%d", i), fmt.Sprintf("t%d", i), "sha256:1")
		j.Cluster = "down"
		batch = append(batch, j)
	}
	for i := range 5 {
		batch = append(batch, job(fmt.Sprintf("up%d", i), fmt.Sprintf("t%d", i), "sha256:2"))
	}
	if err := l.Append(t.Context(), batch); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	jobs, done := collect(t, ctx, l)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	}()
	got := settle(t, jobs, 500*time.Millisecond)
	down, up := 0, 0
	for _, j := range got {
		if j.ClusterName() == "down" {
			down++
		} else {
			up++
		}
	}
	if up != 5 || down > 256 {
		t.Fatalf("delivered %d jobs of the stuck group and %d of the other; want at most its window (256) and all 5", down, up)
	}
	if n, err := l.Pending(t.Context()); err != nil || n != stuck+5 {
		t.Errorf("Pending = %d, %v; want %d: the stream keeps what the window does not hold", n, err, stuck+5)
	}
}

// TestHeapPerWaitingEvent: with a backlog of n events and nothing applied, the
// applier's heap grows by a window per group, not by the backlog: at most 300
// bytes per waiting event beyond what the log itself keeps.
func TestHeapPerWaitingEvent(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), Options{MaxPending: 100000})
	const n = 20000
	for start := 0; start < n; start += 500 {
		batch := make([]*bridge.Job, 0, 500)
		for i := start; i < start+500; i++ {
			batch = append(batch, job(fmt.Sprintf("e%d", i), fmt.Sprintf("t%d", i), "sha256:1"))
		}
		if err := l.Append(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
	before := liveHeap()
	ctx, cancel := context.WithCancel(t.Context())
	jobs, done := collect(t, ctx, l)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	}()
	got := settle(t, jobs, time.Second)
	after := liveHeap()
	per := (int64(after) - int64(before)) / n
	t.Logf("%d events waiting, %d delivered: live heap %d -> %d bytes, %d bytes per waiting event", n, len(got), before, after, per)
	if len(got) == 0 {
		t.Fatal("nothing delivered")
	}
	if per > 300 {
		t.Errorf("the applier holds %d bytes per waiting event (%d of %d delivered), want at most 300", per, len(got), n)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// TestUpgradeFromOneSubject: a stream an older version created (one subject,
// one unfiltered consumer) keeps working: Open adds the group subjects, the
// old consumer is removed, and the events stored on the old subject are
// delivered once, with Verify, beside the new ones.
func TestUpgradeFromOneSubject(t *testing.T) {
	dir := t.TempDir()
	old := openEmbedded(t, dir, Options{})
	ctx := t.Context()
	cfg := old.events.CachedInfo().Config
	cfg.Subjects = []string{"imagestream-bridge.events"}
	if _, err := old.js.UpdateStream(ctx, cfg); err != nil {
		t.Fatalf("restore the old subjects: %v", err)
	}
	if _, err := old.js.CreateOrUpdateConsumer(ctx, "imagestream-bridge", jetstream.ConsumerConfig{
		Durable: "imagestream-bridge-applier", AckPolicy: jetstream.AckExplicitPolicy}); err != nil {
		t.Fatalf("the old consumer: %v", err)
	}
	for i := range 3 {
		b, _ := json.Marshal(job(fmt.Sprintf("old%d", i), fmt.Sprintf("t%d", i), "sha256:1"))
		if _, err := old.js.Publish(ctx, "imagestream-bridge.events", b); err != nil {
			t.Fatal(err)
		}
	}
	old.Close()

	l := openEmbedded(t, dir, Options{})
	if err := l.Append(ctx, []*bridge.Job{job("new", "t9", "sha256:2")}); err != nil {
		t.Fatalf("append after the upgrade: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	jobs, done := collect(t, cctx, l)
	got := settle(t, jobs, 500*time.Millisecond)
	for _, j := range got {
		if err := l.Done(j.Seq); err != nil {
			t.Errorf("Done(%d): %v", j.Seq, err)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ids := map[string]int{}
	for _, j := range got {
		ids[j.ID]++
		if !j.Verify {
			t.Errorf("job %s without Verify: it was stored before Consume began", j.ID)
		}
	}
	for _, id := range []string{"old0", "old1", "old2", "new"} {
		if ids[id] != 1 {
			t.Errorf("job %s delivered %d times, want once (got %v)", id, ids[id], ids)
		}
	}
	// Acks are asynchronous: the server removes the events shortly after.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := l.Pending(ctx)
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Pending after acking all = %d, %v; want 0", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
