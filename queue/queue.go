// Package queue schedules accepted jobs in per-key lanes for a pool of workers.
//
// Invariants, each tested in queue_test.go:
//   - Bounded: Reserve admits at most Capacity jobs (reserved, waiting, backing
//     off or being worked on); beyond it producers are told "full" at once and
//     never wait. PushBacklog (journal recovery, replay) admits without a bound,
//     so a backlog of any size is scheduled and completes.
//   - Outside jobs have their own room: ReserveOutside admits at most Outside
//     jobs that Options.IsOutside marks (a resync's repairs), counted apart from
//     Capacity, so they never take the room Reserve gives; a producer of them
//     waits for room instead of being refused.
//   - Ordered per key: the jobs of one key (one image stream tag) are handed out
//     one at a time, in push order; a job that must be retried stays at the head
//     of its lane until it is done, so a later job never overtakes it.
//   - Producers never block: Push and PushBacklog only append to lists under the
//     lock and signal a condition variable (the list + sync.Cond shape of
//     distribution's notifications eventQueue); no channel send happens while
//     the lock is held.
//   - Fair between groups: lanes belong to a group (a registry and cluster);
//     ready lanes are handed out round-robin across groups. A group with nothing
//     in flight may always take a free worker. A group that already holds one
//     takes another only if that leaves a free worker for every other known
//     group holding none (at most max(1, (Workers-1)/2) are kept so), and it never holds
//     more than Workers minus the other groups with work (queued, backing off or
//     running); paused groups count for neither. So slow registries that arrive one after another cannot take
//     every worker: with up to max(1, (Workers-1)/2) of them stalled, a push to any
//     other registry still finds a free worker at once.
//   - Backoff holds no worker: Retry parks the lane on a timer.
//   - Paused groups wait: Pause keeps a group's lanes (a cluster that is down)
//     from being handed out, without dropping or reordering them, until resumed.
package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Options configure a Queue.
type Options[T any] struct {
	// Capacity bounds the jobs admitted by Reserve. Required.
	Capacity int
	// Outside bounds the jobs admitted by ReserveOutside, apart from Capacity. Default 0: none.
	Outside int
	// IsOutside marks the jobs whose room ReserveOutside gave (also when
	// PushBacklog brings them back). Default: none.
	IsOutside func(T) bool
	// Workers is how many workers call Next; with it, a group that has a job in
	// flight leaves free workers to the groups holding none and is bounded by
	// the groups with work (see the package doc). Default 0: no bound.
	Workers int
	// Groups are known from the start (the configured registries). Default: none.
	Groups []string
	// Key names the lane of a job (jobs of one key are ordered). Required.
	Key func(T) string
	// Group names the fairness group of a job. Default: one group.
	Group func(T) string
	// Now is the clock for progress tracking. Default time.Now.
	Now func() time.Time
}

// Queue is a bounded set of ordered lanes. The zero value is not usable: call New.
type Queue[T any] struct {
	opts Options[T]

	mu       sync.Mutex
	cond     *sync.Cond
	count    int // reserved + waiting + backing off + in flight
	outside  int // the same, of outside jobs (not in count)
	inFlight int
	lanes    map[string]*lane[T]
	groups   map[string]*group[T]
	order    []string // groups in round-robin order
	next     int
	closed   bool
	timers   map[*time.Timer]struct{}
	progress time.Time // last time a job finished or was parked for retry
}

type lane[T any] struct {
	key, group string
	jobs       []T
	attempts   int
	started    time.Time
}

type group[T any] struct {
	ready    []*lane[T]
	inFlight int
	lanes    int
	paused   bool
}

// New returns an empty queue.
func New[T any](o Options[T]) *Queue[T] {
	if o.Group == nil {
		o.Group = func(T) string { return "" }
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.IsOutside == nil {
		o.IsOutside = func(T) bool { return false }
	}
	q := &Queue[T]{opts: o, lanes: map[string]*lane[T]{}, groups: map[string]*group[T]{},
		timers: map[*time.Timer]struct{}{}}
	q.cond = sync.NewCond(&q.mu)
	q.progress = o.Now()
	for _, g := range o.Groups {
		q.groupLocked(g)
	}
	return q
}

// Reserve claims room for n jobs; false means the queue is full (nothing is claimed).
func (q *Queue[T]) Reserve(n int) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.count+n > q.opts.Capacity {
		return false
	}
	q.count += n
	return true
}

