package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// ErrNotHeld is returned by Done for a sequence this process does not hold.
var ErrNotHeld = errors.New("event not held by this consumer")

// held is the events delivered to this process and not yet acked, by stream sequence.
type held struct {
	mu   sync.Mutex
	msgs map[uint64]jetstream.Msg
}

// scanInterval is how often the running Consume looks for group subjects
// without a consumer (events another replica appended for a group this one
// has not configured, or left from a group no longer configured).
const scanInterval = time.Second

// Consume runs the applier's consumers (only the elected applier calls it):
// one per group (Options.Groups, every group subject found in the stream,
// and every group this process appends to), each holding at most
// Options.Window events, plus one for the legacy subject of older versions.
// Every stored event is passed to deliver once, in stream order within its
// group, until ctx ends. A redelivered event (its first delivery went to a replica that died
// before acking), and every event stored before this Consume began (the
// backlog of a restart or a failover, which may be older than what a resync
// or another applier applied meanwhile), arrives with Verify set, so it
// re-checks the tag before it applies and never moves a tag back. Events are kept from redelivery while
// this process runs; when ctx ends they are handed back at once (a Nak) for
// the next applier. Call Done or Fail for each delivered job.
func (l *Log) Consume(ctx context.Context, deliver func(*bridge.Job)) error {
	if err := l.resetConsumers(ctx); err != nil {
		return err
	}
	backlog, err := l.lastSeq(ctx)
	if err != nil {
		return err
	}
	l.held.mu.Lock()
	l.held.msgs = map[uint64]jetstream.Msg{}
	l.held.mu.Unlock()
	wake := l.groups.start(l.legacySubject())
	for _, g := range l.opts.Groups {
		l.groups.seen(l.groupSubject(g))
	}
	l.scanSubjects(ctx) // the backlog's groups
	handle := l.handler(deliver, backlog)
	l.startConsumers(ctx, handle)
	keep := time.NewTicker(l.opts.AckWait / 3)
	defer keep.Stop()
	scan := time.NewTicker(scanInterval)
	defer scan.Stop()
	for {
		select {
		case <-keep.C:
			for _, m := range l.heldMsgs() {
				_ = m.InProgress()
			}
		case <-scan.C:
			l.scanSubjects(ctx)
			l.startConsumers(ctx, handle)
		case <-wake:
			l.startConsumers(ctx, handle)
		case <-ctx.Done():
			for _, cc := range l.groups.stop() {
				cc.Stop()
				<-cc.Closed()
			}
			for _, m := range l.heldMsgs() {
				_ = m.Nak()
			}
			_ = l.nc.FlushTimeout(l.opts.Timeout) // the Naks reach the server before the connection closes
			l.held.mu.Lock()
			l.held.msgs = nil
			l.held.mu.Unlock()
			return nil
		}
	}
}

// handler decodes each delivered message into a job for deliver.
func (l *Log) handler(deliver func(*bridge.Job), backlog uint64) jetstream.MessageHandler {
	return func(m jetstream.Msg) {
		meta, err := m.Metadata()
		if err != nil {
			l.opts.Logger.Error("event log: a message without metadata", "error", err)
			return
		}
		seq := meta.Sequence.Stream
		l.held.mu.Lock()
		_, again := l.held.msgs[seq]
		l.held.msgs[seq] = m
		l.held.mu.Unlock()
		if again {
			return // still being applied here: keep the newer handle, do not deliver twice
		}
		var j bridge.Job
		if err := json.Unmarshal(m.Data(), &j); err != nil {
			l.opts.Logger.Error("event log: an undecodable event is dropped", "seq", seq, "error", err)
			l.forget(seq)
			_ = m.Term()
			return
		}
		j.Seq = seq
		if meta.NumDelivered > 1 || seq <= backlog {
			j.Verify = true
		}
		deliver(&j)
	}
}

// startConsumers starts a consumer for every wanted subject that has none;
// one that cannot be created now is tried again at the next scan.
func (l *Log) startConsumers(ctx context.Context, handle jetstream.MessageHandler) {
	for _, subj := range l.groups.missing() {
		if ctx.Err() != nil {
			return
		}
		name := l.groupConsumerName(subj)
		cctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
		cons, err := l.js.CreateOrUpdateConsumer(cctx, l.opts.Stream, jetstream.ConsumerConfig{
			Durable:       name,
			Description:   "imagestream-bridge: the applier, one group",
			FilterSubject: subj,
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       l.opts.AckWait,
			// The window: a group whose cluster is down holds this many, the rest stay in the stream.
			MaxAckPending: l.opts.Window,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			Replicas:      l.opts.Replicas,
		})
		cancel()
		if err != nil && ctx.Err() != nil {
			return
		}
		if err != nil {
			l.opts.Logger.Warn("event log: cannot create a consumer yet, retrying", "consumer", name, "error", err)
			continue
		}
		cc, err := cons.Consume(handle, jetstream.PullMaxMessages(l.opts.Window),
			jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
				l.opts.Logger.Warn("event log: consume", "consumer", name, "error", err)
			}))
		if err != nil {
			l.opts.Logger.Warn("event log: cannot consume yet, retrying", "consumer", name, "error", err)
			continue
		}
		l.groups.running(subj, cc)
	}
}

