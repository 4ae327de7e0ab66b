package eventlog

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// groupSync shares one fsync among concurrent appends (group commit). An
// append whose messages the server has acknowledged (written to its file)
// waits for an fsync that starts after that moment: when none is running it
// runs one itself; when one is running (it may have started before the
// write) it waits for it to end and then for the next, which one of the
// waiters runs for all of them. The fsyncs so adapt to the load: at one
// append at a time each has its own, under a burst each covers every append
// acknowledged while the previous one ran. Publishing is not serialized:
// appends publish concurrently, as without it, and only the fsync is shared.
//
// Left at that, a closed loop of appenders splits into two halves that take
// turns (the half an fsync releases is still publishing when the other half
// starts the next one), so each fsync covers half of them. An fsync about
// to start therefore first waits for the appends already publishing to
// reach it (begin to wait), at most as long as the last fsync took: at one
// append at a time none is publishing and nothing waits; under a burst the
// wait costs less than the fsync it saves (PostgreSQL's commit_delay, made
// adaptive).
type groupSync struct {
	fsync func() error // nil: nothing to fsync (memory storage, a cluster)

	mu         sync.Mutex
	started    uint64        // the number of the last fsync started
	running    *fsyncRun     // the fsync gathering or in flight, nil when none
	last       *fsyncRun     // the last fsync finished
	broken     error         // a failed fsync: what is on disk is unknown from then on
	publishing int           // writers between begin and wait (or end)
	gathered   chan struct{} // closed when publishing drops to 0 while an fsync gathers
	took       time.Duration // how long the last fsync took

	runs atomic.Uint64 // fsyncs run
}

// maxGather bounds the wait for publishing appends before an fsync.
const maxGather = 2 * time.Millisecond

type fsyncRun struct {
	num  uint64 // 0 while gathering
	done chan struct{}
	err  error
}

// errFsync marks a failed fsync (not a failure to find what to fsync): after
// it every wait fails, as the kernel may have dropped the unwritten pages and
// a later fsync would succeed without them.
var errFsync = errors.New("fsync failed")

func newGroupSync(fsync func() error) *groupSync { return &groupSync{fsync: fsync} }

// begin announces a writer about to write (then wait, or end if it gives up
// before it wrote).
func (g *groupSync) begin() {
	if g.fsync == nil {
		return
	}
	g.mu.Lock()
	g.publishing++
	g.mu.Unlock()
}

// end withdraws a writer that will not wait.
func (g *groupSync) end() {
	if g.fsync == nil {
		return
	}
	g.mu.Lock()
	g.arrivedLocked()
	g.mu.Unlock()
}

func (g *groupSync) arrivedLocked() {
	g.publishing--
	if g.publishing == 0 && g.gathered != nil {
		close(g.gathered)
		g.gathered = nil
	}
}

// wait (after begin and the write) returns when everything written before
// the call is durable, or with the fsync's error, or when ctx ends.
func (g *groupSync) wait(ctx context.Context) error {
	if g.fsync == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.arrivedLocked()
	// An fsync gathering now has not started: it covers this write.
	need := g.started + 1
	for {
		if g.broken != nil {
			return g.broken
		}
		if g.last != nil && g.last.num >= need {
			return g.last.err
		}
		if g.running == nil {
			r := &fsyncRun{done: make(chan struct{})}
			g.running = r
			if g.publishing > 0 && g.took > 0 {
				gathered := make(chan struct{})
				g.gathered = gathered
				t := time.NewTimer(min(g.took, maxGather))
				g.mu.Unlock()
				select {
				case <-gathered:
				case <-t.C:
				}
				t.Stop()
				g.mu.Lock()
				if g.gathered == gathered {
					g.gathered = nil
				}
			}
			g.started++
			r.num = g.started
			g.mu.Unlock()
			t0 := time.Now()
			r.err = g.fsync()
			took := time.Since(t0)
			g.runs.Add(1)
			g.mu.Lock()
			g.took = took
			if errors.Is(r.err, errFsync) {
				g.broken = r.err
			}
			g.running, g.last = nil, r
			close(r.done)
			continue
		}
		done := g.running.done
		g.mu.Unlock()
		select {
		case <-done:
		case <-ctx.Done():
			g.mu.Lock()
			return ctx.Err()
		}
		g.mu.Lock()
	}
}

// err is the failed fsync that broke the log, if any.
func (g *groupSync) err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.broken
}
