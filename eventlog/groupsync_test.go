package eventlog

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestGroupSyncWaitersShareTheNextFsync: appends that arrive while an fsync
// runs (it may have started before their write) are not answered by it; they
// wait for it and share one next fsync, run by one of them.
func TestGroupSyncWaitersShareTheNextFsync(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var calls atomic.Int32
		g := newGroupSync(func() error {
			if calls.Add(1) == 1 {
				<-release // the first fsync is slow
			}
			return nil
		})
		ctx := context.Background()
		g.begin()
		firstDone := make(chan error, 1)
		go func() { firstDone <- g.wait(ctx) }() // runs the first fsync
		synctest.Wait()
		const n = 10
		var returned atomic.Int32
		done := make(chan error, n)
		for range n {
			g.begin()
			go func() {
				err := g.wait(ctx)
				returned.Add(1)
				done <- err
			}()
		}
		synctest.Wait()
		if r := returned.Load(); r != 0 {
			t.Fatalf("%d appends returned on an fsync that started before them", r)
		}
		close(release)
		if err := <-firstDone; err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := <-done; err != nil {
				t.Fatal(err)
			}
		}
		if c := calls.Load(); c != 2 {
			t.Errorf("%d fsyncs for one running and %d waiting appends, want 2", c, n)
		}
		if r := g.runs.Load(); r != 2 {
			t.Errorf("runs = %d, want 2", r)
		}
	})
}

// TestGroupSyncWaitEndsWithItsContext: an append waiting behind a stuck fsync
// gives up when its context ends.
func TestGroupSyncWaitEndsWithItsContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stuck := make(chan struct{})
		g := newGroupSync(func() error { <-stuck; return nil })
		g.begin()
		stuckDone := make(chan error, 1)
		go func() { stuckDone <- g.wait(context.Background()) }()
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		g.begin()
		go func() { errc <- g.wait(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, context.Canceled) {
			t.Errorf("wait behind a stuck fsync after cancel: %v, want context.Canceled", err)
		}
		close(stuck)
		if err := <-stuckDone; err != nil {
			t.Errorf("the stuck fsync's own wait: %v", err)
		}
	})
}

// slowFsync counts its calls; each takes a millisecond (of the bubble's clock).
func slowFsync(calls *atomic.Int32) func() error {
	return func() error {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		return nil
	}
}

// TestGroupSyncGathersWritersStillPublishing: an fsync about to start waits
// for the writers already publishing, so a closed loop of appenders shares
// one fsync instead of splitting into halves that take turns.
func TestGroupSyncGathersWritersStillPublishing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		g := newGroupSync(slowFsync(&calls))
		ctx := context.Background()
		g.begin()
		if err := g.wait(ctx); err != nil { // the first fsync: now it is known to take 1 ms
			t.Fatal(err)
		}
		g.begin() // a
		g.begin() // b, still publishing when a waits
		errs := make(chan error, 2)
		go func() { errs <- g.wait(ctx) }()
		synctest.Wait()
		if c := calls.Load(); c != 1 {
			t.Errorf("a's fsync started while b was publishing: %d fsyncs", c)
		}
		go func() { errs <- g.wait(ctx) }()
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
		if c := calls.Load(); c != 2 {
			t.Errorf("%d fsyncs for the first and then a and b together, want 2", c)
		}
	})
}

// TestGroupSyncGatherIsBounded: a writer stuck publishing delays the next
// fsync by at most what the last fsync took.
func TestGroupSyncGatherIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var calls atomic.Int32
		g := newGroupSync(slowFsync(&calls))
		ctx := context.Background()
		g.begin()
		if err := g.wait(ctx); err != nil {
			t.Fatal(err)
		}
		g.begin() // stuck: never waits
		g.begin()
		start := time.Now()
		if err := g.wait(ctx); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 2*time.Millisecond {
			t.Errorf("wait took %s behind a stuck writer, want 2ms (1ms gathering, 1ms fsync)", d)
		}
		g.end()
	})
}
