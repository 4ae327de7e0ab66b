package bridge

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/journal"
)

// Pipeline applies accepted jobs with a bounded number of workers.
//
// Jobs of one tag (a lane) apply strictly in acceptance order; lanes run in
// parallel. A transient failure re-schedules its lane after a capped, jittered
// exponential backoff without holding a worker, so it delays only later
// events of the same tag. A permanent failure moves the job to the failed list
// and the lane goes on.
type Pipeline struct {
	store    journal.Store
	apply    func(ctx context.Context, j *journal.Job) error
	classify func(err error) Outcome
	report   func(j *journal.Job, o Outcome, attempts int, d time.Duration)
	workers  int
	capacity int64
	initial  time.Duration
	max      time.Duration

	queued atomic.Int64 // reserved or waiting or being applied
	mu     sync.Mutex
	lanes  map[string]*lane
	ready  chan *lane
	stop   chan struct{}
	wg     sync.WaitGroup
	timers sync.WaitGroup
}

type lane struct {
	key      string
	jobs     []*journal.Job
	attempts int
	started  time.Time
}

// Outcome classifies the result of applying a job.
type Outcome struct {
	// Permanent failures are never retried; Reason is a metrics.FailureReasons value.
	Permanent bool
	// Retry means a transient failure; Reason is a metrics.RetryReasons value.
	Retry      bool
	Reason     string
	Stage      string
	RetryAfter time.Duration
	Err        error
}

// PipelineOptions configure a Pipeline.
type PipelineOptions struct {
	Store    journal.Store
	Apply    func(ctx context.Context, j *journal.Job) error
	Classify func(err error) Outcome
	Report   func(j *journal.Job, o Outcome, attempts int, d time.Duration)
	Workers  int
	Capacity int
	Initial  time.Duration
	Max      time.Duration
	// Backlog is how many jobs will be pushed beyond Capacity (the journal's pending jobs at start).
	Backlog int
}

// NewPipeline returns a stopped pipeline; call Start.
func NewPipeline(o PipelineOptions) *Pipeline {
	return &Pipeline{
		store: o.Store, apply: o.Apply, classify: o.Classify, report: o.Report,
		workers: o.Workers, capacity: int64(o.Capacity), initial: o.Initial, max: o.Max,
		lanes: map[string]*lane{},
		ready: make(chan *lane, o.Capacity+o.Backlog+1),
		stop:  make(chan struct{}),
	}
}

// Reserve claims room for n jobs; false means the queue is full.
func (p *Pipeline) Reserve(n int) bool {
	for {
		cur := p.queued.Load()
		if cur+int64(n) > p.capacity {
			return false
		}
		if p.queued.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

// Release gives back reserved room that was not used.
func (p *Pipeline) Release(n int) { p.queued.Add(-int64(n)) }

// Depth is the number of jobs reserved, waiting or being applied.
func (p *Pipeline) Depth() int64 { return p.queued.Load() }

// Capacity is the queue bound.
func (p *Pipeline) Capacity() int64 { return p.capacity }

// Push schedules reserved jobs.
func (p *Pipeline) Push(jobs ...*journal.Job) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, j := range jobs {
		k := j.Key()
		if l, ok := p.lanes[k]; ok {
			l.jobs = append(l.jobs, j)
			continue
		}
		l := &lane{key: k, jobs: []*journal.Job{j}}
		p.lanes[k] = l
		p.ready <- l
	}
}

// hasLater reports whether another job of j's tag is queued behind it.
func (p *Pipeline) hasLater(j *journal.Job) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.lanes[j.Key()]
	return ok && len(l.jobs) > 1
}

// PushBacklog schedules jobs read back from the journal, claiming room without a bound.
func (p *Pipeline) PushBacklog(jobs []*journal.Job) {
	p.queued.Add(int64(len(jobs)))
	p.Push(jobs...)
}

// Start runs the workers until ctx ends or Stop is called.
func (p *Pipeline) Start(ctx context.Context) {
	for range p.workers {
		p.wg.Add(1)
		go p.work(ctx)
	}
}

func (p *Pipeline) work(ctx context.Context) {
	defer p.wg.Done()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.stop:
			return
		case l := <-p.ready:
			p.run(ctx, l)
		}
	}
}

func (p *Pipeline) run(ctx context.Context, l *lane) {
	p.mu.Lock()
	j := l.jobs[0]
	p.mu.Unlock()
	if l.attempts == 0 {
		l.started = time.Now()
	}
	err := p.apply(ctx, j)
	o := Outcome{}
	if err != nil {
		o = p.classify(err)
	}
	l.attempts++
	if o.Retry && ctx.Err() == nil {
		p.report(j, o, l.attempts, time.Since(l.started))
		p.later(l, p.backoff(l.attempts, o.RetryAfter))
		return
	}
	if o.Retry { // shutting down: the job stays in the journal (when durable)
		return
	}
	p.report(j, o, l.attempts, time.Since(l.started))
	if o.Permanent {
		_ = p.store.Fail(journal.Failed{Job: *j, Reason: o.Reason, Message: errString(o.Err), FailedAt: time.Now().UTC()})
	} else {
		p.store.Done(j.Seq)
	}
	p.queued.Add(-1)
	p.mu.Lock()
	l.jobs[0] = nil
	l.jobs = l.jobs[1:]
	l.attempts = 0
	more := len(l.jobs) > 0
	if !more {
		delete(p.lanes, l.key)
	}
	p.mu.Unlock()
	if more {
		p.ready <- l
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// later puts l back on the ready queue after d.
func (p *Pipeline) later(l *lane, d time.Duration) {
	p.timers.Add(1)
	go func() {
		defer p.timers.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			p.ready <- l
		case <-p.stop:
		}
	}()
}

// backoff is capped exponential with jitter in [d/2, d), at least retryAfter.
func (p *Pipeline) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := p.initial
	for i := 1; i < attempt && d < p.max; i++ {
		d *= 2
	}
	d = min(d, p.max)
	d = d/2 + rand.N(d/2+1)
	return max(d, retryAfter)
}

// Wait blocks until the queue is empty or ctx ends.
func (p *Pipeline) Wait(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for p.queued.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// Stop ends the workers after their current job and waits for them.
func (p *Pipeline) Stop() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	p.wg.Wait()
	p.timers.Wait()
}
