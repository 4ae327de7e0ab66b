package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/event"
	"github.com/imagestream-bridge/imagestream-bridge/eventlog"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
	"github.com/imagestream-bridge/imagestream-bridge/openshift"
	"github.com/imagestream-bridge/imagestream-bridge/registry"
	"github.com/imagestream-bridge/imagestream-bridge/webhook"
)

// instance is an assembled bridge: the domain and what it works with. serve
// adds the webhook (newWebhook); resync runs the domain alone.
type instance struct {
	cfg     *config.Config
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics.Metrics
	rest    *rest.Config // the default cluster's: leader election runs there
	// apis has one image API client per cluster; health tracks them.
	apis   map[string]*openshift.API
	health *clusterHealth
	events *eventlog.Log
	bridge *bridge.Bridge
}

// logMode says which event log build opens.
type logMode int

const (
	// configuredLog is cfg.NATS: the embedded server on dataDir, or the cluster.
	configuredLog logMode = iota
	// privateLog is an embedded server in memory, whatever the config says: a
	// one-shot command never consumes the log of a running serve.
	privateLog
)

// build assembles the domain from cfg. Close releases the event log.
func build(ctx context.Context, cfg *config.Config, log *slog.Logger, mode logMode) (*instance, error) {
	reg := prometheus.NewRegistry()
	names := make([]string, 0, len(cfg.Registries))
	senders := map[string]string{}
	for _, r := range cfg.Registries {
		names = append(names, r.Name)
		senders[r.Name] = r.Sender
	}
	clusters := cfg.Clusters()
	clusterNames := make([]string, 0, len(clusters))
	for _, cl := range clusters {
		clusterNames = append(clusterNames, cl.Name)
	}
	targets := map[string][]string{}
	for _, r := range cfg.Registries {
		targets[r.Name] = r.Targets(clusters)
	}
	m := metrics.New(reg, Version, metrics.Labels{
		Registries: names, Clusters: clusterNames, Targets: targets, Senders: senders,
		SkipReasons: bridge.SkipReasons(), FailureReasons: bridge.FailureReasons(),
		RetryReasons: bridge.RetryReasons(), Stages: bridge.Stages(), DerivedResults: bridge.DerivedResults(),
	})
	health := newClusterHealth(log, m)
	// One client per cluster, each with its own rate limit, connections and timeout.
	apis := map[string]*openshift.API{}
	others := map[string]bridge.ImageAPI{}
	var rc *rest.Config
	for _, cl := range clusters {
		crc, err := openshift.RESTConfig(openshiftOptions(cl.OpenShift))
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", cl.Name, err)
		}
		name := cl.Name
		api, err := openshift.NewAPI(crc, func(op string, code int, d time.Duration) {
			m.APICall(name, op, code, d)
			health.observe(name, code)
		})
		if err != nil {
			return nil, fmt.Errorf("cluster %s: %w", cl.Name, err)
		}
		apis[name] = api
		if name == config.DefaultCluster {
			rc = crc
		} else {
			others[name] = api
		}
	}
	fetchers := map[string]bridge.Fetcher{}
	for _, r := range cfg.Registries {
		name := r.Name
		client, err := registry.New(registryConfig(r), registry.Options{
			Conns:       cfg.Workers,
			Observe:     func(stage string, d time.Duration, err error) { m.Fetch(name, stage, d, err) },
			CacheResult: func(result string) { m.Cache(name, result) },
			Log:         log,
		})
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", name, err)
		}
		fetchers[name] = client
	}
	events, err := openLog(ctx, cfg, log, mode)
	if err != nil {
		return nil, err
	}
	b, err := bridge.New(cfg, bridge.Deps{API: apis[config.DefaultCluster], Clusters: others, Fetchers: fetchers,
		Events: events, Observer: m, Log: log})
	if err != nil {
		events.Close()
		return nil, err
	}
	return &instance{cfg: cfg, log: log, reg: reg, metrics: m, rest: rc, apis: apis, health: health,
		events: events, bridge: b}, nil
}

