package e2e_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/emulator"
	"github.com/imagestream-bridge/imagestream-bridge/webhook"
)

const schema2 = "application/vnd.docker.distribution.manifest.v2+json"

// TestTransientFaultsAreRetried injects 5xx bursts, 429 with Retry-After,
// dropped connections and slow answers; every event still lands exactly once.
func TestTransientFaultsAreRetried(t *testing.T) {
	e := startEnv(t, envOpts{})
	faults := []*emulator.Fault{
		{Method: "POST", PathContains: "/namespaces/faulty/imagestreammappings", Status: 503, Times: 3},
		{Method: "POST", PathContains: "/namespaces/faulty/imagestreammappings", Status: 500, Times: 2},
		{Method: "POST", PathContains: "/namespaces/faulty/imagestreammappings", Status: 429, RetryAfter: 1, Times: 1},
		{Method: "POST", PathContains: "/namespaces/faulty/imagestreammappings", Drop: true, Times: 2},
		{Method: "POST", PathContains: "/namespaces/faulty/imagestreammappings", Status: 409, Times: 1},
		{Method: "POST", PathContains: "/namespaces/faulty/imagestreammappings", Delay: 300 * time.Millisecond, Times: 2},
	}
	for _, f := range faults {
		e.api.Inject(f)
	}
	want := map[string]string{}
	for i := range 5 {
		tag := fmt.Sprintf("t%d", i)
		want[tag] = e.push("faulty/app", tag, randomImage(t, 1, false))
		if a := e.notify(event("f"+tag, "faulty/app", tag, want[tag], schema2)); a.status != 202 {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
	}
	for tag, d := range want {
		e.waitTag("faulty", "app", tag, d)
	}
	for i, f := range faults {
		if e.api.Fired(f) != f.Times {
			t.Errorf("fault %d fired %d times, want %d", i, e.api.Fired(f), f.Times)
		}
	}
	for tag := range want {
		if h := e.api.TagHistory("faulty", "app", tag); len(h) != 1 {
			t.Errorf("tag %s history %v, want exactly one entry", tag, h)
		}
	}
	if got := e.metric(`imagestream_bridge_retries_total{reason="server_error",stage="api"}`); got < 5 {
		t.Errorf("server_error retries = %v, want >= 5", got)
	}
	if got := e.metric(`imagestream_bridge_mappings_total{cluster="default",registry="main",result="mapped"}`); got != 5 {
		t.Errorf("mapped = %v, want 5", got)
	}
}

// TestPermanentFailuresDoNotBlock sends events that can never succeed ahead of
// good ones: the good ones land, the bad ones are listed with reasons and can be replayed.
func TestPermanentFailuresDoNotBlock(t *testing.T) {
	// One worker makes the single injected 403 hit the first event deterministically.
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.Workers = 1 }})
	e.api.SetNamespaces("good", "quota", "later")
	e.api.SetQuotaExceeded("quota")
	e.api.Inject(&emulator.Fault{Method: "POST", PathContains: "/namespaces/good/imagestreammappings", Status: 403, Times: 1})

	img := randomImage(t, 1, false)
	d := e.push("good/app", "v1", img)
	for _, repo := range []string{"good/forbidden", "gone/app", "quota/app"} {
		e.push(repo, "v1", img)
	}
	for _, ev := range []map[string]any{
		event("p1", "good/forbidden", "v1", d, schema2), // 403 once: permanent
		event("p2", "gone/app", "v1", d, schema2),       // namespace missing
		event("p3", "quota/app", "v1", d, schema2),      // quota
		event("p4", "good/app", "v1", d, schema2),       // fine
	} {
		if a := e.notify(ev); a.status != 202 {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
	}
	e.waitTag("good", "app", "v1", d)
	var list failedList
	e.waitFor("3 failed events", func() bool {
		list = e.failed()
		return len(list.Failed) == 3
	})
	reasons := map[string]string{}
	for _, f := range list.Failed {
		reasons[f.Namespace] = f.Reason
	}
	if reasons["good"] != "forbidden" || reasons["gone"] != "namespace_not_found" || reasons["quota"] != "quota" {
		t.Errorf("failure reasons = %v", reasons)
	}
	if got := e.metric(`imagestream_bridge_permanent_failures_total{cluster="default",reason="namespace_not_found",registry="main"}`); got != 1 {
		t.Errorf("namespace_not_found failures = %v", got)
	}
	// The operator fixes the cause and replays everything.
	e.api.SetNamespaces("good", "quota", "gone")
	// The quota stays exceeded: that event fails again.
	resp, err := e.admin.Post("http://admin/admin/replay", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("replay: %v", resp)
	}
	e.waitTag("good", "forbidden", "v1", d)
	e.waitTag("gone", "app", "v1", d)
	e.waitFor("quota failure listed again", func() bool {
		l := e.failed()
		return len(l.Failed) == 1 && l.Failed[0].Reason == "quota"
	})
}

