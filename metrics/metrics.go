// Package metrics defines every Prometheus metric of the bridge.
//
// Metrics are built on an injected Registerer, all names of ours start with
// imagestream_bridge_ (the Go and process collectors keep their standard go_ and
// process_ names), and labels come only from closed sets: registry and
// cluster names from the config, results, reasons and stages. Repository, tag and digest are
// never labels. Known label combinations are pre-created so series exist at zero.
package metrics

import (
	"net/http"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "imagestream_bridge"

// Closed label values.
var (
	// Outcomes of one notification event at intake.
	EventOutcomes = []string{"queued", "skipped", "duplicate", "rejected"}
	// Actions of notification events ("other" for anything unexpected).
	Actions = []string{"push", "pull", "mount", "delete", "ping", "other"}
	// FetchStages are registry fetches.
	FetchStages = []string{"manifest", "config"}
	// APIOperations are calls to the API server.
	APIOperations = []string{"create_mapping", "create_imagestream", "create_image", "list_imagestreams", "get_imagestream",
		"delete_imagestreamtag", "probe"}
	// DriftKinds are what reconciliation finds.
	DriftKinds = []string{"missing", "stale", "removed"}
	// Codes are the webhook's HTTP answers.
	Codes = []string{"200", "202", "400", "401", "403", "404", "405", "413", "415", "500", "503"}
)

// Labels are the closed label sets that other packages own: package app
// passes the configured registry names and the bridge's reason and stage lists.
type Labels struct {
	Registries []string
	// Clusters are the configured cluster names (default: just "default");
	// Targets, per registry, the clusters its pushes go to (default: all).
	Clusters []string
	Targets  map[string][]string
	// Senders names each registry's sender kind (config registries[].sender), for registry_info.
	Senders        map[string]string
	SkipReasons    []string
	FailureReasons []string
	// DerivedResults are what became of a roll-up tag (derivedTags).
	DerivedResults []string
	RetryReasons   []string
	Stages         []string
}

// Metrics holds every collector. Its methods are the observers that the
// webhook, the bridge, the registry client and the API client report to.
type Metrics struct {
	labels          Labels
	notifications   *prometheus.CounterVec
	events          *prometheus.CounterVec
	skipped         *prometheus.CounterVec
	mappings        *prometheus.CounterVec
	failures        *prometheus.CounterVec
	retries         *prometheus.CounterVec
	queueDepth      prometheus.Gauge
	queueCapacity   prometheus.Gauge
	journalBytes    prometheus.Gauge
	failedEvents    prometheus.Gauge
	ackDuration     *prometheus.HistogramVec
	pushToMapped    *prometheus.HistogramVec
	fetchDuration   *prometheus.HistogramVec
	apiDuration     *prometheus.HistogramVec
	cacheRequests   *prometheus.CounterVec
	resyncRuns      *prometheus.CounterVec
	resyncDrift     *prometheus.CounterVec
	resyncFixed     *prometheus.CounterVec
	resyncRefused   *prometheus.CounterVec
	resyncDuration  prometheus.Histogram
	resyncLastEnd   prometheus.Gauge
	leader          prometheus.Gauge
	eventLogUp      prometheus.Gauge
	rejectedLogDrop prometheus.Counter
	metadataEmpty   *prometheus.CounterVec
	childFailures   *prometheus.CounterVec
	workersStalled  prometheus.Gauge
	clusterUp       *prometheus.GaugeVec
	tagsDeleted     *prometheus.CounterVec
	derivedTags     *prometheus.CounterVec
	// JournalQuarantined and FailedEvicted mirror counts kept by the journal.
	journalQuarantined prometheus.Gauge
	failedEvicted      prometheus.Gauge
}

// New registers every metric on reg and pre-creates the series of the given label sets.
func New(reg prometheus.Registerer, version string, labels Labels) *Metrics {
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	ns := Namespace
	m := &Metrics{
		labels: labels,
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "notifications_total",
			Help: "Notification requests received, by registry and HTTP status code."}, []string{"registry", "code"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_total",
			Help: "Notification events by action and intake outcome."}, []string{"registry", "action", "outcome"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "events_skipped_total",
			Help: "Well-formed events deliberately not mapped, by reason."}, []string{"registry", "reason"}),
		mappings: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "mappings_total",
			Help: "Accepted jobs (one per event and target cluster) finished, by result (mapped or failed)."}, []string{"registry", "cluster", "result"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "permanent_failures_total",
			Help: "Accepted jobs that can never succeed, by cluster and reason; they are kept in the failed list."}, []string{"registry", "cluster", "reason"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "retries_total",
			Help: "Transient failures retried with backoff, by stage and reason."}, []string{"stage", "reason"}),
		queueDepth: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "queue_depth",
			Help: "Accepted events not yet applied."}),
		queueCapacity: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "queue_capacity",
			Help: "Maximum accepted events before the webhook answers 503."}),
		journalBytes: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "journal_size_bytes",
			Help: "Bytes stored in the event log's stream (accepted events not yet applied)."}),
		failedEvents: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "failed_events",
			Help: "Events in the failed list, waiting for replay."}),
		ackDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "ack_duration_seconds",
			Help:    "Time from receiving a notification to answering it.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1}}, []string{"registry"}),
		pushToMapped: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "push_to_mapped_seconds",
			Help:    "Time from the event's timestamp to the API server accepting the mapping.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}}, []string{"registry", "cluster"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "registry_fetch_duration_seconds",
			Help:    "Registry round trips by stage (manifest, config) and result.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"registry", "stage", "result"}),
		apiDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Name: "api_request_duration_seconds",
			Help:    "API server calls by cluster, operation and status class.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"cluster", "operation", "code_class"}),
		cacheRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "cache_requests_total",
			Help: "Content cache lookups by result (hit, miss)."}, []string{"registry", "result"}),
		resyncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "resync_runs_total",
			Help: "Reconciliation runs by result."}, []string{"result"}),
		resyncDrift: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "resync_drift_total",
			Help: "Tags found out of step with the registry, by kind (missing, stale, removed)."}, []string{"registry", "kind"}),
		resyncFixed: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "resync_fixed_total",
			Help: "Drifted tags queued for repair by reconciliation."}, []string{"registry"}),
		resyncRefused: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "resync_deletes_refused_total",
			Help: "Resync passes that removed none of one image stream's tags because they would have removed more than deleteTagsMaxShare of them."}, []string{"registry"}),
		resyncDuration: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: ns, Name: "resync_duration_seconds",
			Help: "Duration of reconciliation runs.", Buckets: prometheus.ExponentialBuckets(0.05, 2.5, 10)}),
		resyncLastEnd: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "resync_last_success_timestamp_seconds",
			Help: "Unix time of the last successful reconciliation."}),
		leader: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "leader",
			Help: "1 when this replica applies events: it consumes the event log (leader, or leader election off)."}),
		eventLogUp: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "event_log_up",
			Help: "1 while the event log takes appends (readiness: every replica takes webhooks then); 0 means webhooks answer 503."}),
		rejectedLogDrop: prometheus.NewCounter(prometheus.CounterOpts{Namespace: ns, Name: "rejected_logs_suppressed_total",
			Help: "Log lines about rejected requests dropped by the rate limiter."}),
		metadataEmpty: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "image_metadata_empty_total",
			Help: "Images mapped with empty dockerImageMetadata because their config does not decode as the API server decodes it."}, []string{"registry"}),
		childFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "child_image_failures_total",
			Help: "Manifest list children whose Image could not be created (createChildImages); the list is mapped anyway."}, []string{"registry"}),
		journalQuarantined: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "journal_quarantined_records",
			Help: "Damaged journal records moved aside to the file journal.log.quarantine (kept for inspection)."}),
		failedEvicted: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "failed_events_evicted",
			Help: "Failed-list entries dropped by its bound since start (oldest first)."}),
		workersStalled: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: ns, Name: "workers_stalled",
			Help: "1 while events wait and no worker has finished one for longer than the stall limit."}),
		clusterUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "cluster_up",
			Help: "1 while the cluster's API server answers (the last call or probe got an answer below 500), 0 otherwise."}, []string{"cluster"}),
		tagsDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "tags_deleted_total",
			Help: "Image stream tags deleted because their registry tag was deleted (deleteTags)."}, []string{"registry", "cluster"}),
		derivedTags: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Name: "derived_tags_total",
			Help: "Roll-up tags (derivedTags: v1.2, v1, latest) moved to their line's highest release, deleted with their line, or left out at maxTagsPerStream, by result."}, []string{"registry", "cluster", "result"}),
	}
	buildInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "build_info",
		Help: "Build information; the value is always 1."}, []string{"version", "goversion"})
	buildInfo.WithLabelValues(version, runtime.Version()).Set(1)
	registryInfo := prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Name: "registry_info",
		Help: "Configured registries and the sender that posts their notifications; the value is always 1."}, []string{"registry", "sender"})
	for _, r := range labels.Registries {
		registryInfo.WithLabelValues(r, labels.Senders[r]).Set(1)
	}
	for _, c := range []prometheus.Collector{
		m.notifications, m.events, m.skipped, m.mappings, m.failures, m.retries, m.queueDepth, m.queueCapacity,
		m.journalBytes, m.failedEvents, m.ackDuration, m.pushToMapped, m.fetchDuration, m.apiDuration,
		m.cacheRequests, m.resyncRuns, m.resyncDrift, m.resyncFixed, m.resyncRefused, m.resyncDuration, m.resyncLastEnd,
		m.leader, m.eventLogUp, m.rejectedLogDrop, m.metadataEmpty, m.childFailures, m.workersStalled,
		m.journalQuarantined, m.failedEvicted, m.clusterUp, m.tagsDeleted, m.derivedTags, buildInfo, registryInfo,
	} {
		f(c)
	}
	// Standard names (go_*, process_*), as the usual Go and process dashboards and alerts expect.
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.precreate()
	return m
}

