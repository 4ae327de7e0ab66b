// Package bridge is the domain: it turns decoded push events into
// ImageStreamMappings.
//
// The path of one event: Accept (accept.go) keeps tagged manifest pushes
// (and, with deleteTags, tag deletions), routes the repository to a namespace
// and image stream (route.go) and appends one job per target cluster to the
// Log (log.go) before the webhook answers. The elected applier consumes the
// log onto per-(cluster, tag) lanes (work.go, package queue); apply (apply.go) fetches by digest from the configured registry, builds the
// mapping (package mapping) and posts it through that cluster's ImageAPI,
// creating the stream when it is missing, or deletes the image stream tag once
// the registry no longer has the tag. classify.go decides what is retried, with the
// closed sets of reasons.go. resync.go repairs what never arrived. Every
// measurement goes to an Observer.
package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/queue"
)

// Bridge accepts events and applies them.
type Bridge struct {
	cfg        *config.Config
	log        *slog.Logger
	obs        Observer
	clusters   map[string]*target
	registries map[string]*source
	order      []string
	events     Log
	q          *queue.Queue[*Job]
	wg         sync.WaitGroup
	// stopConsume ends the log's deliveries (StopConsuming); consumeWG awaits them.
	stopConsume context.CancelFunc
	consumeWG   sync.WaitGroup
	// initial and max bound the backoff of a retried job.
	initial, max time.Duration
	gate         *gate
	now          func() time.Time
	// stallLimit is how long workers may finish nothing while events wait before Stalled says so.
	stallLimit time.Duration
	// resyncApplied and resyncSkipped count the outcomes of resync jobs (ResyncOutcomes).
	resyncApplied, resyncSkipped atomic.Int64
	// draining is set by Drain: every job re-checks its tag before it applies.
	draining atomic.Bool
	// limits serialises the maxTagsPerStream check with its mapping, per stream.
	limits *streamLimits
	// memo shares a built mapping among the clusters of one event.
	memo *builtMemo
	// confirmDelay separates the two verdicts a tag deletion asks the registry for.
	confirmDelay time.Duration
	// applied is what notifications mapped lately, which resync need not ask the registry again.
	applied *appliedTags
	// passes counts resync passes begun (the first is 0), for idle tags (pass.due).
	passes atomic.Int64
	// lastPass is when the previous resync pass began (zero before the first).
	lastPass atomic.Pointer[time.Time]
}

// source is one configured registry.
type source struct {
	cfg    config.Registry
	fetch  Fetcher
	router router
	// filter decides which tags become image stream tags (nil: every tag).
	filter *config.TagFilter
	// targets are the clusters its pushes go to (Registry.Targets), in config order.
	targets []*target
}

// target is one cluster the bridge maps into.
type target struct {
	cfg config.Cluster
	api ImageAPI
}

// Deps are the parts a Bridge works with.
type Deps struct {
	// API is the default cluster's image API.
	API ImageAPI
	// Clusters has the image API of every other configured cluster, by name.
	Clusters map[string]ImageAPI
	// Fetchers has one Fetcher per configured registry name.
	Fetchers map[string]Fetcher
	// Events stores accepted jobs until the applier applies them.
	Events   Log
	Observer Observer
	Log      *slog.Logger
	// DeleteConfirmDelay is how long a tag deletion waits before asking the
	// registry a second time whether the tag is gone. Default 1.5s.
	DeleteConfirmDelay time.Duration
}

// defaultDeleteConfirmDelay is Deps.DeleteConfirmDelay's default.
const defaultDeleteConfirmDelay = 1500 * time.Millisecond