// scanSubjects wants a consumer for every group subject that holds events.
func (l *Log) scanSubjects(ctx context.Context) {
	ictx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	info, err := l.events.Info(ictx, jetstream.WithSubjectFilter(l.groupSubjects()))
	if err != nil {
		return // the next scan
	}
	for subj := range info.State.Subjects {
		l.groups.seen(subj)
	}
}

func (l *Log) heldMsgs() []jetstream.Msg {
	l.held.mu.Lock()
	defer l.held.mu.Unlock()
	out := make([]jetstream.Msg, 0, len(l.held.msgs))
	for _, m := range l.held.msgs {
		out = append(out, m)
	}
	return out
}

func (l *Log) forget(seq uint64) jetstream.Msg {
	l.held.mu.Lock()
	defer l.held.mu.Unlock()
	m := l.held.msgs[seq]
	delete(l.held.msgs, seq)
	return m
}

// Done acks an applied job: the log forgets it. A lost ack only means the job
// is delivered again, with Verify set, which is harmless.
func (l *Log) Done(seq uint64) error {
	m := l.forget(seq)
	if m == nil {
		return fmt.Errorf("ack event %d: %w", seq, ErrNotHeld)
	}
	if err := m.Ack(); err != nil {
		return fmt.Errorf("ack event %d: %w", seq, err)
	}
	return nil
}

// resetConsumers deletes every consumer a previous applier left (the single
// consumer of older versions and the group consumers), retrying while the
// cluster cannot answer (no meta leader yet, quorum lost) until ctx ends.
// Only the applier consumes: events that one held unacked (it crashed, or
// stepped down) are delivered at once to the consumers created afresh instead
// of after AckWait. The stream keeps every unacked event (work queue retention
// removes an event only on its ack), and they arrive as backlog, with Verify
// set. The old single consumer must go in any case: a work queue stream
// refuses filtered consumers beside an unfiltered one.
func (l *Log) resetConsumers(ctx context.Context) error {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("reset consumers of %s: %w", l.opts.Stream, ctx.Err())
		case <-retry.C:
		}
		err := l.deleteConsumers(ctx)
		if err == nil {
			return nil
		}
		l.opts.Logger.Warn("event log: cannot reset the applier's consumers yet, retrying", "error", err)
		retry.Reset(time.Second)
	}
}

func (l *Log) deleteConsumers(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	names := l.events.ConsumerNames(cctx)
	var old []string
	for n := range names.Name() {
		if n == l.consumerName() || strings.HasPrefix(n, l.consumerName()+"_") {
			old = append(old, n)
		}
	}
	if err := names.Err(); err != nil {
		return fmt.Errorf("list consumers: %w", err)
	}
	for _, n := range old {
		if err := l.events.DeleteConsumer(cctx, n); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("delete consumer %s: %w", n, err)
		}
	}
	return nil
}

// lastSeq is the stream's last sequence, retried while the cluster cannot
// answer until ctx ends.
func (l *Log) lastSeq(ctx context.Context) (uint64, error) {
	for {
		ictx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
		info, err := l.events.Info(ictx)
		cancel()
		if err == nil {
			return info.State.LastSeq, nil
		}
		l.opts.Logger.Warn("event log: cannot read the stream yet, retrying", "error", err)
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("read stream %s: %w", l.opts.Stream, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

// groups are the subjects the running Consume wants a consumer for, and the
// consumers it runs.
type groups struct {
	mu   sync.Mutex
	want map[string]jetstream.ConsumeContext // nil value: wanted, not running yet; nil map: no Consume runs
	wake chan struct{}
}

// start begins tracking for a Consume, wanting the given subjects; the
// returned channel wakes when a subject is wanted anew.
func (g *groups) start(subjects ...string) <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want = map[string]jetstream.ConsumeContext{}
	for _, s := range subjects {
		g.want[s] = nil
	}
	g.wake = make(chan struct{}, 1)
	return g.wake
}

// seen wants a consumer for subject (when a Consume runs), waking it when new.
func (g *groups) seen(subject string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.want == nil {
		return
	}
	if _, ok := g.want[subject]; ok {
		return
	}
	g.want[subject] = nil
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// missing lists the wanted subjects without a running consumer.
func (g *groups) missing() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for s, cc := range g.want {
		if cc == nil {
			out = append(out, s)
		}
	}
	return out
}

func (g *groups) running(subject string, cc jetstream.ConsumeContext) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.want[subject] = cc
}

// stop ends the tracking and returns the running consumers.
func (g *groups) stop() []jetstream.ConsumeContext {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []jetstream.ConsumeContext
	for _, cc := range g.want {
		if cc != nil {
			out = append(out, cc)
		}
	}
	g.want = nil
	return out
}
