package e2e_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// TestResyncRepairsLostEvents pushes with notifications off (the registry lost
// its queue), then reconciles: a dry run plans and posts nothing, a real run
// repairs missing and stale tags and leaves correct ones alone.
func TestResyncRepairsLostEvents(t *testing.T) {
	e := startEnv(t, envOpts{}) // registry sends nothing: every push is "lost"
	okDigest := e.push("rs/ok", "v1", randomImage(t, 1, false))
	e.notify(event("ok", "rs/ok", "v1", okDigest, schema2)) // this one arrived
	e.waitTag("rs", "ok", "v1", okDigest)
	staleOld := e.push("rs/app", "stable", randomImage(t, 1, false))
	e.notify(event("old", "rs/app", "stable", staleOld, schema2))
	e.waitTag("rs", "app", "stable", staleOld)
	staleNew := e.push("rs/app", "stable", randomImage(t, 1, false)) // lost: stream still says staleOld
	missing := e.push("rs/app", "v2", randomImage(t, 2, true))       // lost
	idx := e.push("rs/multi", "latest", mustIndex(t))                // lost
	e.push("deep/a/b", "x", randomImage(t, 1, false))                // unmapped: never planned
	before := e.api.MappingCount.Load()

	cfgFile := e.cliConfig(false)
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", cfgFile, "--dry-run"}, &out, &errOut); code != 0 {
		t.Fatalf("dry run exit %d: %s", code, errOut.String())
	}
	plan := out.String()
	for _, want := range []string{"stale", "rs/app:stable", staleNew, "missing", "rs/app:v2", "rs/multi:latest", "3 tags drifted (dry run"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan)
		}
	}
	if strings.Contains(plan, "rs/ok") || strings.Contains(plan, "deep") {
		t.Errorf("plan names a tag in step or unmapped:\n%s", plan)
	}
	if e.api.MappingCount.Load() != before {
		t.Fatal("dry run posted mappings")
	}

	out.Reset()
	if code := app.Main(t.Context(), []string{"resync", "--config", cfgFile}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s", code, errOut.String())
	}
	e.waitTag("rs", "app", "stable", staleNew)
	e.waitTag("rs", "app", "v2", missing)
	e.waitTag("rs", "multi", "latest", idx)
	if h := e.api.TagHistory("rs", "app", "stable"); len(h) != 2 || h[1] != staleOld {
		t.Errorf("stable history %v, want [new old]", h)
	}
	if got := e.api.MappingCount.Load() - before; got != 3 {
		t.Errorf("resync posted %d mappings, want 3", got)
	}
	// A second run finds nothing.
	out.Reset()
	app.Main(t.Context(), []string{"resync", "--config", cfgFile, "--dry-run"}, &out, &errOut)
	if !strings.Contains(out.String(), "0 tags drifted") {
		t.Errorf("second plan:\n%s", out.String())
	}
}

// TestPeriodicResyncInServe repairs a lost push without any command.
func TestPeriodicResyncInServe(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.ResyncInterval = &config.Duration{Duration: 300 * time.Millisecond} }})
	d := e.push("periodic/app", "v1", randomImage(t, 1, false))
	e.waitTag("periodic", "app", "v1", d)
	e.waitFor("drift metric", func() bool {
		return e.metric(`imagestream_bridge_resync_drift_total{kind="missing",registry="main"}`) >= 1 &&
			e.metric(`imagestream_bridge_resync_fixed_total{registry="main"}`) >= 1
	})
}

func mustIndex(t *testing.T) v1.ImageIndex {
	t.Helper()
	idx, err := sandbox.RandomIndex(true, "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestResyncFailsWhenRepairsFail: repairs that fail for good make the
// command exit non-zero and say how many failed and why.
func TestResyncFailsWhenRepairsFail(t *testing.T) {
	e := startEnv(t, envOpts{})
	e.api.SetNamespaces("rs")
	e.push("rs/app", "v1", randomImage(t, 1, false))
	e.push("gone/app", "v1", randomImage(t, 1, false)) // namespace missing: can never apply
	e.push("gone/other", "v1", randomImage(t, 1, false))
	cfgFile := e.cliConfig(false)
	var out, errOut bytes.Buffer
	code := app.Main(t.Context(), []string{"resync", "--config", cfgFile}, &out, &errOut)
	if code == 0 {
		t.Fatalf("resync exit 0 although 2 repairs failed:\n%s", out.String())
	}
	if !strings.Contains(errOut.String(), "2 of 3 repairs failed") || !strings.Contains(errOut.String(), "namespace_not_found") {
		t.Errorf("stderr %q does not say how many repairs failed and why", errOut.String())
	}
	e.waitTag("rs", "app", "v1", e.api.TagHistory("rs", "app", "v1")[0])
}
