package bridge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
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
func (c *counts) Derived(r, cl, result string)               { c.add("derived %s %s", at(r, cl), result) }
func (c *counts) Retried(stage, reason string)               { c.add("retried %s %s", stage, reason) }
func (c *counts) FailedEvents(n int)                         { c.add("failed_events %d", n) }
func (c *counts) MetadataEmpty(r string)                     { c.add("metadata_empty %s", r) }
func (c *counts) ChildFailed(r string)                       { c.add("child_failed %s", r) }
func (c *counts) QueueCapacity(int)                          {}
func (c *counts) ResyncRun(time.Duration, error)             {}
func (c *counts) ResyncDrift(r, kind string)                 { c.add("drift %s %s", r, kind) }
func (c *counts) ResyncFixed(r string)                       { c.add("fixed %s", r) }
func (c *counts) ResyncDeletesRefused(r string)              { c.add("refused %s", r) }

// newTestBridge builds a Bridge from YAML over a memLog, with a stuckFetcher
// for every configured registry and no API server behind api.
func newTestBridge(t *testing.T, yaml string, api ImageAPI) (*Bridge, *counts, *memLog) {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	fetchers := map[string]Fetcher{}
	for _, r := range cfg.Registries {
		fetchers[r.Name] = stuckFetcher{}
	}
	obs, store := &counts{}, &memLog{max: cfg.QueueSize, pending: map[uint64]*Job{}}
	others := map[string]ImageAPI{}
	for _, cl := range cfg.OtherClusters {
		others[cl.Name] = api
	}
	b, err := New(cfg, Deps{API: api, Clusters: others, Fetchers: fetchers, Events: store, Observer: obs,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b, obs, store
}

// stuckFetcher is the Fetcher of the unit tests: a registry that never
// answers, so every call waits for its context to end. Package registry
// implements Fetcher and imports this package, so its client cannot be used
// here; it is tested against real registries there and end to end in e2e.
type stuckFetcher struct{}

func (stuckFetcher) Fetch(ctx context.Context, _, _ string, _ func(string) bool) (*Content, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("fetch: %w", ctx.Err())
}

func (stuckFetcher) Resolve(ctx context.Context, _, _ string) (string, error) {
	<-ctx.Done()
	return "", fmt.Errorf("resolve: %w", ctx.Err())
}

func (stuckFetcher) TagGone(ctx context.Context, _, _ string) (bool, error) {
	<-ctx.Done()
	return false, fmt.Errorf("look up tag: %w", ctx.Err())
}

func (stuckFetcher) RepositoryPages(ctx context.Context, _ func([]string) error) error {
	<-ctx.Done()
	return fmt.Errorf("list catalog: %w", ctx.Err())
}

func (stuckFetcher) TagDigests(ctx context.Context, _ string) (map[string]string, bool, error) {
	<-ctx.Done()
	return nil, false, fmt.Errorf("list tags: %w", ctx.Err())
}

func (stuckFetcher) Tags(ctx context.Context, _ string) ([]string, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("list tags: %w", ctx.Err())
}

// memLog is the Log of the unit tests: jobs in memory, bounded by
// queueSize like the real log (package eventlog, tested on a real nats-server
// there and end to end in app and e2e), delivered to Consume in order.
type memLog struct {
	mu       sync.Mutex
	max      int
	seq      uint64
	appended []*Job
	pending  map[uint64]*Job
	failed   []FailedJob
	deliver  func(*Job)
	// listed counts FailedList calls.
	listed int
}

func (l *memLog) Append(_ context.Context, jobs []*Job) error {
	l.mu.Lock()
	if len(l.pending)+len(jobs) > l.max {
		l.mu.Unlock()
		return fmt.Errorf("append: %w", ErrQueueFull)
	}
	for _, j := range jobs {
		l.seq++
		j.Seq = l.seq
		l.pending[j.Seq] = j
	}
	l.appended = append(l.appended, jobs...)
	deliver := l.deliver
	l.mu.Unlock()
	if deliver != nil {
		for _, j := range jobs {
			c := *j
			deliver(&c)
		}
	}
	return nil
}

func (l *memLog) Consume(ctx context.Context, deliver func(*Job)) error {
	l.mu.Lock()
	l.deliver = deliver
	var backlog []*Job
	for _, j := range l.appended {
		if _, ok := l.pending[j.Seq]; ok {
			backlog = append(backlog, j)
		}
	}
	l.mu.Unlock()
	for _, j := range backlog {
		c := *j
		deliver(&c)
	}
	<-ctx.Done()
	l.mu.Lock()
	l.deliver = nil
	l.mu.Unlock()
	return nil
}

func (l *memLog) Pending(context.Context) (uint64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return uint64(len(l.pending)), nil
}

func (l *memLog) Done(seq uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pending, seq)
	return nil
}

func (l *memLog) Fail(_ context.Context, f FailedJob) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.pending, f.Seq)
	l.failed = append(l.failed, f)
	return nil
}

func (l *memLog) FailedCount(context.Context) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failed), nil
}

func (l *memLog) FailedList(context.Context) ([]FailedJob, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.listed++
	return slices.Clone(l.failed), nil
}

func (l *memLog) Replay(ctx context.Context, _ []uint64) ([]*Job, error) {
	l.mu.Lock()
	list := l.failed
	l.failed = nil
	l.mu.Unlock()
	jobs := make([]*Job, len(list))
	for i, f := range list {
		j := f.Job
		j.Source, j.Verify = "replay", true
		jobs[i] = &j
	}
	return jobs, l.Append(ctx, jobs)
}

func (l *memLog) Drop(context.Context, []uint64) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.failed)
	l.failed = nil
	return n, nil
}

func (l *memLog) Durable() bool { return false }

func (l *memLog) waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.pending)
}
