package eventlog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

type evictCounter = atomic.Uint64

// failedSubject is the failed list's subject of f: one per registry,
// repository, tag, digest, cluster and action, so a new failure replaces the
// entry (the stream keeps one message per subject).
func (l *Log) failedSubject(f bridge.FailedJob) string {
	h := sha256.Sum256([]byte(strings.Join([]string{f.Registry, f.Repository, f.Tag, f.Digest, f.ClusterName(), f.Action}, "\x00")))
	return l.opts.Stream + ".failed." + hex.EncodeToString(h[:16])
}

// Fail stores f in the failed list and then acks its event (when this
// process holds it): a crash in between delivers the event again, never
// loses it. At most FailedCap entries are kept; the oldest go (Evicted).
func (l *Log) Fail(ctx context.Context, f bridge.FailedJob) error {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	subj := l.failedSubject(f)
	info, err := l.failed.Info(ctx)
	if err != nil {
		return fmt.Errorf("record failed event: %w: %w", ErrUnavailable, err)
	}
	if info.State.Msgs >= FailedCap {
		if _, err := l.failed.GetLastMsgForSubject(ctx, subj); errors.Is(err, jetstream.ErrMsgNotFound) {
			l.evicted.Add(1)
		}
	}
	seq := f.Seq
	b, err := json.Marshal(f)
	if err != nil {
		return fmt.Errorf("encode failed event: %w", err)
	}
	l.failedSync.begin()
	if _, err := l.js.PublishMsg(ctx, &nats.Msg{Subject: subj, Data: b}); err != nil {
		l.failedSync.end()
		return fmt.Errorf("record failed event: %w: %w", ErrUnavailable, err)
	}
	// Durable before the event is acked: a crash in between must keep one of them.
	if err := l.failedSync.wait(ctx); err != nil {
		return fmt.Errorf("record failed event: %w: %w", ErrUnavailable, err)
	}
	if m := l.forget(seq); m != nil {
		if err := m.Ack(); err != nil {
			return fmt.Errorf("ack failed event %d: %w", seq, err)
		}
	}
	return nil
}

// Evicted is how many failed entries the cap dropped since Open.
func (l *Log) Evicted() uint64 { return l.evicted.Load() }

// FailedCount is the failed list's length: the failed stream's message
// count, one API call whatever the length.
func (l *Log) FailedCount(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	info, err := l.failed.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("count failed events: %w: %w", ErrUnavailable, err)
	}
	return int(info.State.Msgs), nil
}

// FailedList returns the failed list, oldest first; each entry's Seq is its
// sequence in the failed stream, the handle Replay and Drop take.
func (l *Log) FailedList(ctx context.Context) ([]bridge.FailedJob, error) {
	ctx, cancel := context.WithTimeout(ctx, 4*l.opts.Timeout)
	defer cancel()
	info, err := l.failed.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("list failed events: %w: %w", ErrUnavailable, err)
	}
	if info.State.Msgs == 0 {
		return nil, nil
	}
	cons, err := l.failed.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{})
	if err != nil {
		return nil, fmt.Errorf("list failed events: %w: %w", ErrUnavailable, err)
	}
	var out []bridge.FailedJob
	for {
		batch, err := cons.FetchNoWait(1000)
		if err != nil {
			return nil, fmt.Errorf("list failed events: %w: %w", ErrUnavailable, err)
		}
		n, last := 0, false
		for m := range batch.Messages() {
			n++
			meta, err := m.Metadata()
			if err != nil {
				return nil, fmt.Errorf("list failed events: %w", err)
			}
			var f bridge.FailedJob
			if err := json.Unmarshal(m.Data(), &f); err != nil {
				return nil, fmt.Errorf("decode failed event %d: %w", meta.Sequence.Stream, err)
			}
			f.Seq = meta.Sequence.Stream
			out = append(out, f)
			last = meta.NumPending == 0
		}
		if err := batch.Error(); err != nil {
			return nil, fmt.Errorf("list failed events: %w: %w", ErrUnavailable, err)
		}
		if last || n == 0 {
			return out, nil
		}
	}
}

// Replay appends failed entries (all when seqs is empty) to the log as new
// events (Source replay, Verify set) and then deletes them from the failed
// list; it returns the appended jobs.
func (l *Log) Replay(ctx context.Context, seqs []uint64) ([]*bridge.Job, error) {
	list, err := l.pick(ctx, seqs)
	if err != nil {
		return nil, err
	}
	jobs := make([]*bridge.Job, len(list))
	for i, f := range list {
		j := f.Job
		j.Source, j.Verify = "replay", true
		// A new message id: the original is deduplicated, a replay must be stored.
		j.ID = fmt.Sprintf("replay-%d-%s", f.Seq, j.ID)
		jobs[i] = &j
	}
	if err := l.Append(ctx, jobs); err != nil {
		return nil, err
	}
	for _, f := range list {
		if err := l.failed.DeleteMsg(ctx, f.Seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return jobs, fmt.Errorf("delete replayed failed event %d: %w", f.Seq, err)
		}
	}
	return jobs, nil
}

// Drop deletes failed entries (all when seqs is empty) and returns how many.
func (l *Log) Drop(ctx context.Context, seqs []uint64) (int, error) {
	list, err := l.pick(ctx, seqs)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, f := range list {
		if err := l.failed.DeleteMsg(ctx, f.Seq); err == nil {
			n++
		} else if !errors.Is(err, jetstream.ErrMsgNotFound) {
			return n, fmt.Errorf("drop failed event %d: %w", f.Seq, err)
		}
	}
	return n, nil
}

func (l *Log) pick(ctx context.Context, seqs []uint64) ([]bridge.FailedJob, error) {
	list, err := l.FailedList(ctx)
	if err != nil || len(seqs) == 0 {
		return list, err
	}
	return slices.DeleteFunc(list, func(f bridge.FailedJob) bool { return !slices.Contains(seqs, f.Seq) }), nil
}
