package bridge

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// catalogFetcher is a registry of fixed repositories and tags that counts
// its tag lookups (HEADs); everything else waits like stuckFetcher.
type catalogFetcher struct {
	stuckFetcher
	tags map[string]map[string]string // repository → tag → digest
	mu   sync.Mutex
	// heads counts Resolve calls, by tag.
	heads map[string]int
}

func (f *catalogFetcher) RepositoryPages(_ context.Context, visit func([]string) error) error {
	return visit(slices.Sorted(maps.Keys(f.tags)))
}

func (f *catalogFetcher) Tags(_ context.Context, repo string) ([]string, error) {
	return slices.Sorted(maps.Keys(f.tags[repo])), nil
}

func (f *catalogFetcher) TagDigests(context.Context, string) (map[string]string, bool, error) {
	return nil, false, nil
}

func (f *catalogFetcher) Resolve(_ context.Context, repo, tag string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.heads[tag]++
	return f.tags[repo][tag], nil
}

// takeHeads returns the HEADs by tag since the last call.
func (f *catalogFetcher) takeHeads() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	h := f.heads
	f.heads = map[string]int{}
	return h
}

// streamsAPI is an image API whose namespace "team" holds streams.
type streamsAPI struct{ streams []imagev1.ImageStream }

func (a *streamsAPI) CreateMapping(context.Context, *imagev1.ImageStreamMapping) error { return nil }
func (a *streamsAPI) CreateStream(context.Context, *imagev1.ImageStream) error         { return nil }
func (a *streamsAPI) CreateImage(context.Context, *imagev1.Image) error                { return nil }
func (a *streamsAPI) DeleteStreamTag(context.Context, string, string, string) error    { return nil }
func (a *streamsAPI) Probe(context.Context) error                                      { return nil }
func (a *streamsAPI) ListStreams(_ context.Context, ns string) ([]imagev1.ImageStream, error) {
	if ns != "team" {
		return nil, nil
	}
	return a.streams, nil
}

func (a *streamsAPI) GetStream(_ context.Context, ns, name string) (*imagev1.ImageStream, error) {
	for i := range a.streams {
		if ns == "team" && a.streams[i].Name == name {
			return &a.streams[i], nil
		}
	}
	return nil, nil
}

// inStep is a stream team/app whose tags point at digests, each last moved at moved.
func inStep(digests map[string]string, moved time.Time) imagev1.ImageStream {
	s := imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "team", Name: "app"}}
	for _, tag := range slices.Sorted(maps.Keys(digests)) {
		s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{
			{Image: digests[tag], Created: metav1.NewTime(moved)}}})
	}
	return s
}