// ReserveOutside claims room for n outside jobs, waiting until there is; it
// fails only when ctx ends, the queue closes, or n exceeds Outside.
func (q *Queue[T]) ReserveOutside(ctx context.Context, n int) error {
	if n > q.opts.Outside {
		return fmt.Errorf("reserve %d outside jobs: more than the outside room (%d)", n, q.opts.Outside)
	}
	defer q.wakeWhenDone(ctx)()
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.outside+n > q.opts.Outside {
		if err := ctx.Err(); err != nil {
			return err
		}
		if q.closed {
			return errClosed
		}
		q.cond.Wait()
	}
	q.outside += n
	return nil
}

// ReleaseOutside gives back outside room that was not used.
func (q *Queue[T]) ReleaseOutside(n int) {
	q.mu.Lock()
	q.outside -= n
	q.cond.Broadcast()
	q.mu.Unlock()
}

// OutsideCapacity is the bound ReserveOutside enforces.
func (q *Queue[T]) OutsideCapacity() int { return q.opts.Outside }

// errClosed: the queue was closed while a producer waited for room.
var errClosed = errors.New("queue closed")

// Release gives back reserved room that was not used.
func (q *Queue[T]) Release(n int) {
	q.mu.Lock()
	q.count -= n
	q.mu.Unlock()
}

// Push schedules jobs whose room was reserved.
func (q *Queue[T]) Push(jobs ...T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pushLocked(jobs)
}

// PushBacklog schedules jobs without a bound (recovered or replayed jobs).
func (q *Queue[T]) PushBacklog(jobs ...T) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, j := range jobs {
		if q.opts.IsOutside(j) {
			q.outside++
		} else {
			q.count++
		}
	}
	q.pushLocked(jobs)
}

func (q *Queue[T]) pushLocked(jobs []T) {
	for _, j := range jobs {
		k := q.opts.Key(j)
		if l, ok := q.lanes[k]; ok {
			l.jobs = append(l.jobs, j)
			continue
		}
		l := &lane[T]{key: k, group: q.opts.Group(j), jobs: []T{j}}
		q.lanes[k] = l
		q.groupLocked(l.group).lanes++
		q.readyLocked(l)
	}
}

func (q *Queue[T]) readyLocked(l *lane[T]) {
	g := q.groupLocked(l.group)
	g.ready = append(g.ready, l)
	q.cond.Broadcast() // a waiter may be unable to take this group's lane; wake all
}

func (q *Queue[T]) groupLocked(name string) *group[T] {
	g, ok := q.groups[name]
	if !ok {
		g = &group[T]{}
		q.groups[name] = g
		q.order = append(q.order, name)
	}
	return g
}

// Lease is one job handed to a worker; exactly one of Done or Retry must be called.
type Lease[T any] struct {
	q *Queue[T]
	l *lane[T]
	// Job is the head of its lane.
	Job T
	// Attempt counts tries of this job, starting at 1.
	Attempt int
	// Started is when the first try of this job began.
	Started time.Time
}

// Next blocks until a job may be worked on, or returns false once ctx ends or the queue is closed.
func (q *Queue[T]) Next(ctx context.Context) (*Lease[T], bool) {
	defer q.wakeWhenDone(ctx)()
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if q.closed || ctx.Err() != nil {
			return nil, false
		}
		if l := q.takeLocked(); l != nil {
			l.attempts++
			if l.attempts == 1 {
				l.started = q.opts.Now()
			}
			return &Lease[T]{q: q, l: l, Job: l.jobs[0], Attempt: l.attempts, Started: l.started}, true
		}
		q.cond.Wait()
	}
}

// takeLocked pops a ready lane from the next eligible group, round-robin.
func (q *Queue[T]) takeLocked() *lane[T] {
	for i := range q.order {
		idx := (q.next + i) % len(q.order)
		g := q.groups[q.order[idx]]
		if len(g.ready) == 0 || g.paused || !q.mayTakeLocked(g) {
			continue
		}
		l := g.ready[0]
		g.ready[0] = nil
		g.ready = g.ready[1:]
		g.inFlight++
		q.inFlight++
		q.next = idx + 1
		return l
	}
	return nil
}

