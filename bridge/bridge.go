// Package bridge turns registry push notifications into OpenShift
// ImageStreamMappings.
//
// The path of one event: the webhook (intake.go) authenticates the sender,
// decodes the envelope, keeps tagged manifest pushes and routes the repository
// to a namespace and image stream (route.go); the event is journaled and
// acknowledged; the pipeline (pipeline.go) applies it in tag order: fetch by
// digest from the configured registry, build the mapping (package mapping),
// and post it to the API server (openshift.go), creating the stream when it is
// missing. classify.go decides what is retried. resync.go repairs what never
// arrived.
package bridge

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"time"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
	"github.com/imagestream-bridge/imagestream-bridge/registry"
)

// Bridge applies jobs: fetch, build, post.
type Bridge struct {
	cfg        *config.Config
	log        *slog.Logger
	metrics    *metrics.Metrics
	api        *API
	registries map[string]*source
	order      []string
	store      journal.Store
	pipeline   *Pipeline
	now        func() time.Time
	// stallLimit is how long workers may finish nothing while events wait before readiness fails.
	stallLimit time.Duration
}

// source is one configured registry.
type source struct {
	cfg    config.Registry
	client *registry.Client
	token  *tokenSource
	router router
	// clientCAs, when set, must have signed the sender's client certificate.
	clientCAs *x509.CertPool
}

// New wires a Bridge. The store's pending jobs are scheduled when Start runs.
func New(cfg *config.Config, api *API, store journal.Store, m *metrics.Metrics, log *slog.Logger) (*Bridge, error) {
	b := &Bridge{cfg: cfg, log: log, metrics: m, api: api, store: store, registries: map[string]*source{}, now: time.Now,
		stallLimit: stallLimit(cfg)}
	for _, rc := range cfg.Registries {
		name := rc.Name
		client, err := registry.New(rc, registry.Options{
			Conns: cfg.Workers,
			Observe: func(stage string, d time.Duration, err error) {
				res := "ok"
				if err != nil {
					res = "error"
				}
				m.FetchDuration.WithLabelValues(name, stage, res).Observe(d.Seconds())
			},
			CacheResult: func(r string) { m.CacheRequests.WithLabelValues(name, r).Inc() },
		})
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", rc.Name, err)
		}
		tok, err := newTokenSource(rc.WebhookToken, rc.WebhookTokenFile)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", rc.Name, err)
		}
		src := &source{cfg: rc, client: client, token: tok, router: router{mapping: rc.Mapping, allowed: rc.Namespaces}}
		if rc.ClientCAFile != "" {
			if src.clientCAs, err = loadPool(rc.ClientCAFile); err != nil {
				return nil, fmt.Errorf("registry %s: %w", rc.Name, err)
			}
		}
		b.registries[rc.Name] = src
		b.order = append(b.order, rc.Name)
	}
	pending, err := store.Pending()
	if err != nil {
		return nil, err
	}
	b.pipeline = NewPipeline(PipelineOptions{
		Store: store, Apply: b.apply, Classify: classify, Report: b.report,
		Workers: cfg.Workers, Capacity: cfg.QueueSize, Registries: b.order,
		Initial: cfg.Retry.InitialBackoff.Duration, Max: cfg.Retry.MaxBackoff.Duration,
	})
	if len(pending) > 0 {
		for _, j := range pending {
			j.Verify = true
		}
		log.Info("journal replay", "pending", len(pending))
		b.pipeline.PushBacklog(pending)
	}
	m.QueueCapacity.Set(float64(cfg.QueueSize))
	b.countFailed()
	return b, nil
}

// Start runs the pipeline's workers until ctx ends.
func (b *Bridge) Start(ctx context.Context) { b.pipeline.Start(ctx) }

// Stalled reports whether events wait while no worker has finished one for
// longer than the stall limit: every fetch and API call has a deadline, so
// healthy workers always finish or park a job well within it.
func (b *Bridge) Stalled() (bool, time.Duration) {
	return b.pipeline.Stalled(b.stallLimit)
}