// New wires a Bridge. The log's jobs are applied once Start runs.
func New(cfg *config.Config, d Deps) (*Bridge, error) {
	b := &Bridge{cfg: cfg, log: d.Log, obs: d.Observer, events: d.Events, clusters: map[string]*target{},
		registries: map[string]*source{}, now: time.Now, stallLimit: stallLimit(cfg),
		confirmDelay: d.DeleteConfirmDelay, applied: newAppliedTags(), memo: newBuiltMemo(), limits: newStreamLimits(),
		initial: cfg.Retry.InitialBackoff.Duration, max: cfg.Retry.MaxBackoff.Duration}
	if b.confirmDelay <= 0 {
		b.confirmDelay = defaultDeleteConfirmDelay
	}
	all := cfg.Clusters()
	for _, cl := range all {
		api, ok := d.API, true
		if cl.Name != config.DefaultCluster {
			api, ok = d.Clusters[cl.Name]
		}
		if !ok {
			return nil, fmt.Errorf("cluster %s: no image API", cl.Name)
		}
		b.clusters[cl.Name] = &target{cfg: cl, api: api}
	}
	var groups []string
	byCluster := map[string][]string{}
	for _, rc := range cfg.Registries {
		f, ok := d.Fetchers[rc.Name]
		if !ok {
			return nil, fmt.Errorf("registry %s: no fetcher", rc.Name)
		}
		filter, err := rc.Tags.Filter()
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", rc.Name, err)
		}
		src := &source{cfg: rc, fetch: f, router: router{mapping: rc.Mapping, allowed: rc.Namespaces}, filter: filter}
		for _, name := range rc.Targets(all) {
			src.targets = append(src.targets, b.clusters[name])
			groups = append(groups, group(rc.Name, name))
			byCluster[name] = append(byCluster[name], group(rc.Name, name))
		}
		b.registries[rc.Name] = src
		b.order = append(b.order, rc.Name)
	}
	b.q = newQueue(cfg.Workers, cfg.QueueSize, groups)
	b.gate = &gate{log: b.log, pause: b.q.Pause, groups: byCluster, down: map[string]bool{},
		initial: cfg.Retry.InitialBackoff.Duration, max: cfg.Retry.MaxBackoff.Duration}
	b.obs.QueueCapacity(cfg.QueueSize)
	b.failedChanged()
	return b, nil
}

// Drain marks the jobs still queued at shutdown as possibly stale: from now on
// every job re-checks, right before it applies, that its tag still points at
// its digest. A replacement process may already take and apply newer events
// of the same tags (an in-memory log is worked off by the stopping process
// while the next one runs), and an older event applied after a newer one
// would move the tag back.
func (b *Bridge) Drain() { b.draining.Store(true) }

// Depth is the number of jobs in the applier's memory: its windows of the
// log and the resync's repairs.
func (b *Bridge) Depth() int { return b.q.Len() }

// Waiting is the number of accepted events not yet applied: the log's
// unfinished jobs (in the windows or still in the stream) and the resync's
// repairs; Depth when the log cannot answer.
func (b *Bridge) Waiting(ctx context.Context) int {
	n, err := b.events.Pending(ctx)
	if err != nil {
		return b.Depth()
	}
	return int(n) + b.q.OutsideLen()
}

// Capacity is the most events that may wait before Accept refuses more.
func (b *Bridge) Capacity() int { return b.q.Capacity() }

// Stalled reports whether events wait while no worker has finished one for
// longer than the stall limit: every fetch and API call has a deadline, so
// healthy workers always finish or park a job well within it.
func (b *Bridge) Stalled() (bool, time.Duration) {
	return b.q.Stalled(b.stallLimit)
}

// stallLimit is far above the longest a healthy job takes: a tag lookup and a
// fetch (fetchTimeout each) and three API calls (openshift.timeout each).
func stallLimit(cfg *config.Config) time.Duration {
	var fetch time.Duration
	for _, r := range cfg.Registries {
		fetch = max(fetch, r.FetchTimeout.Duration)
	}
	var api time.Duration
	for _, cl := range cfg.Clusters() {
		api = max(api, cl.Timeout.Duration)
	}
	return max(2*time.Minute, 4*(2*fetch+3*api))
}

// cluster is the target of a job; nil when its cluster is no longer configured.
func (b *Bridge) cluster(j *Job) *target { return b.clusters[j.ClusterName()] }

// Failed lists the failed events.
func (b *Bridge) Failed(ctx context.Context) ([]FailedJob, error) { return b.events.FailedList(ctx) }

// Replay appends failed events (all when seqs is empty) to the log again: the
// applier applies each only while its tag still points at it.
func (b *Bridge) Replay(ctx context.Context, seqs []uint64) (int, error) {
	jobs, err := b.events.Replay(ctx, seqs)
	b.failedChanged()
	return len(jobs), err
}

// Drop removes failed events (all when seqs is empty) without replaying them.
func (b *Bridge) Drop(ctx context.Context, seqs []uint64) (int, error) {
	n, err := b.events.Drop(ctx, seqs)
	b.failedChanged()
	return n, err
}

// failedChanged reports the failed list's length, which the log bounds and
// counts without reading the list.
func (b *Bridge) failedChanged() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if n, err := b.events.FailedCount(ctx); err == nil {
		b.obs.FailedEvents(n)
	}
}
