package eventlog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

func job(id, tag, digest string) *bridge.Job {
	return &bridge.Job{ID: id, Registry: "main", Repository: "team/app", Namespace: "team", Stream: "app",
		Tag: tag, Digest: digest, Source: "notification"}
}

func openEmbedded(t *testing.T, dir string, o Options) *Log {
	t.Helper()
	o.DataDir = dir
	l, err := Open(t.Context(), o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// consumeN runs Consume until n jobs arrived and returns them; the consumer
// stops (handing unacked jobs back) before it returns.
func consumeN(t *testing.T, l *Log, n int) []*bridge.Job {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan *bridge.Job, n+16)
	done := make(chan error, 1)
	go func() { done <- l.Consume(ctx, func(j *bridge.Job) { got <- j }) }()
	var out []*bridge.Job
	timeout := time.After(20 * time.Second)
	for len(out) < n {
		select {
		case j := <-got:
			out = append(out, j)
		case err := <-done:
			t.Fatalf("Consume returned early: %v", err)
		case <-timeout:
			t.Fatalf("got %d of %d jobs", len(out), n)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Consume: %v", err)
	}
	return out
}

// TestAppendDeduplicatesAndConsumesInOrder: the event id is the message id
// (per cluster), so a retried event is stored once; the consumer delivers in
// append order, and an acked job is gone.
func TestAppendDeduplicatesAndConsumesInOrder(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), Options{})
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan *bridge.Job, 16)
	done := make(chan error, 1)
	go func() { done <- l.Consume(ctx, func(j *bridge.Job) { got <- j }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	}()
	// A first delivery means the consumer runs: what follows is live, not backlog.
	if err := l.Append(t.Context(), []*bridge.Job{job("warm", "v0", "sha256:0")}); err != nil {
		t.Fatal(err)
	}
	<-got
	first := []*bridge.Job{job("e1", "v1", "sha256:1"), job("e2", "v1", "sha256:2")}
	if err := l.Append(t.Context(), first); err != nil {
		t.Fatal(err)
	}
	other := job("e1", "v1", "sha256:1")
	other.Cluster = "prod"
	retry := []*bridge.Job{job("e1", "v1", "sha256:1"), other}
	if err := l.Append(t.Context(), retry); err != nil {
		t.Fatal(err)
	}
	if retry[0].Seq != first[0].Seq || retry[1].Seq == first[0].Seq {
		t.Errorf("seqs: first %d %d, retry %d, other cluster %d: want the retry deduplicated, the other cluster stored",
			first[0].Seq, first[1].Seq, retry[0].Seq, retry[1].Seq)
	}
	for i, want := range []string{"sha256:1", "sha256:2", "sha256:1"} {
		select {
		case j := <-got:
			if j.Digest != want || j.Verify {
				t.Errorf("job %d: %+v, want digest %s, Verify false on a live first delivery", i, j, want)
			}
			if i == 2 && j.ClusterName() != "prod" {
				t.Errorf("job 2 cluster %q, want prod", j.ClusterName())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("got %d of 3 jobs", i)
		}
	}
	select {
	case j := <-got:
		t.Errorf("a fourth job: %+v (the retry was stored twice)", j)
	case <-time.After(200 * time.Millisecond):
	}
}

// TestUnackedJobsComeBackVerified: jobs a consumer held without acking are
// delivered again (at once, not after AckWait) to the next consumer, marked
// Verify so they re-check the tag; acked ones are not.
func TestUnackedJobsComeBackVerified(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), Options{AckWait: time.Hour})
	if err := l.Append(t.Context(), []*bridge.Job{job("a", "v1", "sha256:1"), job("b", "v1", "sha256:2")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan *bridge.Job, 2)
	done := make(chan error, 1)
	go func() { done <- l.Consume(ctx, func(j *bridge.Job) { got <- j }) }()
	a, b := <-got, <-got
	if err := l.Done(a.Seq); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	again := consumeN(t, l, 1)
	if again[0].Seq != b.Seq || !again[0].Verify {
		t.Errorf("redelivered %+v, want seq %d with Verify", again[0], b.Seq)
	}
	if err := l.Done(a.Seq); !errors.Is(err, ErrNotHeld) {
		t.Errorf("Done of an acked seq: %v, want ErrNotHeld", err)
	}
}