func (e *env) failed() failedList {
	e.t.Helper()
	resp, err := e.admin.Get("http://admin/admin/failed")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var l failedList
	if err := json.NewDecoder(resp.Body).Decode(&l); err != nil {
		e.t.Fatal(err)
	}
	return l
}

// TestFailedCommand lists and replays through the CLI against the running bridge.
func TestFailedCommand(t *testing.T) {
	e := startEnv(t, envOpts{})
	e.api.SetNamespaces("ok")
	d := e.push("missing/app", "v1", randomImage(t, 1, false))
	e.notify(event("c1", "missing/app", "v1", d, schema2))
	e.waitFor("failed event", func() bool { return len(e.failed().Failed) == 1 })
	cfgFile := e.cliConfig(true)
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"failed", "--config", cfgFile}, &out, &errOut); code != 0 {
		t.Fatalf("failed: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "namespace_not_found") || !strings.Contains(out.String(), "missing/app:v1") {
		t.Errorf("failed output:\n%s", out.String())
	}
	e.api.SetNamespaces("ok", "missing")
	out.Reset()
	if code := app.Main(t.Context(), []string{"failed", "--config", cfgFile, "--replay", "all"}, &out, &errOut); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "1 events replayed") {
		t.Errorf("replay output: %s", out.String())
	}
	e.waitTag("missing", "app", "v1", d)
}

// TestQueueFullAnswers503 fills a small queue behind a slow API server.
func TestQueueFullAnswers503(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.QueueSize, c.Workers = 3, 1 }})
	slow := &emulator.Fault{PathContains: "imagestreammappings", Delay: 400 * time.Millisecond}
	e.api.Inject(slow)
	d := e.push("full/app", "v1", randomImage(t, 1, false))
	var accepted, rejected int
	for i := range 8 {
		a := e.notify(event(fmt.Sprintf("q%d", i), "full/app", fmt.Sprintf("v%d", i), d, schema2))
		switch a.status {
		case 202:
			accepted++
		case 503:
			rejected++
			if a.header.Get("Retry-After") == "" || !strings.Contains(a.body, "QUEUE_FULL") {
				t.Errorf("503 without Retry-After or code: %v %s", a.header, a.body)
			}
		default:
			t.Fatalf("answer %d %s", a.status, a.body)
		}
	}
	if accepted != 3 || rejected != 5 {
		t.Errorf("accepted %d rejected %d, want 3 and 5", accepted, rejected)
	}
	e.api.ClearFaults()
	// The sender retries a rejected event; now it fits.
	e.waitFor("queue drained", func() bool { return e.api.MappingCount.Load() == 3 })
	if a := e.notify(event("q7", "full/app", "v7", d, schema2)); a.status != 202 {
		t.Errorf("retry after drain: %d", a.status)
	}
	e.waitTag("full", "app", "v7", d)
	if got := e.metric(`imagestream_bridge_events_total{action="push",outcome="rejected",registry="main"}`); got != 5 {
		t.Errorf("rejected = %v, want 5", got)
	}
}

// TestOrderPerTagUnderConcurrency sends many retags of a few tags while the API
// is slow and flaky: each tag ends on its last digest with history in send order.
func TestOrderPerTagUnderConcurrency(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.Workers = 8 }})
	e.api.Inject(&emulator.Fault{PathContains: "imagestreammappings", Status: 500, Times: 6})
	e.api.Inject(&emulator.Fault{PathContains: "imagestreammappings", Delay: 20 * time.Millisecond, Times: 20})
	digests := make([]string, 6)
	for i := range digests {
		digests[i] = e.push("order/app", fmt.Sprintf("src%d", i), randomImage(t, 1, false))
	}
	tags := []string{"a", "b", "c"}
	var wg sync.WaitGroup
	for _, tag := range tags {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, d := range digests { // one sender per tag, in order, as the registry does
				if a := e.notify(event(tag+fmt.Sprint(i), "order/app", tag, d, schema2)); a.status != 202 {
					t.Errorf("answer %d", a.status)
				}
			}
		}()
	}
	wg.Wait()
	for _, tag := range tags {
		e.waitFor("full history of "+tag, func() bool { return len(e.api.TagHistory("order", "app", tag)) == len(digests) })
		h := e.api.TagHistory("order", "app", tag)
		for i := range digests {
			if h[i] != digests[len(digests)-1-i] {
				t.Fatalf("tag %s history %v is not the reverse of push order %v", tag, h, digests)
			}
		}
	}
}

