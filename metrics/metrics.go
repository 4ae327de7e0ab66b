// Package metrics defines every Prometheus metric of the bridge.
//
// Metrics are built on an injected Registerer, all names of ours start with
// imagestream_bridge_ (the Go and process collectors keep their standard go_ and
// process_ names), and labels come only from closed sets: registry names
// from the config, results, reasons and stages. Repository, tag and digest are
// never labels. Known label combinations are pre-created so series exist at zero.
package metrics

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Namespace prefixes every metric name.
const Namespace = "imagestream_bridge"

// Closed label values.
var (
	// Outcomes of one notification event at intake.
	EventOutcomes = []string{"queued", "skipped", "duplicate", "rejected"}
	// Actions of notification events ("other" for anything unexpected).
	Actions = []string{"push", "pull", "mount", "delete", "other"}
	// SkipReasons are why a well-formed event is not mapped.
	SkipReasons = []string{
		"not_push", "not_manifest", "untagged", "unmapped_repository",
		"namespace_not_allowed", "invalid_stream_name", "invalid_name", "stale", "artifact",
	}
	// FailureReasons are permanent failures of an accepted event.
	FailureReasons = []string{
		"forbidden", "invalid", "namespace_not_found", "stream_not_found", "quota",
		"manifest_not_found", "registry_unauthorized", "invalid_image", "too_large",
		"digest_mismatch", "redirect_refused", "token_host_refused", "registry_error", "api_error",
	}
	// RetryReasons are why a stage is retried.
	RetryReasons = []string{"server_error", "conflict", "throttled", "network", "timeout", "stream_created"}
	// Stages are the steps of applying an event.
	Stages = []string{"fetch", "api"}
	// FetchStages are registry fetches.
	FetchStages = []string{"manifest", "config"}
	// APIOperations are calls to the API server.
	APIOperations = []string{"create_mapping", "create_imagestream", "create_image", "list_imagestreams"}
	// DriftKinds are what reconciliation finds.
	DriftKinds = []string{"missing", "stale"}
	// Codes are the webhook's HTTP answers.
	Codes = []string{"200", "202", "400", "401", "403", "404", "405", "413", "415", "500", "503"}
)

// Metrics holds every collector.
type Metrics struct {
	Notifications   *prometheus.CounterVec
	Events          *prometheus.CounterVec
	Skipped         *prometheus.CounterVec
	Mappings        *prometheus.CounterVec
	Failures        *prometheus.CounterVec
	Retries         *prometheus.CounterVec
	QueueDepth      prometheus.Gauge
	QueueCapacity   prometheus.Gauge
	JournalBytes    prometheus.Gauge
	FailedEvents    prometheus.Gauge
	AckDuration     *prometheus.HistogramVec
	PushToMapped    *prometheus.HistogramVec
	FetchDuration   *prometheus.HistogramVec
	APIDuration     *prometheus.HistogramVec
	CacheRequests   *prometheus.CounterVec
	ResyncRuns      *prometheus.CounterVec
	ResyncDrift     *prometheus.CounterVec
	ResyncFixed     *prometheus.CounterVec
	ResyncDuration  prometheus.Histogram
	ResyncLastEnd   prometheus.Gauge
	Leader          prometheus.Gauge
	RejectedLogDrop prometheus.Counter
	MetadataEmpty   *prometheus.CounterVec
	ChildFailures   *prometheus.CounterVec
	WorkersStalled  prometheus.Gauge
	// JournalQuarantined and FailedEvicted mirror counts kept by the journal.
	JournalQuarantined prometheus.Gauge
	FailedEvicted      prometheus.Gauge
}

