package app

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
	"github.com/imagestream-bridge/imagestream-bridge/openshift"
)

// probeInterval is how often each cluster's API server is probed; every
// API call in between reports its outcome too.
const probeInterval = 10 * time.Second

// clusterHealth tracks whether each cluster's API server answers: up after
// an answer below 500, down after a 5xx or no answer. Every change is a
// metric (cluster_up) and a log line. Readiness does not follow a cluster:
// while one is down its events wait in the event log (see watchLog).
type clusterHealth struct {
	log     *slog.Logger
	metrics *metrics.Metrics

	mu sync.Mutex
	up map[string]bool // absent until the first outcome
}

func newClusterHealth(log *slog.Logger, m *metrics.Metrics) *clusterHealth {
	return &clusterHealth{log: log, metrics: m, up: map[string]bool{}}
}

// observe records the outcome of one call to cluster (code 0: no answer).
func (h *clusterHealth) observe(cluster string, code int) {
	up := code != 0 && code < 500
	h.mu.Lock()
	was, known := h.up[cluster]
	h.up[cluster] = up
	h.mu.Unlock()
	if known && was == up {
		return
	}
	h.metrics.ClusterUp(cluster, up)
	switch {
	case up:
		h.log.Info("cluster reachable", "cluster", cluster)
	default:
		h.log.Warn("cluster unreachable: its jobs wait in the event log until it answers", "cluster", cluster, "code", code)
	}
}

// probe asks every cluster at once, now and every probeInterval, until ctx ends.
func (h *clusterHealth) probe(ctx context.Context, clusters []config.Cluster, apis map[string]*openshift.API) {
	t := time.NewTicker(probeInterval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, cl := range clusters {
			api := apis[cl.Name]
			timeout := cl.Timeout.Duration
			if timeout <= 0 {
				timeout = probeInterval
			}
			wg.Go(func() {
				pctx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				_ = api.Probe(pctx) // the outcome reaches observe through the API's observer
			})
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
