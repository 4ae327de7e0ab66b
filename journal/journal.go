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
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("journal closed")

// Job is one accepted event that will become a mapping.
type Job struct {
	// Seq orders jobs; the store assigns it.
	Seq uint64 `json:"seq"`
	// ID is the notification event id (or a synthetic id for resync and replay).
	ID         string    `json:"id"`
	Registry   string    `json:"registry"`
	Repository string    `json:"repository"`
	Namespace  string    `json:"namespace"`
	Stream     string    `json:"stream"`
	Tag        string    `json:"tag"`
	Digest     string    `json:"digest"`
	PushedAt   time.Time `json:"pushedAt"`
	// Source is notification, resync or replay.
	Source string `json:"source"`
	// Cluster is the cluster the job applies to; "" (records written before
	// clusters existed) is the default cluster.
	Cluster string `json:"cluster,omitempty"`
	// Action is what the job does: "" maps Digest to the tag; ActionDelete
	// deletes the image stream tag once the registry no longer has the tag.
	Action string `json:"action,omitempty"`
	// Verify makes the job re-check, right before it applies, that the tag still
	// points at Digest (unless a later event of the same tag is queued behind it).
	// Set for reconciliation jobs and for jobs recovered from the journal at start,
	// which may be older than what another replica applied meanwhile.
	Verify bool `json:"verify,omitempty"`
}

// ActionDelete is the Action of a job that deletes an image stream tag.
const ActionDelete = "delete"

// ClusterName is the job's cluster, config.DefaultCluster when Cluster is "".
func (j *Job) ClusterName() string {
	if j.Cluster == "" {
		return config.DefaultCluster
	}
	return j.Cluster
}

// Key is the unit of ordering: events of one tag in one cluster apply in
// order (a push and a delete of the tag share it). The default cluster's key
// is NAMESPACE/STREAM:TAG, another cluster's CLUSTER/NAMESPACE/STREAM:TAG
// (neither a namespace nor a stream contains a slash).
func (j *Job) Key() string {
	k := j.Namespace + "/" + j.Stream + ":" + j.Tag
	if c := j.ClusterName(); c != config.DefaultCluster {
		k = c + "/" + k
	}
	return k
}

// Failed is a job that can never succeed as it is, with why.
type Failed struct {
	Job
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
	FailedAt time.Time `json:"failedAt"`
}

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
