package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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

// Consume runs the durable consumer (only the elected applier calls it):
// every stored event is passed to deliver once, in stream order, until ctx
// ends. A redelivered event (its first delivery went to a replica that died
// before acking), and every event stored before this Consume began (the
// backlog of a restart or a failover, which may be older than what a resync
// or another applier applied meanwhile), arrives with Verify set, so it
// re-checks the tag before it applies and never moves a tag back. Events are kept from redelivery while
// this process runs; when ctx ends they are handed back at once (a Nak) for
// the next applier. Call Done or Fail for each delivered job.
func (l *Log) Consume(ctx context.Context, deliver func(*bridge.Job)) error {
	cons, err := l.consumer(ctx)
	if err != nil {
		return err
	}
	backlog, err := l.lastSeq(ctx)
	if err != nil {
		return err
	}
	l.held.mu.Lock()
	l.held.msgs = map[uint64]jetstream.Msg{}
	l.held.mu.Unlock()
	cc, err := cons.Consume(func(m jetstream.Msg) {
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
	}, jetstream.PullMaxMessages(min(l.opts.MaxPending, 1000)), jetstream.ConsumeErrHandler(func(_ jetstream.ConsumeContext, err error) {
		l.opts.Logger.Warn("event log: consume", "error", err)
	}))
	if err != nil {
		return fmt.Errorf("consume %s: %w: %w", l.consumerName(), ErrUnavailable, err)
	}
	tick := time.NewTicker(l.opts.AckWait / 3)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			for _, m := range l.heldMsgs() {
				_ = m.InProgress()
			}
		case <-ctx.Done():
			cc.Stop()
			<-cc.Closed()
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

// consumer creates the durable consumer afresh, retrying while the cluster
// cannot answer (no meta leader yet, quorum lost) until ctx ends. Only the
// applier consumes, so it deletes the consumer a previous applier left:
// events that one held unacked (it crashed, or stepped down) are delivered at
// once instead of after AckWait. The stream keeps every unacked event (work
// queue retention removes an event only on its ack), and they arrive as
// backlog, with Verify set.
func (l *Log) consumer(ctx context.Context) (jetstream.Consumer, error) {
	retry := time.NewTimer(0)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("create consumer %s: %w", l.consumerName(), ctx.Err())
		case <-retry.C:
		}
		cctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
		err := l.js.DeleteConsumer(cctx, l.opts.Stream, l.consumerName())
		if err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			cancel()
			l.opts.Logger.Warn("event log: cannot reset the applier's consumer yet, retrying", "error", err)
			retry.Reset(time.Second)
			continue
		}
		cons, err := l.js.CreateOrUpdateConsumer(cctx, l.opts.Stream, jetstream.ConsumerConfig{
			Durable:       l.consumerName(),
			Description:   "imagestream-bridge: the applier",
			AckPolicy:     jetstream.AckExplicitPolicy,
			AckWait:       l.opts.AckWait,
			MaxAckPending: l.opts.MaxPending,
			MaxDeliver:    -1,
			DeliverPolicy: jetstream.DeliverAllPolicy,
			Replicas:      l.opts.Replicas,
		})
		cancel()
		if err == nil {
			return cons, nil
		}
		l.opts.Logger.Warn("event log: cannot create the applier's consumer yet, retrying", "error", err)
		retry.Reset(time.Second)
	}
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