// New registers every metric on reg and pre-creates the series of the given registries.
func New(reg prometheus.Registerer, version string, registries []string) *Metrics {
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	ns := Namespace
	m := &Metrics{
		Notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "notifications_total",
			Help: "Notification requests received, by registry and HTTP status code."}, []string{"registry", "code"}),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_total",
			Help: "Notification events by action and intake outcome."}, []string{"registry", "action", "outcome"}),
		Skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_skipped_total",
			Help: "Well-formed events deliberately not mapped, by reason."}, []string{"registry", "reason"}),
		Mappings: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "mappings_total",
			Help: "Accepted events finished, by result (mapped or failed)."}, []string{"registry", "result"}),
		Failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "permanent_failures_total",
			Help: "Accepted events that can never succeed, by reason; they are kept in the failed list."}, []string{"registry", "reason"}),
		Retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "retries_total",
			Help: "Transient failures retried with backoff, by stage and reason."}, []string{"stage", "reason"}),
		QueueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
			Help: "Accepted events not yet applied."}),
		QueueCapacity: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "queue_capacity",
			Help: "Maximum accepted events before the webhook answers 503."}),
		JournalBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "journal_size_bytes",
			Help: "Size of the durable journal file; 0 when memory only."}),
		FailedEvents: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "failed_events",
			Help: "Events in the failed list, waiting for replay."}),
		AckDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "ack_duration_seconds",
			Help:    "Time from receiving a notification to answering it.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"registry"}),
		PushToMapped: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "push_to_mapped_seconds",
			Help:    "Time from the event's timestamp to the API server accepting the mapping.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"registry"}),
		FetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "registry_fetch_duration_seconds",
			Help:    "Registry round trips by stage (manifest, config) and result.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"registry", "stage", "result"}),
		APIDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "api_request_duration_seconds",
			Help:    "API server calls by operation and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"operation", "code_class"}),
		CacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cache_requests_total",
			Help: "Content cache lookups by result (hit, miss)."}, []string{"registry", "result"}),
		ResyncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "resync_runs_total",
			Help: "Reconciliation runs by result."}, []string{"result"}),
		ResyncDrift: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "resync_drift_total",
			Help: "Tags found out of step with the registry, by kind (missing, stale)."}, []string{"registry", "kind"}),
		ResyncFixed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "resync_fixed_total",
			Help: "Drifted tags queued for repair by reconciliation."}, []string{"registry"}),
		ResyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "resync_duration_seconds",
			Help: "Duration of reconciliation runs.", Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 10)}),
		ResyncLastEnd: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "resync_last_success_timestamp_seconds",
			Help: "Unix time of the last successful reconciliation."}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "leader",
			Help: "1 when this replica processes events (leader, or leader election off)."}),
		RejectedLogDrop: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rejected_logs_suppressed_total",
			Help: "Log lines about rejected requests dropped by the rate limiter."}),
		MetadataEmpty: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "image_metadata_empty_total",
			Help: "Images mapped with empty dockerImageMetadata because their config does not decode as the API server decodes it."}, []string{"registry"}),
		ChildFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "child_image_failures_total",
			Help: "Manifest list children whose Image could not be created (createChildImages); the list is mapped anyway."}, []string{"registry"}),
		JournalQuarantined: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "journal_quarantined_records",
			Help: "Damaged journal records moved aside to the quarantine bucket (kept for inspection)."}),
		FailedEvicted: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "failed_events_evicted",
			Help: "Failed-list entries dropped by its bound since start (oldest first)."}),
		WorkersStalled: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "workers_stalled",
			Help: "1 while events wait and no worker has finished one for longer than the stall limit."}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "Build information; the value is always 1."}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	for _, c := range []prometheus.Collector{
		m.Notifications, m.Events, m.Skipped, m.Mappings, m.Failures, m.Retries, m.QueueDepth, m.QueueCapacity,
		m.JournalBytes, m.FailedEvents, m.AckDuration, m.PushToMapped, m.FetchDuration, m.APIDuration,
		m.CacheRequests, m.ResyncRuns, m.ResyncDrift, m.ResyncFixed, m.ResyncDuration, m.ResyncLastEnd,
		m.Leader, m.RejectedLogDrop, m.MetadataEmpty, m.ChildFailures, m.WorkersStalled,
		m.JournalQuarantined, m.FailedEvicted, buildInfo,
	} {
		f(c)
	}
	// Standard names (go_*, process_*), as the usual Go and process dashboards and alerts expect.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.precreate(registries)
	return m
}

func (m *Metrics) precreate(registries []string) {
	for _, r := range registries {
		for _, c := range Codes {
			m.Notifications.WithLabelValues(r, c)
		}
		for _, a := range Actions {
			for _, o := range EventOutcomes {
				m.Events.WithLabelValues(r, a, o)
			}
		}
		for _, s := range SkipReasons {
			m.Skipped.WithLabelValues(r, s)
		}
		for _, res := range []string{"mapped", "failed"} {
			m.Mappings.WithLabelValues(r, res)
		}
		for _, f := range FailureReasons {
			m.Failures.WithLabelValues(r, f)
		}
		for _, s := range FetchStages {
			for _, res := range []string{"ok", "error"} {
				m.FetchDuration.WithLabelValues(r, s, res)
			}
		}
		for _, res := range []string{"hit", "miss"} {
			m.CacheRequests.WithLabelValues(r, res)
		}
		for _, k := range DriftKinds {
			m.ResyncDrift.WithLabelValues(r, k)
		}
		m.ResyncFixed.WithLabelValues(r)
		m.MetadataEmpty.WithLabelValues(r)
		m.ChildFailures.WithLabelValues(r)
		m.AckDuration.WithLabelValues(r)
		m.PushToMapped.WithLabelValues(r)
	}
	for _, s := range Stages {
		for _, r := range RetryReasons {
			m.Retries.WithLabelValues(s, r)
		}
	}
	for _, op := range APIOperations {
		for _, cc := range []string{"2xx", "4xx", "5xx", "error"} {
			m.APIDuration.WithLabelValues(op, cc)
		}
	}
	for _, r := range []string{"success", "error"} {
		m.ResyncRuns.WithLabelValues(r)
	}
}

// Action maps an event action onto the closed set.
func Action(a string) string {
	switch a {
	case "push", "pull", "mount", "delete":
		return a
	}
	return "other"
}
