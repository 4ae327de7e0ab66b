package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/emulator"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// TestResyncHasItsOwnBudget: with more drift (12 lost pushes) than queueSize
// (4), one resync pass repairs every drifted tag (it waits for room of its own
// instead of stopping at a full queue), and says how many it really applied.
func TestResyncHasItsOwnBudget(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.QueueSize = 4 }})
	want := map[string]string{}
	for i := range 12 {
		tag := fmt.Sprintf("v%d", i)
		want[tag] = e.push("budget/app", tag, randomImage(t, 1, false)) // lost: the registry sends nothing
	}
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", e.cliConfig(false)}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s\n%s", code, out.String(), errOut.String())
	}
	for tag, d := range want {
		if h := e.api.TagHistory("budget", "app", tag); len(h) != 1 || h[0] != d {
			t.Errorf("budget/app:%s history %v after one pass, want [%s]", tag, h, d)
		}
	}
	if !strings.Contains(out.String(), "12 tags drifted, 12 repairs applied") {
		t.Errorf("resync output does not say 12 of 12 applied:\n%s", out.String())
	}
}

// TestResyncNeverTakesTheWebhooksRoom: a resync in serve whose repairs fill
// queueSize (4 drifted tags, each retried while the API server answers 503)
// leaves the webhook its room: a push during it is accepted, never refused
// with 503 QUEUE_FULL.
func TestResyncNeverTakesTheWebhooksRoom(t *testing.T) {
	reg, err := sandbox.StartRegistry(t.Context(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	for i := range 4 {
		if err := sandbox.Push(reg.Host, "room/app", fmt.Sprintf("v%d", i), randomImage(t, 1, false)); err != nil {
			t.Fatal(err)
		}
	}
	api := sandbox.StartAPI()
	t.Cleanup(api.Close)
	down := &emulator.Fault{Method: "POST", PathContains: "imagestreammappings", Status: http.StatusServiceUnavailable}
	api.Inject(down) // every repair is retried: it keeps its room
	e := startEnv(t, envOpts{registry: reg, api: api, configure: func(c *config.Config) {
		c.QueueSize = 4
		c.ResyncInterval = &config.Duration{Duration: time.Hour} // one pass, at start
		c.Registries = c.Registries[:1]                          // main only: its 4 repairs exactly fill queueSize
	}})
	e.waitFor("the resync to queue its 4 repairs", func() bool {
		return e.metric(`imagestream_bridge_resync_fixed_total{registry="main"}`) >= 4
	})
	d := e.push("room/app", "pushed", randomImage(t, 1, false))
	if a := e.notify(event("p1", "room/app", "pushed", d, schema2)); a.status != http.StatusAccepted {
		t.Fatalf("a push during the resync answered %d %s, want 202", a.status, a.body)
	}
	api.ClearFaults()
	e.waitTag("room", "app", "pushed", d)
	e.waitFor("the repairs", func() bool { return len(e.api.TagHistory("room", "app", "v3")) == 1 })
}
