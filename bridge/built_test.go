package bridge

import (
	"context"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// schema2Image reads the schema 2 manifest and config of mapping/testdata,
// the image a servedFetcher serves.
func schema2Image(t *testing.T) (manifest, config []byte) {
	t.Helper()
	manifest, err := os.ReadFile("mapping/testdata/schema2.manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	config, err = os.ReadFile("mapping/testdata/schema2.config.json")
	if err != nil {
		t.Fatal(err)
	}
	return manifest, config
}

// servedFetcher serves one schema 2 image for every digest and counts fetches.
type servedFetcher struct {
	stuckFetcher
	manifest, config []byte
	fetches          atomic.Int64
}

func (f *servedFetcher) Fetch(context.Context, string, string, func(string) bool) (*Content, error) {
	f.fetches.Add(1)
	return &Content{MediaType: mapping.MediaTypeDockerManifest, Manifest: f.manifest, Config: f.config}, nil
}

// acceptingAPI takes every mapping and records the tag of each.
type acceptingAPI struct {
	mu     sync.Mutex
	mapped []*imagev1.ImageStreamMapping
}

func (a *acceptingAPI) CreateMapping(_ context.Context, m *imagev1.ImageStreamMapping) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.mapped = append(a.mapped, m)
	return nil
}
func (a *acceptingAPI) CreateStream(context.Context, *imagev1.ImageStream) error      { return nil }
func (a *acceptingAPI) CreateImage(context.Context, *imagev1.Image) error             { return nil }
func (a *acceptingAPI) DeleteStreamTag(context.Context, string, string, string) error { return nil }
func (a *acceptingAPI) Probe(context.Context) error                                   { return nil }
func (a *acceptingAPI) ListStreams(context.Context, string) ([]imagev1.ImageStream, error) {
	return nil, nil
}

func (a *acceptingAPI) GetStream(context.Context, string, string) (*imagev1.ImageStream, error) {
	return nil, nil
}

func (a *acceptingAPI) count() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.mapped)
}

// TestOneBuildForEveryCluster: an event for four clusters fetches and parses
// its manifest once and builds its mapping once; every cluster gets it.
func TestOneBuildForEveryCluster(t *testing.T) {
	api := &acceptingAPI{}
	b, _, _ := newTestBridge(t, `
clusters:
  - {name: b, kubeconfig: /nonexistent/b}
  - {name: c, kubeconfig: /nonexistent/c}
  - {name: d, kubeconfig: /nonexistent/d}
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
`, api)
	man, cfg := schema2Image(t)
	f := &servedFetcher{manifest: man, config: cfg}
	b.registries["main"].fetch = f
	var builds atomic.Int64
	defer func(orig func(mapping.Input) (*imagev1.ImageStreamMapping, error, error)) { buildMapping = orig }(buildMapping)
	buildMapping = func(in mapping.Input) (*imagev1.ImageStreamMapping, error, error) {
		builds.Add(1)
		return mapping.Build(in)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); b.Stop() }()
	b.Start(ctx)
	d := "sha256:" + strings.Repeat("ab", 32)
	if _, err := b.Accept(ctx, "main", []event.Event{{ID: "e1", Action: event.Push, Repository: "team/app", Tag: "v1",
		Digest: d, MediaType: mapping.MediaTypeDockerManifest}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for api.count() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := api.count(); n != 4 {
		t.Fatalf("%d mappings posted, want one per cluster (4)", n)
	}
	if n, m := f.fetches.Load(), builds.Load(); n != 1 || m != 1 {
		t.Errorf("4 clusters: %d fetches (each parses the manifest) and %d builds, want 1 and 1", n, m)
	}
}