func newResyncBridge(t *testing.T, yaml string, f *catalogFetcher, api ImageAPI) *Bridge {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(cfg, Deps{API: api, Fetchers: map[string]Fetcher{"main": f},
		Events: &memLog{max: cfg.QueueSize, pending: map[uint64]*Job{}}, Observer: &counts{},
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const resyncYAML = "registries: [{name: main, url: 'http://r', webhookToken: t}]\n"

var fiveTags = map[string]string{"v1": "sha256:1", "v2": "sha256:2", "v3": "sha256:3", "v4": "sha256:4", "v5": "sha256:5"}

// TestResyncTrustsTagsMappedFromEvents: a tag a notification mapped since
// the previous pass began needs no HEAD; the others still get one.
func TestResyncTrustsTagsMappedFromEvents(t *testing.T) {
	f := &catalogFetcher{tags: map[string]map[string]string{"team/app": fiveTags}, heads: map[string]int{}}
	b := newResyncBridge(t, resyncYAML, f, &streamsAPI{streams: []imagev1.ImageStream{inStep(fiveTags, time.Now())}})
	if n, err := b.Resync(t.Context(), true, nil); err != nil || n != 0 {
		t.Fatalf("first pass: %d drifted, %v", n, err)
	}
	if h := f.takeHeads(); len(h) != 5 {
		t.Fatalf("first pass HEADs %v, want one per tag", h)
	}
	// The applier maps three tags from notifications.
	for _, tag := range []string{"v1", "v2", "v3"} {
		b.report(&Job{Registry: "main", Repository: "team/app", Namespace: "team", Stream: "app", Tag: tag,
			Digest: fiveTags[tag], Source: "notification"}, Outcome{Result: Mapped}, 1, time.Millisecond)
	}
	if n, err := b.Resync(t.Context(), true, nil); err != nil || n != 0 {
		t.Fatalf("second pass: %d drifted, %v", n, err)
	}
	if h := f.takeHeads(); len(h) != 2 || h["v4"] != 1 || h["v5"] != 1 {
		t.Errorf("second pass HEADs %v, want only v4 and v5 (v1-v3 were mapped from notifications since the last pass)", h)
	}
	// A third pass trusts them no more: they were mapped before the second began.
	if _, err := b.Resync(t.Context(), true, nil); err != nil {
		t.Fatalf("third pass: %v", err)
	}
	if h := f.takeHeads(); len(h) != 5 {
		t.Errorf("third pass HEADs %v, want one per tag", h)
	}
}

// TestResyncChecksIdleTagsLessOften: tags last moved longer ago than
// idleTagAfter are asked for every idleTagEvery passes (the first pass asks
// for all), spread over the passes; a recently moved tag on every pass.
func TestResyncChecksIdleTagsLessOften(t *testing.T) {
	f := &catalogFetcher{tags: map[string]map[string]string{"team/app": fiveTags}, heads: map[string]int{}}
	old := inStep(fiveTags, time.Now().Add(-48*time.Hour))
	old.Status.Tags[4].Items[0].Created = metav1.NewTime(time.Now()) // v5 moved just now
	b := newResyncBridge(t, resyncYAML, f, &streamsAPI{streams: []imagev1.ImageStream{old}})
	if _, err := b.Resync(t.Context(), true, nil); err != nil {
		t.Fatalf("first pass: %v", err)
	}
	if h := f.takeHeads(); len(h) != 5 {
		t.Fatalf("first pass HEADs %v, want one per tag", h)
	}
	total := map[string]int{}
	for pass := 1; pass <= 8; pass++ {
		if _, err := b.Resync(t.Context(), true, nil); err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		h := f.takeHeads()
		if h["v5"] != 1 {
			t.Errorf("pass %d: v5 (moved now) HEADs %d, want 1", pass, h["v5"])
		}
		for tag, n := range h {
			total[tag] += n
		}
	}
	for _, tag := range []string{"v1", "v2", "v3", "v4"} {
		if total[tag] != 2 {
			t.Errorf("idle %s: %d HEADs in 8 passes, want 2 (every 4th pass)", tag, total[tag])
		}
	}
}

// countingAPI lists empty namespaces, counting the listings by namespace; the
// first listing of a namespace waits until release is closed.
type countingAPI struct {
	streamsAPI
	mu      sync.Mutex
	listed  map[string]int
	release chan struct{}
}

func (a *countingAPI) ListStreams(ctx context.Context, ns string) ([]imagev1.ImageStream, error) {
	a.mu.Lock()
	a.listed[ns]++
	a.mu.Unlock()
	<-a.release
	return nil, nil
}

func (a *countingAPI) count(ns string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.listed[ns]
}

// TestStreamCacheIsBounded: the streams of at most max namespaces are held
// (least recently used out, listed again when asked for), and concurrent
// askers of one namespace share one listing.
func TestStreamCacheIsBounded(t *testing.T) {
	api := &countingAPI{listed: map[string]int{}, release: make(chan struct{})}
	b := newResyncBridge(t, resyncYAML, &catalogFetcher{}, api)
	tg := b.clusters[config.DefaultCluster]
	c := newStreamCache(2)
	var wg sync.WaitGroup
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.get(t.Context(), b, tg, "a"); err != nil {
				t.Error(err)
			}
		}()
	}
	time.Sleep(20 * time.Millisecond) // the askers wait on the first listing
	close(api.release)
	wg.Wait()
	if n := api.count("a"); n != 1 {
		t.Fatalf("5 concurrent askers listed namespace a %d times, want 1", n)
	}
	for _, ns := range []string{"b", "c"} { // a is now the least recently used: out
		if _, err := c.get(t.Context(), b, tg, ns); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.ll.Len(); n != 2 {
		t.Errorf("cache holds %d namespaces, want at most 2", n)
	}
	for _, ns := range []string{"c", "a"} {
		if _, err := c.get(t.Context(), b, tg, ns); err != nil {
			t.Fatal(err)
		}
	}
	if api.count("a") != 2 || api.count("c") != 1 {
		t.Errorf("listings a=%d c=%d, want a listed again (evicted) and c once (held)", api.count("a"), api.count("c"))
	}
}
