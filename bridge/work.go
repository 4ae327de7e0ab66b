package bridge

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/queue"
)

// The applier's workers. Scheduling is the queue package's: jobs of one tag
// (a lane) apply strictly in log order, lanes run in parallel, registries and
// clusters share the workers fairly. A transient failure re-schedules its lane
// after a capped, jittered exponential backoff without holding a worker, so it
// delays only later events of the same tag. A permanent failure moves the job
// to the failed list and the lane goes on. Every job from the log ends with
// Done or Fail there, so the log forgets it only once it is applied or parked.

// newQueue builds the per-tag queue of the applier. Jobs from the log are
// admitted without a bound (the log bounds them: queueSize); resync jobs
// (Source resync) wait for a room of their own.
func newQueue(workers, capacity int, groups []string) *queue.Queue[*Job] {
	return queue.New(queue.Options[*Job]{
		Capacity:  capacity,
		Outside:   capacity,
		IsOutside: func(j *Job) bool { return j.Source == SourceResync },
		Workers:   workers,
		Groups:    groups,
		Key:       (*Job).Key,
		Group:     func(j *Job) string { return group(j.Registry, j.ClusterName()) },
	})
}

// Start makes this process the applier until ctx ends or Stop is called: the
// workers run, and the log's jobs are consumed into the queue. Only the
// elected replica calls it.
func (b *Bridge) Start(ctx context.Context) {
	b.gate.start(ctx)
	for range b.cfg.Workers {
		b.wg.Add(1)
		go b.work(ctx)
	}
	cctx, cancel := context.WithCancel(ctx)
	b.stopConsume = cancel
	b.consumeWG.Add(1)
	go func() {
		defer b.consumeWG.Done()
		if err := b.events.Consume(cctx, func(j *Job) { b.q.PushBacklog(j) }); err != nil && ctx.Err() == nil {
			b.log.Error("consuming the event log stopped", "error", err.Error())
		}
	}()
}

// StopConsuming ends the log's deliveries to this process (the jobs it holds
// go back to the log for the next applier) and waits until they have ended.
// The workers keep running until Stop.
func (b *Bridge) StopConsuming() {
	if b.stopConsume != nil {
		b.stopConsume()
	}
	b.consumeWG.Wait()
}

// Stop ends the workers after their current job and waits for them.
func (b *Bridge) Stop() {
	b.StopConsuming()
	b.q.Close()
	b.wg.Wait()
	b.gate.stop()
}

func (b *Bridge) work(ctx context.Context) {
	defer b.wg.Done()
	for {
		l, ok := b.q.Next(ctx)
		if !ok {
			return
		}
		b.run(ctx, l)
	}
}

func (b *Bridge) run(ctx context.Context, l *queue.Lease[*Job]) {
	j := l.Job
	o := classify(b.apply(ctx, j, b.q.HasLater(j.Key())))
	retry := o.Result == Retried
	if retry && ctx.Err() == nil {
		b.report(j, o, l.Attempt, time.Since(l.Started))
		l.Retry(b.backoff(l.Attempt, o.RetryAfter))
		return
	}
	if retry { // shutting down: the job stays in the log for the next applier
		l.Retry(time.Hour)
		return
	}
	if o.Result == Failed {
		f := FailedJob{Job: *j, Reason: string(o.Failure), Message: errString(o.Err), FailedAt: time.Now().UTC()}
		if err := b.events.Fail(context.WithoutCancel(ctx), f); err != nil {
			b.log.Error("cannot move a failed event to the failed list; the log delivers it again", "key", j.Key(), "error", err.Error())
		}
		b.failedChanged()
	} else if j.Seq != 0 {
		_ = b.events.Done(j.Seq) // a lost ack delivers the job again, with Verify set: harmless
	}
	b.report(j, o, l.Attempt, time.Since(l.Started))
	l.Done()
}

// logPending is the log's count of unfinished jobs; 1 while it cannot answer.
func (b *Bridge) logPending(ctx context.Context) uint64 {
	n, err := b.events.Pending(ctx)
	if err != nil {
		return 1
	}
	return n
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
func (b *Bridge) backoff(attempt int, retryAfter time.Duration) time.Duration {
	d := b.initial
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	d = d/2 + rand.N(d/2+1)
	return max(d, retryAfter)
}

// Wait blocks until the queue and the log are empty (the log holds the jobs
// beyond the applier's windows) or ctx ends.
func (b *Bridge) Wait(ctx context.Context) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for b.q.Len() > 0 || b.logPending(ctx) > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}
