package bridge

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/queue"
)

// Pipeline applies accepted jobs with a bounded number of workers.
//
// Scheduling is the queue package's: jobs of one tag (a lane) apply strictly
// in acceptance order, lanes run in parallel, registries share the workers
// fairly. A transient failure re-schedules its lane after a capped, jittered
// exponential backoff without holding a worker, so it delays only later
// events of the same tag. A permanent failure moves the job to the failed list
// and the lane goes on.
type Pipeline struct {
	store   journal.Store
	apply   func(ctx context.Context, j *journal.Job, later bool) error
	report  func(j *journal.Job, o Outcome, attempts int, d time.Duration)
	workers int
	initial time.Duration
	max     time.Duration

	q  *queue.Queue[*journal.Job]
	wg sync.WaitGroup
}

// PipelineOptions configure a Pipeline.
type PipelineOptions struct {
	Store journal.Store
	// Apply applies one job; later tells it whether another job of the same tag waits behind it.
	Apply func(ctx context.Context, j *journal.Job, later bool) error
	// Report receives every outcome (classified by classify), retries included.
	Report   func(j *journal.Job, o Outcome, attempts int, d time.Duration)
	Workers  int
	Capacity int
	// Outside is the room of resync jobs (Source "resync"), apart from Capacity:
	// a resync waits for it and never takes the webhook's room. Default Capacity.
	Outside int
	Initial time.Duration
	Max     time.Duration
	// Groups are the fairness groups, one per (registry, target cluster) (see
	// group): while there is more than one, one group never holds the last free
	// worker (see package queue), so a slow registry or cluster never starves another.
	Groups []string
}

// NewPipeline returns a stopped pipeline; call Start.
func NewPipeline(o PipelineOptions) *Pipeline {
	if o.Outside <= 0 {
		o.Outside = o.Capacity
	}
	return &Pipeline{
		store: o.Store, apply: o.Apply, report: o.Report,
		workers: o.Workers, initial: o.Initial, max: o.Max,
		q: queue.New(queue.Options[*journal.Job]{
			Capacity:  o.Capacity,
			Outside:   o.Outside,
			IsOutside: func(j *journal.Job) bool { return j.Source == SourceResync },
			Workers:   o.Workers,
			Groups:    o.Groups,
			Key:       (*journal.Job).Key,
			Group:     func(j *journal.Job) string { return group(j.Registry, j.ClusterName()) },
		}),
	}
}

// Reserve claims room for n jobs; false means the queue is full.
func (p *Pipeline) Reserve(n int) bool { return p.q.Reserve(n) }

// Release gives back reserved room that was not used.
func (p *Pipeline) Release(n int) { p.q.Release(n) }

// ReserveOutside claims room for n resync jobs, apart from the webhook's, waiting until there is.
func (p *Pipeline) ReserveOutside(ctx context.Context, n int) error {
	return p.q.ReserveOutside(ctx, n)
}

// ReleaseOutside gives back resync room that was not used.
func (p *Pipeline) ReleaseOutside(n int) { p.q.ReleaseOutside(n) }

// OutsideCapacity is the room of resync jobs.
func (p *Pipeline) OutsideCapacity() int { return p.q.OutsideCapacity() }

// Depth is the number of jobs reserved, waiting or being applied.
func (p *Pipeline) Depth() int64 { return int64(p.q.Len()) }

// Capacity is the queue bound.
func (p *Pipeline) Capacity() int64 { return int64(p.q.Capacity()) }

// Push schedules reserved jobs.
func (p *Pipeline) Push(jobs ...*journal.Job) { p.q.Push(jobs...) }

// PushBacklog schedules jobs read back from the journal or replayed, claiming room without a bound.
func (p *Pipeline) PushBacklog(jobs []*journal.Job) { p.q.PushBacklog(jobs...) }

// Stalled reports whether jobs wait while the workers finished nothing for longer than after.
func (p *Pipeline) Stalled(after time.Duration) (bool, time.Duration) { return p.q.Stalled(after) }

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
		l, ok := p.q.Next(ctx)
		if !ok {
			return
		}
		p.run(ctx, l)
	}
}

func (p *Pipeline) run(ctx context.Context, l *queue.Lease[*journal.Job]) {
	j := l.Job
	o := classify(p.apply(ctx, j, p.q.HasLater(j.Key())))
	retry := o.Result == Retried
	if retry && ctx.Err() == nil {
		p.report(j, o, l.Attempt, time.Since(l.Started))
		l.Retry(p.backoff(l.Attempt, o.RetryAfter))
		return
	}
	if retry { // shutting down: the job stays in the journal (when durable)
		l.Retry(time.Hour)
		return
	}
	if o.Result == Failed {
		_ = p.store.Fail(journal.Failed{Job: *j, Reason: string(o.Failure), Message: errString(o.Err), FailedAt: time.Now().UTC()})
	} else {
		p.store.Done(j.Seq)
	}
	p.report(j, o, l.Attempt, time.Since(l.Started))
	l.Done()
}

// group is the fairness group of a registry's jobs for one cluster.
func group(registry, cluster string) string { return registry + "\x00" + cluster }

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
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
	for p.q.Len() > 0 {
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
	p.q.Close()
	p.wg.Wait()
}
