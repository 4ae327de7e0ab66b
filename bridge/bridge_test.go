package bridge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/registry"
)

// counts is an Observer that counts what it is told, by method and arguments.
type counts struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counts) add(format string, a ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[fmt.Sprintf(format, a...)]++
}

func (c *counts) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func (c *counts) Skipped(r, reason string) { c.add("skipped %s %s", r, reason) }

// at names a registry in a cluster: the registry alone for the default cluster, REGISTRY@CLUSTER otherwise.
func at(r, cluster string) string {
	if cluster == config.DefaultCluster {
		return r
	}
	return r + "@" + cluster
}

func (c *counts) Mapped(r, cl string)                        { c.add("mapped %s", at(r, cl)) }
func (c *counts) PushToMapped(r, cl string, _ time.Duration) { c.add("push_to_mapped %s", at(r, cl)) }
func (c *counts) Failed(r, cl, reason string)                { c.add("failed %s %s", at(r, cl), reason) }
func (c *counts) TagDeleted(r, cl string)                    { c.add("deleted %s", at(r, cl)) }
func (c *counts) Retried(stage, reason string)               { c.add("retried %s %s", stage, reason) }
func (c *counts) FailedEvents(int)                           {}
func (c *counts) MetadataEmpty(r string)                     { c.add("metadata_empty %s", r) }
func (c *counts) ChildFailed(r string)                       { c.add("child_failed %s", r) }
func (c *counts) QueueCapacity(int)                          {}
func (c *counts) ResyncRun(time.Duration, error)             {}
func (c *counts) ResyncDrift(r, kind string)                 { c.add("drift %s %s", r, kind) }
func (c *counts) ResyncFixed(r string)                       { c.add("fixed %s", r) }
func (c *counts) ResyncDeletesRefused(r string)              { c.add("refused %s", r) }

// newTestBridge builds a Bridge from YAML over a memory journal, with real
// registry clients for the configured URLs and no API server behind api.
func newTestBridge(t *testing.T, yaml string, api ImageAPI) (*Bridge, *counts, *recorder) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	fetchers := map[string]Fetcher{}
	for _, r := range cfg.Registries {
		c, err := registry.New(registry.Config{URL: r.URL, FetchTimeout: r.FetchTimeout.Duration}, registry.Options{})
		if err != nil {
			t.Fatal(err)
		}
		fetchers[r.Name] = c
	}
	obs, store := &counts{}, &recorder{Store: journal.NewMemory()}
	others := map[string]ImageAPI{}
	for _, cl := range cfg.OtherClusters {
		others[cl.Name] = api
	}
	b, err := New(cfg, Deps{API: api, Clusters: others, Fetchers: fetchers, Store: store, Observer: obs,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b, obs, store
}

// recorder is the memory journal, remembering what was appended (the memory
// journal itself keeps no pending list).
type recorder struct {
	journal.Store
	mu       sync.Mutex
	appended []*journal.Job
}

func (r *recorder) Append(ctx context.Context, jobs []*journal.Job) error {
	r.mu.Lock()
	r.appended = append(r.appended, jobs...)
	r.mu.Unlock()
	return r.Store.Append(ctx, jobs)
}
