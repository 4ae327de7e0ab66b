package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/emulator"
)

// lockedBuffer collects log output written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// countingProxy passes requests on to target and counts those for repositories (not the /v2/ ping).
func countingProxy(t *testing.T, target string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			n.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// TestAPIDownPausesCluster: while the API server answers 503 to everything,
// the cluster's lanes are paused: the registry is not asked again for the
// queued jobs (Quay events name only the tag, so every attempt would resolve
// it), WARN lines stay bounded, and once the server is back every event maps.
func TestAPIDownPausesCluster(t *testing.T) {
	const workers, n = 4, 20
	var fetches *atomic.Int64
	logs := &lockedBuffer{}
	e := startEnv(t, envOpts{logs: logs, configure: func(c *config.Config) {
		c.Workers = workers
		var proxy *httptest.Server
		proxy, fetches = countingProxy(t, c.Registries[0].URL)
		c.Registries = append(c.Registries, config.Registry{Name: "quay", URL: proxy.URL, WebhookToken: token, Sender: "quay"})
	}})
	tags := make([]string, n)
	digests := make([]string, n)
	for i := range n {
		tags[i] = fmt.Sprintf("t%d", i)
		digests[i] = e.push("gate/app", tags[i], randomImage(t, 1, false))
	}
	down := &emulator.Fault{Status: http.StatusServiceUnavailable}
	e.api.Inject(down)
	before := logs.count("level=WARN")
	if a := e.send("/notifications/quay/"+token, "application/json", quayPush("gate/app", tags...)); a.status != http.StatusAccepted {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	// Wait for the server to have refused 20 requests: without a gate these
	// are the jobs' retries, each after a tag lookup at the registry; with it,
	// the in-flight jobs' attempts and then the probes.
	e.waitFor("20 refused API requests", func() bool { return e.api.Fired(down) >= 20 })
	if got := fetches.Load(); got > 3*workers {
		t.Errorf("%d registry requests while the API was down, want at most %d (the jobs in flight when it failed)", got, 3*workers)
	}
	if got := logs.count("level=WARN") - before; got > workers+2 {
		t.Errorf("%d WARN lines while the API was down, want at most %d", got, workers+2)
	}
	e.waitFor("cluster_up = 0", func() bool { return e.metric(`imagestream_bridge_cluster_up{cluster="default"}`) == 0 })

	e.api.ClearFaults()
	for i := range n {
		e.waitTag("gate", "app", tags[i], digests[i])
	}
	e.waitFor("cluster_up = 1", func() bool { return e.metric(`imagestream_bridge_cluster_up{cluster="default"}`) == 1 })
}