// stallLimit is far above the longest a healthy job takes: a tag lookup and a
// fetch (fetchTimeout each) and three API calls (openshift.timeout each).
func stallLimit(cfg *config.Config) time.Duration {
	var fetch time.Duration
	for _, r := range cfg.Registries {
		fetch = max(fetch, r.FetchTimeout.Duration)
	}
	return max(2*time.Minute, 4*(2*fetch+3*cfg.OpenShift.Timeout.Duration))
}

// Pipeline exposes the queue (for shutdown and one-shot commands).
func (b *Bridge) Pipeline() *Pipeline { return b.pipeline }

// apply performs one job.
func (b *Bridge) apply(ctx context.Context, j *journal.Job) error {
	src, ok := b.registries[j.Registry]
	if !ok {
		return fmt.Errorf("%w: registry %q is no longer configured", registry.ErrInvalidName, j.Registry)
	}
	if j.Verify && !b.pipeline.hasLater(j) {
		// A push may have moved the tag on since this job was planned or journaled:
		// applying it now would move the tag back.
		now, err := src.client.Resolve(ctx, j.Repository, j.Tag)
		if registry.StatusCode(err) == http.StatusNotFound {
			return errSkipStale
		}
		if err != nil {
			return inStage("fetch", err)
		}
		if now != j.Digest {
			return errSkipStale
		}
	}
	content, err := src.client.Fetch(ctx, j.Repository, j.Digest, mapping.IsImageManifest)
	if err != nil {
		return inStage("fetch", err)
	}
	if kind := mapping.Artifact(content.MediaType, content.Manifest, content.Config); kind != "" && src.cfg.Artifacts != config.ArtifactsMap {
		return &skipError{reason: "artifact", detail: "OCI artifact (" + kind + "): skipped with artifacts: skip"}
	}
	ism, err := b.build(src, j, j.Digest, content)
	if err != nil {
		return err
	}
	if b.cfg.OpenShift.CreateChildImages && mapping.IsList(ism.Image.DockerImageManifestMediaType) {
		b.createChildren(ctx, src, j, ism)
	}
	err = b.api.CreateMapping(ctx, ism)
	if err != nil && streamMissing(err) && b.cfg.OpenShift.CreateStreams() {
		b.metrics.Retries.WithLabelValues("api", "stream_created").Inc()
		if err := b.api.CreateStream(ctx, j.Namespace, j.Stream); err != nil {
			return inStage("api", err)
		}
		b.log.Info("image stream created", "namespace", j.Namespace, "stream", j.Stream)
		err = b.api.CreateMapping(ctx, ism)
	}
	return inStage("api", err)
}

// build builds the mapping of digest for j's tag. A config the API server
// cannot decode is mapped with empty metadata, as the server stores it.
func (b *Bridge) build(src *source, j *journal.Job, digest string, content *registry.Content) (*imagev1.ImageStreamMapping, error) {
	ism, warn, err := mapping.Build(mapping.Input{
		Namespace: j.Namespace, Stream: j.Stream, Tag: j.Tag, Repository: j.Repository,
		ReferenceHost: src.cfg.ReferenceHost, Digest: digest, MediaType: content.MediaType,
		Manifest: content.Manifest, Config: content.Config,
		Managed: b.cfg.OpenShift.ManagedImages, Now: b.now,
	})
	if err != nil {
		return nil, err
	}
	if warn != nil {
		b.metrics.MetadataEmpty.WithLabelValues(j.Registry).Inc()
		b.log.Warn("image mapped with empty metadata, as OpenShift stores it", "registry", j.Registry,
			"repository", j.Repository, "digest", digest, "reason", warn.Error())
	}
	return ism, nil
}

// createChildren creates the Image of each child of a list, as OpenShift's
// PreserveOriginal import does, so every platform can be pulled by digest.
// OpenShift never checks children when a list is pushed, so a child that
// cannot be fetched, built or created is reported and the list is mapped anyway.
func (b *Bridge) createChildren(ctx context.Context, src *source, j *journal.Job, list *imagev1.ImageStreamMapping) {
	for _, child := range list.Image.DockerImageManifests {
		err := b.createChild(ctx, src, j, child.Digest)
		if err == nil {
			continue
		}
		b.metrics.ChildFailures.WithLabelValues(j.Registry).Inc()
		b.log.Warn("child image not created; the list is mapped anyway", "registry", j.Registry,
			"repository", j.Repository, "digest", j.Digest, "child", child.Digest, "reason", classify(err).Reason,
			"error", err.Error())
	}
}

