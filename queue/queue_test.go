package queue

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

type job struct {
	group, key string
	n          int
}

func newQ(capacity, workers int, groups ...string) *Queue[job] {
	return New(Options[job]{
		Capacity: capacity, Workers: workers, Groups: groups,
		Key:   func(j job) string { return j.key },
		Group: func(j job) string { return j.group },
	})
}

// run starts workers that call fn for each lease until ctx ends.
func run(ctx context.Context, q *Queue[job], workers int, fn func(*Lease[job])) *sync.WaitGroup {
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				l, ok := q.Next(ctx)
				if !ok {
					return
				}
				fn(l)
			}
		}()
	}
	return &wg
}

func waitEmpty(t *testing.T, q *Queue[job]) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for q.Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("queue not drained: %d left", q.Len())
		}
		time.Sleep(time.Millisecond)
	}
}

func TestReserveIsBoundedAndBacklogIsNot(t *testing.T) {
	q := newQ(3, 1)
	if !q.Reserve(2) || q.Reserve(2) {
		t.Fatal("Reserve admitted past the capacity of 3")
	}
	if !q.Reserve(1) || q.Reserve(1) {
		t.Fatal("Reserve did not fill exactly to the capacity")
	}
	q.Release(3)
	if q.Len() != 0 {
		t.Fatalf("Len %d after release", q.Len())
	}
	var backlog []job
	for i := range 1000 {
		backlog = append(backlog, job{key: fmt.Sprint(i)})
	}
	q.PushBacklog(backlog...) // no worker runs: must not block
	if q.Len() != 1000 {
		t.Fatalf("Len %d, want 1000", q.Len())
	}
	if q.Reserve(1) {
		t.Fatal("Reserve admitted while a backlog fills the queue")
	}
}

// TestBacklogOfAnySizeCompletes: one worker, capacity 2, 10,000 distinct keys.
func TestBacklogOfAnySizeCompletes(t *testing.T) {
	q := newQ(2, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	done := 0
	wg := run(ctx, q, 1, func(l *Lease[job]) {
		mu.Lock()
		done++
		mu.Unlock()
		l.Done()
	})
	for round := range 10 {
		var jobs []job
		for i := range 1000 {
			jobs = append(jobs, job{key: fmt.Sprintf("%d-%d", round, i)})
		}
		q.PushBacklog(jobs...)
	}
	waitEmpty(t, q)
	cancel()
	wg.Wait()
	if done != 10000 {
		t.Fatalf("applied %d, want 10000", done)
	}
}

// TestOrderPerKeyUnderRetries: 8 workers, 50 keys, random transient failures;
// every key's jobs finish in push order and each exactly once.
func TestOrderPerKeyUnderRetries(t *testing.T) {
	q := newQ(10000, 8, "a", "b")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	got := map[string][]int{}
	inFlight := map[string]bool{}
	wg := run(ctx, q, 8, func(l *Lease[job]) {
		mu.Lock()
		if inFlight[l.Job.key] {
			mu.Unlock()
			t.Errorf("two jobs of key %s in flight", l.Job.key)
			l.Done()
			return
		}
		inFlight[l.Job.key] = true
		mu.Unlock()
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		mu.Lock()
		inFlight[l.Job.key] = false
		fail := rand.IntN(4) == 0
		if !fail {
			got[l.Job.key] = append(got[l.Job.key], l.Job.n)
		}
		mu.Unlock()
		if fail {
			l.Retry(time.Duration(rand.IntN(2)) * time.Millisecond)
			return
		}
		l.Done()
	})
	const keys, per = 50, 40
	for n := range per {
		for k := range keys {
			if !q.Reserve(1) {
				t.Fatal("full")
			}
			q.Push(job{group: []string{"a", "b"}[k%2], key: fmt.Sprint(k), n: n})
		}
	}
	waitEmpty(t, q)
	cancel()
	wg.Wait()
	for k := range keys {
		seq := got[fmt.Sprint(k)]
		if len(seq) != per {
			t.Fatalf("key %d: %d jobs done, want %d", k, len(seq), per)
		}
		for i, n := range seq {
			if n != i {
				t.Fatalf("key %d applied out of order: %v", k, seq)
			}
		}
	}
}

// TestSlowGroupLeavesAWorker: a group whose jobs never finish holds all but
// one worker; another group's job still runs at once. It runs in a synctest
// bubble, so each check waits until every worker is either stuck in a slow
// job or parked in Next: the slow group has taken all it may, however loaded
// the machine, and the good job has been handed out or never will be.
func TestSlowGroupLeavesAWorker(t *testing.T) {
	for _, workers := range []int{2, 4, 8} {
		t.Run(fmt.Sprint(workers), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := newQ(1000, workers, "slow", "good")
				ctx, cancel := context.WithCancel(t.Context())
				release := make(chan struct{})
				goodDone := make(chan struct{})
				var slowHeld atomic.Int32
				wg := run(ctx, q, workers, func(l *Lease[job]) {
					if l.Job.group == "slow" {
						slowHeld.Add(1)
						<-release
					} else {
						close(goodDone)
					}
					l.Done()
				})
				defer func() { close(release); cancel(); wg.Wait() }()
				var slow []job
				for i := range 3 * workers {
					slow = append(slow, job{group: "slow", key: fmt.Sprint(i)})
				}
				q.PushBacklog(slow...)
				synctest.Wait()
				if n := slowHeld.Load(); n != int32(workers-1) {
					t.Errorf("the stalled group holds %d of %d workers, want %d (one left for the other group)", n, workers, workers-1)
				}
				q.PushBacklog(job{group: "good", key: "g"})
				synctest.Wait()
				select {
				case <-goodDone:
				default:
					t.Fatal("the good group's job waited behind a stalled group")
				}
			})
		})
	}
}

