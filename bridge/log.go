package bridge

import (
	"context"
	"errors"
)

// ErrLogUnavailable wraps every failure of the log to store an event (no
// quorum, a timeout): the webhook answers 503 with Retry-After, never a 2xx
// for an event that is not stored.
var ErrLogUnavailable = errors.New("event log unavailable")

// Log is where accepted jobs live between acknowledgement and application
// (package eventlog implements it on NATS JetStream). Every replica appends;
// only the elected applier consumes.
type Log interface {
	// Append stores jobs and sets their Seq; when it returns nil they are
	// durable. The same event appended twice (a sender's retry, to this or
	// another replica) is stored once. A full log wraps ErrQueueFull, any
	// other failure ErrLogUnavailable.
	Append(ctx context.Context, jobs []*Job) error
	// Consume passes every stored job to deliver, in log order, until ctx
	// ends; a job delivered before to an applier that did not finish it comes
	// with Verify set. Each delivered job ends with Done or Fail.
	Consume(ctx context.Context, deliver func(*Job)) error
	// Done forgets an applied job. A lost Done only delivers the job again, with
	// Verify set, which is harmless.
	Done(seq uint64) error
	// Fail moves a job to the failed list: one entry per registry, repository,
	// tag, digest, cluster and action (a new failure replaces the entry), at
	// most a fixed number of entries (the oldest go). A job with Seq 0 (never
	// in the log) is only recorded.
	Fail(ctx context.Context, f FailedJob) error
	// FailedCount is the failed list's length, without reading it.
	FailedCount(ctx context.Context) (int, error)
	// FailedList returns the failed list, oldest first; each entry's Seq is the
	// handle Replay and Drop take.
	FailedList(ctx context.Context) ([]FailedJob, error)
	// Replay appends failed entries (all when seqs is empty) to the log again
	// (Source replay, Verify set), removes them from the failed list and
	// returns them.
	Replay(ctx context.Context, seqs []uint64) ([]*Job, error)
	// Drop deletes failed entries (all when seqs is empty) and returns how many.
	Drop(ctx context.Context, seqs []uint64) (int, error)
	// Pending is how many stored jobs are not yet done or failed, the jobs
	// delivered to the applier included (it holds a window of them; the log
	// holds the rest).
	Pending(ctx context.Context) (uint64, error)
	// Durable reports whether a stored job survives a crash of this process.
	Durable() bool
}
