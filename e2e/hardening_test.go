package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/emulator"
)

// TestThrottledAPIHoldsNoWorker: a 429 with Retry-After reaches the bridge's
// own backoff (reason throttled) instead of client-go sleeping inside the
// call until the request timeout (reason timeout).
func TestThrottledAPIHoldsNoWorker(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) { c.OpenShift.Timeout = ms(1000) }})
	f := &emulator.Fault{Method: "POST", PathContains: "imagestreammappings", Status: 429, RetryAfter: 2, Times: 1}
	e.api.Inject(f)
	start := time.Now()
	d := e.push("team/app", "v1", randomImage(t, 1, false))
	e.waitTag("team", "app", "v1", d)
	if e.api.Fired(f) != 1 {
		t.Fatalf("fault fired %d times", e.api.Fired(f))
	}
	if got := e.metric(`imagestream_bridge_retries_total{reason="throttled",stage="api"}`); got != 1 {
		t.Errorf("throttled retries = %v, want 1", got)
	}
	if got := e.metric(`imagestream_bridge_retries_total{reason="timeout",stage="api"}`); got != 0 {
		t.Errorf("timeout retries = %v, want 0 (client-go slept on Retry-After)", got)
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("mapped after %s: Retry-After 2s not honoured", time.Since(start))
	}
}

// TestSlowRegistryDoesNotStallOthers: a registry that drips its manifests
// holds at most all but one worker; a push to another registry maps at once.
func TestSlowRegistryDoesNotStallOthers(t *testing.T) {
	done := make(chan struct{})
	drip := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
		w.WriteHeader(http.StatusOK)
		for {
			w.Write([]byte(" "))
			w.(http.Flusher).Flush()
			select {
			case <-done:
				return
			case <-r.Context().Done():
				return
			case <-time.After(500 * time.Millisecond):
			}
		}
	}))
	defer drip.Close()
	defer close(done)
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Workers = 2
		c.Registries[1].URL, c.Registries[1].FetchTimeout = drip.URL, ms(20000)
	}})
	digest := "sha256:" + strings.Repeat("ab", 32)
	for i := range 4 {
		a := e.post("other", "Bearer other-token", eventsType, envelope(event("slow"+string(rune('a'+i)), "slow/app"+string(rune('a'+i)), "v1", digest, schema2)))
		if a.status != 202 {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
	}
	time.Sleep(200 * time.Millisecond) // the slow registry takes what it may
	start := time.Now()
	d := e.push("team/app", "v1", randomImage(t, 1, false))
	e.waitTag("team", "app", "v1", d)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("push to the good registry took %s behind a dripping one", took)
	}
}

// TestLongEventIDsAreBounded: a huge event id is deduplicated by its hash.
func TestLongEventIDsAreBounded(t *testing.T) {
	e := startEnv(t, envOpts{})
	d := e.push("team/app", "v1", randomImage(t, 1, false))
	id := strings.Repeat("x", 200<<10)
	for i, want := range []string{`"queued":1`, `"duplicates":1`} {
		a := e.notify(event(id, "team/app", "v1", d, schema2))
		if !strings.Contains(a.body, want) {
			t.Fatalf("delivery %d: answer %d %s, want %s", i+1, a.status, a.body, want)
		}
	}
	e.waitTag("team", "app", "v1", d)
}