// TestRecoveredEventNeverMovesATagBack journals an event, stops before it is
// applied, lets the tag move on elsewhere (another replica, after failover),
// then restarts on the old journal: the recovered event must not win.
func TestRecoveredEventNeverMovesATagBack(t *testing.T) {
	dataDir := t.TempDir()
	first := startEnv(t, envOpts{configure: func(c *config.Config) { c.DataDir, c.Workers = dataDir, 1 }})
	api, reg := first.api, first.reg
	old := first.push("fo/app", "prod", randomImage(t, 1, false))
	other := first.push("fo/app", "keep", randomImage(t, 1, false))
	api.Inject(&emulator.Fault{PathContains: "imagestreammappings", Delay: 10 * time.Second})
	if a := first.notify(event("fo1", "fo/app", "prod", old, schema2)); a.status != 202 {
		t.Fatal(a.body)
	}
	if a := first.notify(event("fo2", "fo/app", "keep", other, schema2)); a.status != 202 {
		t.Fatal(a.body)
	}
	first.stop() // the slow mapping is abandoned at the shutdown deadline: both stay journaled
	api.ClearFaults()
	if api.MappingCount.Load() != 0 {
		t.Fatal("mapped before the stop: the test proves nothing")
	}

	// Meanwhile the tag moves on and another replica maps it.
	newer := first.push("fo/app", "prod", randomImage(t, 2, false))
	second := startEnv(t, envOpts{api: api, registry: reg})
	second.notify(event("fo3", "fo/app", "prod", newer, schema2))
	second.waitTag("fo", "app", "prod", newer)
	second.stop()

	// The old replica comes back with its journal.
	third := startEnv(t, envOpts{api: api, registry: reg, configure: func(c *config.Config) { c.DataDir = dataDir }})
	third.waitTag("fo", "app", "keep", other) // the still-current recovered event is applied
	time.Sleep(200 * time.Millisecond)
	if h := api.TagHistory("fo", "app", "prod"); len(h) != 1 || h[0] != newer {
		t.Errorf("prod history %v: the recovered event moved the tag back (want [%s])", h, newer)
	}
}

// replay replays every failed event through the admin endpoint.
func (e *env) replay() {
	e.t.Helper()
	resp, err := e.admin.Post("http://admin/admin/replay", "application/json", strings.NewReader(`{}`))
	if err != nil || resp.StatusCode != 200 {
		e.t.Fatalf("replay: %v %v", err, resp)
	}
	resp.Body.Close()
}

// failedList is the admin answer listing failed events.
type failedList struct {
	Failed []webhook.FailedEvent `json:"failed"`
}

// TestDrainNeverMovesATagBack: with the event log in memory a stopping bridge
// works its queue off while its replacement already takes and applies newer
// events. An event the old process still holds must re-check its tag and not
// overwrite the newer image the replacement mapped.
func TestDrainNeverMovesATagBack(t *testing.T) {
	first := startEnv(t, envOpts{configure: func(c *config.Config) { c.Workers, c.ShutdownTimeout = 1, ms(10000) }})
	api, reg := first.api, first.reg
	slow := first.push("slow/app", "v1", randomImage(t, 1, false))
	old := first.push("dr/app", "prod", randomImage(t, 2, false))
	// The only worker is busy with a slow mapping while the old event waits behind it.
	api.Inject(&emulator.Fault{PathContains: "namespaces/slow/imagestreammappings", Delay: time.Second})
	if a := first.notify(event("d1", "slow/app", "v1", slow, schema2)); a.status != 202 {
		t.Fatal(a.body)
	}
	if a := first.notify(event("d2", "dr/app", "prod", old, schema2)); a.status != 202 {
		t.Fatal(a.body)
	}
	// The replacement takes the newer push of the tag and maps it.
	second := startEnv(t, envOpts{api: api, registry: reg})
	newer := second.push("dr/app", "prod", randomImage(t, 3, false))
	second.notify(event("d3", "dr/app", "prod", newer, schema2))
	second.waitTag("dr", "app", "prod", newer)
	if h := api.TagHistory("dr", "app", "prod"); len(h) != 1 {
		t.Fatalf("prod history %v before the old bridge stops: the test proves nothing", h)
	}
	first.stop() // drains: the slow mapping ends, then the old event is worked off
	first.waitTag("slow", "app", "v1", slow)
	if h := api.TagHistory("dr", "app", "prod"); len(h) != 1 || h[0] != newer {
		t.Errorf("prod history %v: the draining bridge moved the tag back to its older event (want [%s])", h, newer)
	}
}