// mayTakeLocked applies the fairness bound (see the package doc) to a group
// that would take one more free worker. Paused groups count for nothing.
func (q *Queue[T]) mayTakeLocked(g *group[T]) bool {
	w := q.opts.Workers
	if w <= 0 || g.inFlight == 0 {
		return true
	}
	idle, working := 0, 0 // other groups that hold no worker; other groups with work
	for _, o := range q.groups {
		if o == g || o.paused {
			continue
		}
		if o.inFlight == 0 {
			idle++
		}
		if o.lanes > 0 {
			working++
		}
	}
	return w-q.inFlight-1 >= min(idle, max(1, (w-1)/2)) && g.inFlight < w-working
}

// freeLocked records that a leased job of g no longer holds a worker.
func (q *Queue[T]) freeLocked(g *group[T]) {
	g.inFlight--
	q.inFlight--
}

// Done finishes the leased job: the lane moves on to its next job.
func (le *Lease[T]) Done() {
	q, l := le.q, le.l
	q.mu.Lock()
	defer q.mu.Unlock()
	g := q.groups[l.group]
	q.freeLocked(g)
	if q.opts.IsOutside(l.jobs[0]) {
		q.outside--
	} else {
		q.count--
	}
	q.progress = q.opts.Now()
	var zero T
	l.jobs[0] = zero
	l.jobs = l.jobs[1:]
	l.attempts = 0
	if len(l.jobs) == 0 {
		delete(q.lanes, l.key)
		g.lanes--
	} else {
		q.readyLocked(l)
	}
	q.cond.Broadcast() // a worker is free; the reserve may have changed
}

// Retry parks the leased job at the head of its lane and makes it ready after d.
func (le *Lease[T]) Retry(d time.Duration) {
	q, l := le.q, le.l
	q.mu.Lock()
	defer q.mu.Unlock()
	q.freeLocked(q.groups[l.group])
	q.progress = q.opts.Now()
	q.cond.Broadcast()
	if q.closed {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		delete(q.timers, t)
		if !q.closed {
			q.readyLocked(l)
		}
	})
	q.timers[t] = struct{}{}
}

// Pause stops (paused true) or resumes handing out the lanes of the named
// groups; their jobs stay queued in order. Jobs already leased run on.
func (q *Queue[T]) Pause(paused bool, groups ...string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, name := range groups {
		q.groupLocked(name).paused = paused
	}
	q.cond.Broadcast()
}

// HasLater reports whether a job is queued behind the head of key's lane.
func (q *Queue[T]) HasLater(key string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	l, ok := q.lanes[key]
	return ok && len(l.jobs) > 1
}

// Len is the number of jobs reserved, waiting, backing off or in flight, outside jobs included.
func (q *Queue[T]) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count + q.outside
}

// OutsideLen is the number of outside jobs reserved, waiting, backing off or in flight.
func (q *Queue[T]) OutsideLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.outside
}

// Capacity is the bound Reserve enforces.
func (q *Queue[T]) Capacity() int { return q.opts.Capacity }

// Stalled reports whether jobs are ready to run while no job has finished or
// been parked for longer than after, with every allowed worker slot taken:
// the workers are wedged.
func (q *Queue[T]) Stalled(after time.Duration) (bool, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	waiting := 0
	for _, g := range q.groups {
		if !g.paused {
			waiting += len(g.ready)
		}
	}
	idle := q.opts.Now().Sub(q.progress)
	return waiting > 0 && q.inFlight > 0 && idle > after, idle
}

// Close wakes every waiting worker (Next returns false) and cancels retry timers.
func (q *Queue[T]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	for t := range q.timers {
		t.Stop()
	}
	clear(q.timers)
	q.cond.Broadcast()
}

// wakeWhenDone wakes the queue's waiters when ctx ends, so that a wait on
// q.cond notices it; the returned func stops that.
func (q *Queue[T]) wakeWhenDone(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
}
