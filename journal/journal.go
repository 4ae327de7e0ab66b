// Package journal records accepted events until they are applied.
//
// The webhook acknowledges an event only after Append returns, so with a
// durable journal an acknowledged event survives a crash and is applied after
// restart. Events that fail permanently move to a failed list from which they
// can be replayed. The stores: Memory (nothing survives the process), Log
// (what Open returns: an append-only file, dataDir/journal.log, with group
// commit, one write and one fdatasync for every batch of concurrent appends,
// and no memory mapping) and Bolt (the earlier bbolt file, dataDir/journal.db,
// two fsyncs per commit; kept to migrate it into a Log).
package journal

import (
	"context"
	"errors"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("journal closed")

// Job is a journal record: the domain's job, whose JSON the journal stores.
type Job = bridge.Job

// ActionDelete is the Action of a job that deletes an image stream tag.
const ActionDelete = bridge.ActionDelete

// Failed is a failed-list record: the domain's failed job.
type Failed = bridge.FailedJob

// Store is where jobs live between acknowledgement and application.
type Store interface {
	// Append stores jobs, assigning their Seq; when it returns nil they are durable.
	Append(ctx context.Context, jobs []*Job) error
	// Done forgets an applied job. It need not be durable at once: a job applied
	// twice after a crash is harmless.
	Done(seq uint64)
	// Fail moves a job to the failed list. The list keeps one entry per
	// registry, repository, tag, digest, cluster and action (a new failure replaces the old
	// entry) and at most 10,000 entries (the oldest go, counted by Evicted).
	Fail(f Failed) error
	// Pending returns the jobs not yet done, in Seq order.
	Pending() ([]*Job, error)
	// FailedList returns the failed list, oldest first.
	FailedList() ([]Failed, error)
	// Replay moves failed entries (all when seqs is empty) back to pending and returns them.
	Replay(seqs []uint64) ([]*Job, error)
	// Drop deletes failed entries (all when seqs is empty) and returns how many it deleted.
	Drop(seqs []uint64) (int, error)
	// Quarantined is how many damaged records were moved aside (kept, not applied).
	Quarantined() int
	// Evicted is how many failed entries the cap dropped since the store opened.
	Evicted() uint64
	// Size is the journal's size in bytes (0 for memory).
	Size() int64
	// Durable reports whether Append survives a crash.
	Durable() bool
	// Close flushes and releases the store.
	Close() error
}