// openLog opens the event log cfg.NATS configures (or a private one) and
// imports a journal an older version left in dataDir.
func openLog(ctx context.Context, cfg *config.Config, log *slog.Logger, mode logMode) (*eventlog.Log, error) {
	o := eventlog.Options{Stream: cfg.NATS.Stream, MaxPending: cfg.QueueSize, Logger: log}
	// The fairness groups of the queue, each with its own window in the log.
	for _, r := range cfg.Registries {
		for _, cl := range r.Targets(cfg.Clusters()) {
			o.Groups = append(o.Groups, eventlog.Group{Registry: r.Name, Cluster: cl})
		}
	}
	if mode == privateLog {
		o.Stream = ""
	} else if cfg.NATS.Embedded() {
		o.DataDir = cfg.DataDir
	} else {
		url, err := cfg.NATS.ServerURL()
		if err != nil {
			return nil, err
		}
		o.URL, o.Replicas, o.CredsFile = url, cfg.NATS.Replicas, cfg.NATS.CredsFile
		o.CAFile, o.CertFile, o.KeyFile = cfg.NATS.TLS.CAFile, cfg.NATS.TLS.CertFile, cfg.NATS.TLS.KeyFile
	}
	events, err := eventlog.Open(ctx, o)
	if err != nil {
		return nil, err
	}
	if mode == configuredLog && cfg.DataDir != "" {
		if _, _, err := events.Import(ctx, cfg.DataDir); err != nil {
			events.Close()
			return nil, err
		}
	}
	return events, nil
}

// Close releases the event log.
func (in *instance) Close() error { return in.events.Close() }

// newWebhook builds the HTTP face in front of the domain.
func (in *instance) newWebhook() (*webhook.Server, error) {
	return webhook.New(in.cfg, domain{in.bridge}, in.metrics, metrics.Handler(in.reg), in.log)
}

func openshiftOptions(c config.OpenShift) openshift.Options {
	return openshift.Options{Kubeconfig: c.Kubeconfig, QPS: c.QPS, Burst: c.Burst, Timeout: c.Timeout.Duration}
}

func registryConfig(r config.Registry) registry.Config {
	return registry.Config{
		URL: r.URL, CAFile: r.CAFile, InsecureSkipTLSVerify: r.InsecureSkipTLSVerify,
		RedirectHosts: r.RedirectHosts, TokenHosts: r.TokenHosts,
		Username: r.Username, Password: r.Password, PasswordFile: r.PasswordFile,
		DockerConfigFile: r.DockerConfigFile, Repositories: r.Repositories, FetchTimeout: r.FetchTimeout.Duration,
		Sender: senderKind(r.Sender),
	}
}

// senderKind is the registry's validated sender (config.Validate refused any other).
func senderKind(s string) event.Sender {
	k, err := event.ParseSender(s)
	if err != nil {
		return event.Distribution
	}
	return k
}

// domain is the bridge as the webhook sees it.
type domain struct{ *bridge.Bridge }

func (d domain) Accept(ctx context.Context, registry string, evs []event.Event) ([]bool, error) {
	skips, err := d.Bridge.Accept(ctx, registry, evs)
	queued := make([]bool, len(skips))
	for i, s := range skips {
		queued[i] = s == ""
	}
	switch {
	case errors.Is(err, bridge.ErrQueueFull):
		err = &webhook.Error{Kind: webhook.KindQueueFull, Message: err.Error(), RetryAfter: time.Second}
	case errors.Is(err, bridge.ErrLogUnavailable):
		err = &webhook.Error{Kind: webhook.KindUnavailable, Message: err.Error(), RetryAfter: eventlog.RetryAfter}
	}
	return queued, err
}

func (d domain) Failed() ([]webhook.FailedEvent, error) {
	list, err := d.Bridge.Failed(context.Background())
	if err != nil {
		return nil, err
	}
	out := make([]webhook.FailedEvent, len(list))
	for i, f := range list {
		out[i] = failedEvent(f)
	}
	return out, nil
}

// failedEvent is the admin endpoint's view of a failed job: the same JSON
// (TestFailedEventIsTheFailedJob).
func failedEvent(f bridge.FailedJob) webhook.FailedEvent {
	return webhook.FailedEvent{
		Seq: f.Seq, ID: f.ID, Registry: f.Registry, Repository: f.Repository, Namespace: f.Namespace,
		Stream: f.Stream, Tag: f.Tag, Digest: f.Digest, PushedAt: f.PushedAt, Source: f.Source,
		Cluster: f.Cluster, Action: f.Action, Verify: f.Verify,
		Reason: f.Reason, Message: f.Message, FailedAt: f.FailedAt,
	}
}

func (d domain) Replay(seqs []uint64) (int, error) {
	return d.Bridge.Replay(context.Background(), seqs)
}

func (d domain) Drop(seqs []uint64) (int, error) { return d.Bridge.Drop(context.Background(), seqs) }
