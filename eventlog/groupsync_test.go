package eventlog

import (
	"context"
	"sync/atomic"
	"testing"
	"testing/synctest"
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
		go g.wait(ctx) // runs the first fsync
		synctest.Wait()
		const n = 10
		var returned atomic.Int32
		done := make(chan error, n)
		for range n {
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
		go g.wait(context.Background())
		synctest.Wait()
		ctx, cancel := context.WithCancel(context.Background())
		errc := make(chan error, 1)
		go func() { errc <- g.wait(ctx) }()
		synctest.Wait()
		cancel()
		if err := <-errc; err != context.Canceled {
			t.Errorf("wait behind a stuck fsync after cancel: %v, want context.Canceled", err)
		}
		close(stuck)
	})
}