// TestSurvivesRestart: with dataDir the embedded log keeps unacked events
// across a restart of the server.
func TestSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	l, err := Open(t.Context(), Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !l.Durable() {
		t.Error("Durable() = false with dataDir")
	}
	if err := l.Append(t.Context(), []*bridge.Job{job("a", "v1", "sha256:1")}); err != nil {
		t.Fatal(err)
	}
	l.Close()
	l2 := openEmbedded(t, dir, Options{})
	// The backlog of a restart may be older than what was applied meanwhile
	// (a resync, another applier): it re-checks the tag before it applies.
	if got := consumeN(t, l2, 1); got[0].Digest != "sha256:1" || !got[0].Verify {
		t.Errorf("after restart: %+v, want sha256:1 with Verify", got[0])
	}
	mem := openEmbedded(t, "", Options{})
	if mem.Durable() {
		t.Error("Durable() = true without dataDir")
	}
}

// TestQueueBudget: beyond MaxPending stored events, Append fails with
// bridge.ErrQueueFull (the webhook's 503 QUEUE_FULL) and stores nothing.
func TestQueueBudget(t *testing.T) {
	l := openEmbedded(t, "", Options{MaxPending: 2})
	if err := l.Append(t.Context(), []*bridge.Job{job("a", "v1", "sha256:1"), job("b", "v2", "sha256:2")}); err != nil {
		t.Fatal(err)
	}
	err := l.Append(t.Context(), []*bridge.Job{job("c", "v3", "sha256:3")})
	if !errors.Is(err, bridge.ErrQueueFull) || errors.Is(err, ErrUnavailable) {
		t.Fatalf("append beyond the budget: %v, want bridge.ErrQueueFull", err)
	}
	if n, _ := l.Pending(t.Context()); n != 2 {
		t.Errorf("Pending = %d, want 2", n)
	}
}

// TestFailedList: Fail records the entry (a new failure of the same tag,
// digest, cluster and action replaces it) and acks the event; Replay appends
// it again as a verified replay; Drop deletes.
func TestFailedList(t *testing.T) {
	l := openEmbedded(t, "", Options{})
	if err := l.Append(t.Context(), []*bridge.Job{job("a", "v1", "sha256:1"), job("b", "v1", "sha256:1"), job("c", "v2", "sha256:2")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	got := make(chan *bridge.Job, 3)
	done := make(chan error, 1)
	go func() { done <- l.Consume(ctx, func(j *bridge.Job) { got <- j }) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("consume: %v", err)
		}
	}()
	for range 3 {
		j := <-got
		if err := l.Fail(t.Context(), bridge.FailedJob{Job: *j, Reason: "manifest-unknown", Message: j.ID}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := l.FailedList(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Message != "b" || list[1].Message != "c" {
		t.Fatalf("failed list %+v, want b (replaced a) then c", list)
	}
	if n, err := l.FailedCount(t.Context()); err != nil || n != 2 {
		t.Errorf("FailedCount = %d, %v; want 2", n, err)
	}
	if n, _ := l.Pending(t.Context()); n != 0 {
		t.Errorf("Pending = %d after Fail, want 0 (acked)", n)
	}
	jobs, err := l.Replay(t.Context(), []uint64{list[0].Seq})
	if err != nil || len(jobs) != 1 || jobs[0].Source != "replay" {
		t.Fatalf("Replay: %v %+v", err, jobs)
	}
	select {
	case j := <-got:
		if j.Tag != "v1" || !j.Verify || j.Source != "replay" {
			t.Errorf("replayed job %+v", j)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("replayed job not delivered")
	}
	if n, err := l.Drop(t.Context(), nil); err != nil || n != 1 {
		t.Errorf("Drop all = %d, %v; want 1", n, err)
	}
	if list, _ := l.FailedList(t.Context()); len(list) != 0 {
		t.Errorf("failed list after Drop: %+v", list)
	}
	if n, err := l.FailedCount(t.Context()); err != nil || n != 0 {
		t.Errorf("FailedCount after Drop = %d, %v; want 0", n, err)
	}
}