func (m *Metrics) precreate() {
	clusters := m.labels.Clusters
	if len(clusters) == 0 {
		clusters = []string{"default"}
	}
	for _, r := range m.labels.Registries {
		targets, ok := m.labels.Targets[r]
		if !ok {
			targets = clusters
		}
		for _, cl := range targets {
			for _, res := range []string{"mapped", "failed"} {
				m.mappings.WithLabelValues(r, cl, res)
			}
			for _, f := range m.labels.FailureReasons {
				m.failures.WithLabelValues(r, cl, f)
			}
			m.pushToMapped.WithLabelValues(r, cl)
			m.tagsDeleted.WithLabelValues(r, cl)
			for _, res := range m.labels.DerivedResults {
				m.derivedTags.WithLabelValues(r, cl, res)
			}
		}
		for _, c := range Codes {
			m.notifications.WithLabelValues(r, c)
		}
		for _, a := range Actions {
			for _, o := range EventOutcomes {
				m.events.WithLabelValues(r, a, o)
			}
		}
		for _, s := range m.labels.SkipReasons {
			m.skipped.WithLabelValues(r, s)
		}
		for _, s := range FetchStages {
			for _, res := range []string{"ok", "error"} {
				m.fetchDuration.WithLabelValues(r, s, res)
			}
		}
		for _, res := range []string{"hit", "miss"} {
			m.cacheRequests.WithLabelValues(r, res)
		}
		for _, k := range DriftKinds {
			m.resyncDrift.WithLabelValues(r, k)
		}
		m.resyncFixed.WithLabelValues(r)
		m.resyncRefused.WithLabelValues(r)
		m.metadataEmpty.WithLabelValues(r)
		m.childFailures.WithLabelValues(r)
		m.ackDuration.WithLabelValues(r)
	}
	for _, s := range m.labels.Stages {
		for _, r := range m.labels.RetryReasons {
			m.retries.WithLabelValues(s, r)
		}
	}
	for _, cl := range clusters {
		for _, op := range APIOperations {
			for _, cc := range []string{"2xx", "4xx", "5xx", "error"} {
				m.apiDuration.WithLabelValues(cl, op, cc)
			}
		}
		m.clusterUp.WithLabelValues(cl)
	}
	for _, r := range []string{"success", "error"} {
		m.resyncRuns.WithLabelValues(r)
	}
}

// Handler serves the metrics of g in the Prometheus text format.
func Handler(g prometheus.Gatherer) http.Handler {
	return promhttp.HandlerFor(g, promhttp.HandlerOpts{})
}