func (b *Bridge) createChild(ctx context.Context, src *source, j *journal.Job, digest string) error {
	content, err := src.client.Fetch(ctx, j.Repository, digest, mapping.IsImageManifest)
	if err != nil {
		return inStage("fetch", err)
	}
	m, err := b.build(src, j, digest, content)
	if err != nil {
		return err
	}
	return inStage("api", b.api.CreateImage(ctx, &m.Image))
}

// report logs one line per event outcome and counts it.
func (b *Bridge) report(j *journal.Job, o Outcome, attempts int, d time.Duration) {
	attrs := []any{"event", j.ID, "registry", j.Registry, "repository", j.Repository, "namespace", j.Namespace,
		"stream", j.Stream, "tag", j.Tag, "digest", j.Digest, "source", j.Source, "attempts", attempts,
		"duration_ms", strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64)}
	switch {
	case o.Retry:
		b.metrics.Retries.WithLabelValues(o.Stage, o.Reason).Inc()
		b.log.Warn("event retry", append(attrs, "outcome", "retry", "reason", o.Reason, "error", errString(o.Err))...)
	case o.Permanent:
		b.metrics.Mappings.WithLabelValues(j.Registry, "failed").Inc()
		b.metrics.Failures.WithLabelValues(j.Registry, o.Reason).Inc()
		b.countFailed()
		b.log.Error("event failed", append(attrs, "outcome", "failed", "reason", o.Reason, "error", errString(o.Err))...)
	case o.Skip != "":
		b.metrics.Skipped.WithLabelValues(j.Registry, o.Skip).Inc()
		b.log.Info("event skipped", append(attrs, "outcome", "skipped", "reason", o.Skip, "detail", errString(o.Err))...)
	default:
		b.metrics.Mappings.WithLabelValues(j.Registry, "mapped").Inc()
		if !j.PushedAt.IsZero() && j.Source == "notification" {
			b.metrics.PushToMapped.WithLabelValues(j.Registry).Observe(b.now().Sub(j.PushedAt).Seconds())
		}
		b.log.Info("event mapped", append(attrs, "outcome", "mapped")...)
	}
}

// Enqueue journals jobs and schedules them; false means the queue is full.
func (b *Bridge) Enqueue(ctx context.Context, jobs []*journal.Job) (bool, error) {
	if len(jobs) == 0 {
		return true, nil
	}
	if !b.pipeline.Reserve(len(jobs)) {
		return false, nil
	}
	if err := b.store.Append(ctx, jobs); err != nil {
		b.pipeline.Release(len(jobs))
		return true, err
	}
	b.pipeline.Push(jobs...)
	return true, nil
}

// Drop removes failed events (all when seqs is empty) without replaying them.
func (b *Bridge) Drop(seqs []uint64) (int, error) {
	n, err := b.store.Drop(seqs)
	if err != nil {
		return n, err
	}
	b.countFailed()
	return n, nil
}

// countFailed sets the failed-events gauge from the store, which keeps one
// entry per tag and digest and bounds the list.
func (b *Bridge) countFailed() {
	if list, err := b.store.FailedList(); err == nil {
		b.metrics.FailedEvents.Set(float64(len(list)))
	}
}

// Failed lists the failed events.
func (b *Bridge) Failed() ([]journal.Failed, error) { return b.store.FailedList() }

// Replay moves failed events (all when seqs is empty) back into the queue.
func (b *Bridge) Replay(seqs []uint64) (int, error) {
	jobs, err := b.store.Replay(seqs)
	if err != nil {
		return 0, err
	}
	for _, j := range jobs {
		// A replayed event is old news: it applies only while its tag still points at it.
		j.Verify, j.Source = true, "replay"
	}
	b.pipeline.PushBacklog(jobs)
	b.countFailed()
	return len(jobs), nil
}

// loadPool reads PEM certificates into a pool.
func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read CA file %s: no certificates found", file)
	}
	return pool, nil
}