// TestRetryHoldsNoWorker: with one worker, a lane in backoff does not delay another lane.
func TestRetryHoldsNoWorker(t *testing.T) {
	q := newQ(10, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	other := make(chan time.Time, 1)
	wg := run(ctx, q, 1, func(l *Lease[job]) {
		if l.Job.key == "flaky" && l.Attempt == 1 {
			l.Retry(time.Hour)
			return
		}
		if l.Job.key == "other" {
			other <- time.Now()
		}
		l.Done()
	})
	q.PushBacklog(job{key: "flaky"}, job{key: "other"})
	select {
	case <-other:
	case <-time.After(5 * time.Second):
		t.Fatal("a lane in backoff held the only worker")
	}
	if !q.HasLater("flaky") && q.Len() != 1 {
		t.Fatalf("flaky job lost: len %d", q.Len())
	}
	q.Close()
	wg.Wait()
}

func TestStalled(t *testing.T) {
	now := time.Unix(1000, 0)
	q := New(Options[job]{Capacity: 10, Key: func(j job) string { return j.key }, Now: func() time.Time { return now }})
	q.PushBacklog(job{key: "a"}, job{key: "b"})
	l, _ := q.Next(context.Background())
	now = now.Add(time.Minute)
	if s, _ := q.Stalled(2 * time.Minute); s {
		t.Fatal("stalled after one minute with a two-minute threshold")
	}
	now = now.Add(2 * time.Minute)
	if s, idle := q.Stalled(2 * time.Minute); !s || idle != 3*time.Minute {
		t.Fatalf("not stalled after three minutes with a job waiting (idle %s)", idle)
	}
	l.Done()
	if s, _ := q.Stalled(2 * time.Minute); s {
		t.Fatal("still stalled after progress")
	}
}

func TestNextEndsWithContextAndClose(t *testing.T) {
	q := newQ(1, 1)
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan bool)
	go func() { _, ok := q.Next(ctx); res <- ok }()
	cancel()
	if <-res {
		t.Fatal("Next returned a lease after cancel")
	}
	go func() { _, ok := q.Next(context.Background()); res <- ok }()
	time.Sleep(5 * time.Millisecond)
	q.Close()
	if <-res {
		t.Fatal("Next returned a lease after Close")
	}
}

