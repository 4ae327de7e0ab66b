package bridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// oneStreamAPI keeps the tags of one stream, and is slow to read it: jobs of
// several workers overlap between their read and their mapping.
type oneStreamAPI struct {
	acceptingAPI
	tagsMu sync.Mutex
	tags   map[string]bool
}

func (a *oneStreamAPI) CreateMapping(ctx context.Context, m *imagev1.ImageStreamMapping) error {
	a.tagsMu.Lock()
	a.tags[m.Tag] = true
	a.tagsMu.Unlock()
	return a.acceptingAPI.CreateMapping(ctx, m)
}

func (a *oneStreamAPI) GetStream(_ context.Context, ns, name string) (*imagev1.ImageStream, error) {
	a.tagsMu.Lock()
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	for tag := range a.tags {
		s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: tag})
	}
	a.tagsMu.Unlock()
	time.Sleep(5 * time.Millisecond) // the answer is read, then travels back: others may map meanwhile
	return s, nil
}

// TestTagLimitHoldsUnderConcurrentWorkers: twenty new tags of one stream,
// applied by eight workers at once, leave exactly maxTagsPerStream tags; the
// rest are skipped as tag_limit.
func TestTagLimitHoldsUnderConcurrentWorkers(t *testing.T) {
	api := &oneStreamAPI{tags: map[string]bool{}}
	b, obs, _ := newTestBridge(t, `
workers: 8
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
    maxTagsPerStream: 3
`, api)
	man, cfg := schema2Image(t)
	b.registries["main"].fetch = &servedFetcher{manifest: man, config: cfg}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); b.Stop() }()
	b.Start(ctx)
	var evs []event.Event
	for i := range 20 {
		evs = append(evs, event.Event{ID: fmt.Sprint(i), Action: event.Push, Repository: "team/app", Tag: fmt.Sprintf("t%d", i),
			Digest: "sha256:" + strings.Repeat("ab", 32), MediaType: mapping.MediaTypeDockerManifest})
	}
	if _, err := b.Accept(ctx, "main", evs); err != nil {
		t.Fatal(err)
	}
	skipped := func() int {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return obs.n["skipped main tag_limit"]
	}
	deadline := time.Now().Add(10 * time.Second)
	for api.count()+skipped() < 20 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	api.tagsMu.Lock()
	n := len(api.tags)
	api.tagsMu.Unlock()
	if s := skipped(); n != 3 || s != 17 {
		t.Fatalf("%d tags mapped, %d skipped as tag_limit; want 3 and 17", n, s)
	}
}
