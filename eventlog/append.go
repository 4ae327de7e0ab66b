package eventlog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// msgID is the JetStream message id of a job: the event id and the cluster
// (one event fans out to one job per cluster), so that the same event
// published by two replicas, or retried by its sender, is stored once.
func msgID(j *bridge.Job) string {
	if j.ID == "" {
		return ""
	}
	return j.ClusterName() + "/" + j.Action + "/" + j.ID
}

// Append stores jobs and sets their Seq (the stream sequence; a duplicate
// gets the sequence of the copy already stored). When it returns nil every job
// is stored (with the embedded server: fsynced, one fsync shared with the
// appends acknowledged at the same time, see groupsync.go; with a cluster: on
// a quorum of replicas). Any failure wraps ErrUnavailable.
func (l *Log) Append(ctx context.Context, jobs []*bridge.Job) error {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	l.eventSync.begin()
	if err := l.publish(ctx, jobs); err != nil {
		l.eventSync.end()
		return err
	}
	// A duplicate waits too: its first copy may be in an fsync not yet done.
	if err := l.eventSync.wait(ctx); err != nil {
		return fmt.Errorf("append event: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// publish stores jobs (pipelined) and sets their Seq from the server's acks.
func (l *Log) publish(ctx context.Context, jobs []*bridge.Job) error {
	futures := make([]jetstream.PubAckFuture, len(jobs))
	for i, j := range jobs {
		b, err := json.Marshal(j)
		if err != nil {
			return fmt.Errorf("encode job: %w", err)
		}
		subj := l.groupSubject(groupOf(j))
		l.groups.seen(subj)
		m := &nats.Msg{Subject: subj, Data: b}
		var o []jetstream.PublishOpt
		if id := msgID(j); id != "" {
			o = append(o, jetstream.WithMsgID(id))
		}
		if futures[i], err = l.js.PublishMsgAsync(m, o...); err != nil {
			return appendError(err)
		}
	}
	for i, f := range futures {
		select {
		case ack := <-f.Ok():
			jobs[i].Seq = ack.Sequence
		case err := <-f.Err():
			return appendError(err)
		case <-ctx.Done():
			return fmt.Errorf("append event: %w: %w", ErrUnavailable, ctx.Err())
		}
	}
	return nil
}

// Pending is how many events are stored and not yet acked.
func (l *Log) Pending(ctx context.Context) (uint64, error) {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	info, err := l.events.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stream %s: %w: %w", l.opts.Stream, ErrUnavailable, err)
	}
	return info.State.Msgs, nil
}

// appendError classifies a failed publish: the stream at its message limit
// (the queue budget, DiscardNew) is a full queue, anything else unavailable.
func appendError(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.ErrorCode == jsStoreFailed && strings.Contains(apiErr.Description, "maximum messages") {
		return fmt.Errorf("append event: %w: %w", bridge.ErrQueueFull, err)
	}
	return fmt.Errorf("append event: %w: %w", ErrUnavailable, err)
}

// jsStoreFailed is JetStream's error code for a message the stream refused to
// store; with DiscardNew and MaxMsgs reached its description is "maximum
// messages exceeded" (nats-server's ErrMaxMsgs).
const jsStoreFailed = 10077

// Bytes is the size of the stored, unapplied events (0 when the log cannot
// answer now).
func (l *Log) Bytes(ctx context.Context) int64 {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	info, err := l.events.Info(ctx)
	if err != nil {
		return 0
	}
	return int64(info.State.Bytes)
}