// take hands out, without blocking, every lease the queue allows right now
// to the free workers (Next does the same, one lease per worker).
func take(q *Queue[job]) []*Lease[job] {
	var out []*Lease[job]
	for {
		q.mu.Lock()
		var l *lane[job]
		if q.inFlight < q.opts.Workers {
			l = q.takeLocked()
		}
		q.mu.Unlock()
		if l == nil {
			return out
		}
		l.attempts++
		out = append(out, &Lease[job]{q: q, l: l, Job: l.jobs[0], Attempt: l.attempts})
	}
}

// TestSlowGroupsLeaveAWorker: three registries whose jobs never finish arrive
// one after another, each with more jobs than workers (default 8 workers);
// a fourth registry's push still finds a worker at once, in any arrival order.
func TestSlowGroupsLeaveAWorker(t *testing.T) {
	for _, order := range [][]string{{"a", "b", "c"}, {"c", "a", "b"}} {
		t.Run(fmt.Sprint(order), func(t *testing.T) {
			q := newQ(1000, 8, "a", "b", "c", "good")
			held := map[string]int{}
			for _, g := range order {
				for i := range 20 {
					q.PushBacklog(job{group: g, key: fmt.Sprint(g, i)})
				}
				for _, l := range take(q) {
					held[l.Job.group]++
				}
			}
			q.PushBacklog(job{group: "good", key: "g"})
			got := take(q)
			if len(got) != 1 || got[0].Job.group != "good" {
				t.Fatalf("the healthy registry's job got no worker while slow registries hold %v", held)
			}
			for g, n := range held {
				if others := 2; n > 8-others {
					t.Errorf("registry %s holds %d workers, more than workers − other registries with work (%d)", g, n, 8-others)
				}
			}
		})
	}
}

// TestLastWorkerTakenWhenEveryGroupHoldsOne: once every known group holds a
// worker, the last free worker is not kept idle.
func TestLastWorkerTakenWhenEveryGroupHoldsOne(t *testing.T) {
	q := newQ(100, 3, "a", "b")
	for i := range 5 {
		q.PushBacklog(job{group: "a", key: fmt.Sprint("a", i)}, job{group: "b", key: fmt.Sprint("b", i)})
	}
	if got := take(q); len(got) != 3 {
		t.Fatalf("%d of 3 workers busy with work waiting in both groups", len(got))
	}
}

// TestPausedGroupWaits: a paused group's lanes are not handed out (and keep
// no worker in reserve); once resumed they run in order.
func TestPausedGroupWaits(t *testing.T) {
	q := newQ(100, 4, "down", "up")
	q.Pause(true, "down")
	q.PushBacklog(job{group: "down", key: "d", n: 1}, job{group: "down", key: "d", n: 2})
	for i := range 6 {
		q.PushBacklog(job{group: "up", key: fmt.Sprint("u", i)})
	}
	got := take(q)
	for _, l := range got {
		if l.Job.group == "down" {
			t.Fatal("a paused group's job was handed out")
		}
	}
	if len(got) != 4 {
		t.Fatalf("%d of 4 workers busy: a paused group kept a worker in reserve", len(got))
	}
	for _, l := range got {
		l.Done()
	}
	q.Pause(false, "down")
	var order []int
	for q.Len() > 0 {
		for _, l := range take(q) {
			if l.Job.group == "down" {
				order = append(order, l.Job.n)
			}
			l.Done()
		}
	}
	if fmt.Sprint(order) != "[1 2]" {
		t.Fatalf("resumed group ran %v, want [1 2]", order)
	}
}
