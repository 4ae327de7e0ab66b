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
	"github.com/imagestream-bridge/imagestream-bridge/journal"
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
	store  journal.Store
	bridge *bridge.Bridge
}

// build assembles the domain from cfg. Close releases the journal.
func build(cfg *config.Config, log *slog.Logger) (*instance, error) {
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
		RetryReasons: bridge.RetryReasons(), Stages: bridge.Stages(),
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
		})
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", name, err)
		}
		fetchers[name] = client
	}
	var store journal.Store = journal.NewMemory()
	if cfg.DataDir != "" {
		var err error
		if store, err = journal.Open(cfg.DataDir, journal.WithLogger(log)); err != nil {
			return nil, err
		}
	}
	b, err := bridge.New(cfg, bridge.Deps{API: apis[config.DefaultCluster], Clusters: others, Fetchers: fetchers,
		Store: store, Observer: m, Log: log})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &instance{cfg: cfg, log: log, reg: reg, metrics: m, rest: rc, apis: apis, health: health,
		store: store, bridge: b}, nil
}

// Close releases the journal.
func (in *instance) Close() error { return in.store.Close() }

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
	}
}

// domain is the bridge as the webhook sees it.
type domain struct{ *bridge.Bridge }

func (d domain) Accept(ctx context.Context, registry string, evs []event.Event) ([]bool, error) {
	skips, err := d.Bridge.Accept(ctx, registry, evs)
	queued := make([]bool, len(skips))
	for i, s := range skips {
		queued[i] = s == ""
	}
	if errors.Is(err, bridge.ErrQueueFull) {
		err = &webhook.Error{Kind: webhook.KindQueueFull, Message: err.Error(), RetryAfter: time.Second}
	}
	return queued, err
}

func (d domain) Failed() (any, error) {
	list, err := d.Bridge.Failed()
	if list == nil {
		list = []journal.Failed{}
	}
	return list, err
}
