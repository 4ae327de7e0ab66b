package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// TestImageTooLargeForTheAPIServer: an image whose 7 MiB config JSON would
// make an Image larger than the API server stores fails as too_large from the
// manifest's config descriptor alone: the config blob is never fetched.
func TestImageTooLargeForTheAPIServer(t *testing.T) {
	var blobs atomic.Int64
	e := startEnv(t, envOpts{configure: func(c *config.Config) {
		u, err := url.Parse(c.Registries[0].URL)
		if err != nil {
			t.Fatal(err)
		}
		rp := httputil.NewSingleHostReverseProxy(u)
		proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") {
				blobs.Add(1)
			}
			rp.ServeHTTP(w, r)
		}))
		t.Cleanup(proxy.Close)
		c.Registries[0].URL = proxy.URL
	}})
	img, err := mutate.Config(randomImage(t, 1, false), v1.Config{Env: []string{"BIG=" + strings.Repeat("x", 7<<20)}})
	if err != nil {
		t.Fatal(err)
	}
	d := e.push("big/app", "v1", img)
	if a := e.notify(event("big", "big/app", "v1", d, schema2)); a.status != http.StatusAccepted {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	e.waitFor("too_large", func() bool {
		return e.metric(`imagestream_bridge_permanent_failures_total{cluster="default",reason="too_large",registry="main"}`) == 1
	})
	if n := blobs.Load(); n != 0 {
		t.Errorf("%d blob requests: the config was fetched", n)
	}
	if h := e.api.TagHistory("big", "app", "v1"); len(h) != 0 {
		t.Errorf("tag mapped: %v", h)
	}
}
