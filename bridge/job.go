package bridge

import (
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// Job is one accepted event for one cluster: what the log stores between
// acknowledgement and application.
type Job struct {
	// Seq is the job's handle in the log (its sequence); the log assigns it.
	// Jobs that never went through the log (resync) have Seq 0.
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
	// clusters existed) is config.DefaultCluster.
	Cluster string `json:"cluster,omitempty"`
	// Action is what the job does: "" maps Digest to the tag; ActionDelete
	// deletes the image stream tag once the registry no longer has the tag.
	Action string `json:"action,omitempty"`
	// Verify makes the job re-check, right before it applies, that the tag still
	// points at Digest (unless a later event of the same tag is queued behind it).
	// Set for reconciliation and replayed jobs and for every job the log delivers
	// a second time (its first delivery went to an applier that died or stepped
	// down), which may be older than what was applied meanwhile.
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

// FailedJob is a job that can never succeed as it is, with why.
type FailedJob struct {
	Job
	Reason   string    `json:"reason"`
	Message  string    `json:"message"`
	FailedAt time.Time `json:"failedAt"`
}
