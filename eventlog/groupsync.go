package eventlog

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
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
type groupSync struct {
	fsync func() error // nil: nothing to fsync (memory storage, a cluster)

	mu      sync.Mutex
	started uint64    // the number of the last fsync started
	running *fsyncRun // the fsync in flight, nil when none
	last    *fsyncRun // the last fsync finished
	broken  error     // a failed fsync: what is on disk is unknown from then on

	runs atomic.Uint64 // fsyncs run
}

type fsyncRun struct {
	num  uint64
	done chan struct{}
	err  error
}

// errFsync marks a failed fsync (not a failure to find what to fsync): after
// it every wait fails, as the kernel may have dropped the unwritten pages and
// a later fsync would succeed without them.
var errFsync = errors.New("fsync failed")

func newGroupSync(fsync func() error) *groupSync { return &groupSync{fsync: fsync} }

// wait returns when everything written before the call is durable, or with
// the fsync's error, or when ctx ends.
func (g *groupSync) wait(ctx context.Context) error {
	if g.fsync == nil {
		return nil
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	need := g.started + 1
	for {
		if g.broken != nil {
			return g.broken
		}
		if g.last != nil && g.last.num >= need {
			return g.last.err
		}
		if g.running == nil {
			g.started++
			r := &fsyncRun{num: g.started, done: make(chan struct{})}
			g.running = r
			g.mu.Unlock()
			r.err = g.fsync()
			g.runs.Add(1)
			g.mu.Lock()
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
