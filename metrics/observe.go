package metrics

import (
	"slices"
	"strconv"
	"time"
)

// The methods below are the only way other packages touch a metric: they
// satisfy the observer interfaces that the webhook and the bridge declare.

// Notification counts one webhook answer; registry is "unknown" for a name not configured.
func (m *Metrics) Notification(registry string, code int) {
	m.notifications.WithLabelValues(registry, strconv.Itoa(code)).Inc()
}

// Event counts one notification event by action and intake outcome.
func (m *Metrics) Event(registry, action, outcome string) {
	m.events.WithLabelValues(registry, Action(action), outcome).Inc()
}

// Acked observes the time from receiving a notification to answering it.
func (m *Metrics) Acked(registry string, d time.Duration) {
	m.ackDuration.WithLabelValues(registry).Observe(d.Seconds())
}

// RejectedLogDropped counts a log line about a rejected request that the rate limiter dropped.
func (m *Metrics) RejectedLogDropped() { m.rejectedLogDrop.Inc() }

// Skipped counts an event deliberately not mapped.
func (m *Metrics) Skipped(registry, reason string) { m.skipped.WithLabelValues(registry, reason).Inc() }

// Mapped counts a job whose mapping the API server of cluster stored.
func (m *Metrics) Mapped(registry, cluster string) {
	m.mappings.WithLabelValues(registry, cluster, "mapped").Inc()
}

// PushToMapped observes the time from a push to its mapping in cluster.
func (m *Metrics) PushToMapped(registry, cluster string, d time.Duration) {
	m.pushToMapped.WithLabelValues(registry, cluster).Observe(d.Seconds())
}

// Failed counts a job that failed for good in cluster.
func (m *Metrics) Failed(registry, cluster, reason string) {
	m.mappings.WithLabelValues(registry, cluster, "failed").Inc()
	m.failures.WithLabelValues(registry, cluster, reason).Inc()
}

// TagDeleted counts an image stream tag deleted in cluster.
func (m *Metrics) TagDeleted(registry, cluster string) {
	m.tagsDeleted.WithLabelValues(registry, cluster).Inc()
}

// Derived counts one roll-up tag (derivedTags) moved, deleted or left out at maxTagsPerStream in cluster.
func (m *Metrics) Derived(registry, cluster, result string) {
	m.derivedTags.WithLabelValues(registry, cluster, result).Inc()
}

// ClusterUp sets whether cluster's API server answers.
func (m *Metrics) ClusterUp(cluster string, up bool) {
	m.clusterUp.WithLabelValues(cluster).Set(bool01(up))
}

// Retried counts a transient failure retried with backoff.
func (m *Metrics) Retried(stage, reason string) { m.retries.WithLabelValues(stage, reason).Inc() }

// FailedEvents sets the length of the failed list.
func (m *Metrics) FailedEvents(n int) { m.failedEvents.Set(float64(n)) }

// MetadataEmpty counts an image mapped with empty metadata.
func (m *Metrics) MetadataEmpty(registry string) { m.metadataEmpty.WithLabelValues(registry).Inc() }

// ChildFailed counts a list child whose Image could not be created.
func (m *Metrics) ChildFailed(registry string) { m.childFailures.WithLabelValues(registry).Inc() }

// QueueCapacity sets the queue bound.
func (m *Metrics) QueueCapacity(n int) { m.queueCapacity.Set(float64(n)) }

// ResyncRun records one reconciliation run; err nil is a success.
func (m *Metrics) ResyncRun(d time.Duration, err error) {
	m.resyncDuration.Observe(d.Seconds())
	if err != nil {
		m.resyncRuns.WithLabelValues("error").Inc()
		return
	}
	m.resyncRuns.WithLabelValues("success").Inc()
	m.resyncLastEnd.SetToCurrentTime()
}

// ResyncDrift counts a drifted tag by kind.
func (m *Metrics) ResyncDrift(registry, kind string) {
	m.resyncDrift.WithLabelValues(registry, kind).Inc()
}

// ResyncFixed counts a drifted tag queued for repair.
func (m *Metrics) ResyncFixed(registry string) { m.resyncFixed.WithLabelValues(registry).Inc() }

// ResyncDeletesRefused counts one stream whose removals a resync pass refused (deleteTagsMaxShare).
func (m *Metrics) ResyncDeletesRefused(registry string) {
	m.resyncRefused.WithLabelValues(registry).Inc()
}

// Fetch observes one registry round trip of stage (manifest or config).
func (m *Metrics) Fetch(registry, stage string, d time.Duration, err error) {
	res := "ok"
	if err != nil {
		res = "error"
	}
	m.fetchDuration.WithLabelValues(registry, stage, res).Observe(d.Seconds())
}

// Cache counts a content cache lookup (hit or miss).
func (m *Metrics) Cache(registry, result string) {
	m.cacheRequests.WithLabelValues(registry, result).Inc()
}

// APICall observes one call to cluster's API server; code 0 means no answer.
func (m *Metrics) APICall(cluster, op string, code int, d time.Duration) {
	m.apiDuration.WithLabelValues(cluster, op, codeClass(code)).Observe(d.Seconds())
}

func codeClass(code int) string {
	switch {
	case code == 0:
		return "error"
	case code < 300:
		return "2xx"
	case code < 500:
		return "4xx"
	default:
		return "5xx"
	}
}

// Leader sets whether this replica processes events.
func (m *Metrics) Leader(leading bool) { m.leader.Set(bool01(leading)) }

// LogUp sets whether the event log takes appends.
func (m *Metrics) LogUp(up bool) { m.eventLogUp.Set(bool01(up)) }

// WorkersStalled sets whether the workers are stalled.
func (m *Metrics) WorkersStalled(stalled bool) { m.workersStalled.Set(bool01(stalled)) }

// Gauges are the levels sampled every second.
type Gauges struct {
	QueueDepth         int
	JournalBytes       int64
	JournalQuarantined int
	FailedEvicted      uint64
}

// Sample sets the sampled levels.
func (m *Metrics) Sample(g Gauges) {
	m.queueDepth.Set(float64(g.QueueDepth))
	m.journalBytes.Set(float64(g.JournalBytes))
	m.journalQuarantined.Set(float64(g.JournalQuarantined))
	m.failedEvicted.Set(float64(g.FailedEvicted))
}

// Action maps an event action onto the closed set.
func Action(a string) string {
	if slices.Contains(Actions, a) {
		return a
	}
	return "other"
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
