package e2e_test

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/emulator"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// helmChart is an OCI artifact as `helm push` writes it: a Helm config and one chart layer.
func helmChart(t *testing.T) v1.Image {
	t.Helper()
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:     static.NewLayer([]byte("chart tarball"), "application/vnd.cncf.helm.chart.content.v1.tar+gzip"),
		MediaType: "application/vnd.cncf.helm.chart.content.v1.tar+gzip",
	})
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, "application/vnd.cncf.helm.config.v1+json")
	return img
}

// TestArtifactsSkippedByDefault: a Helm chart pushed to the registry never becomes an image stream tag.
func TestArtifactsSkippedByDefault(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	chart := e.push("charts/mychart", "1.0.0", helmChart(t))
	img := e.push("charts/app", "v1", randomImage(t, 1, true))
	e.waitTag("charts", "app", "v1", img)
	e.waitFor("artifact skip counted", func() bool {
		return e.metric(`imagestream_bridge_events_skipped_total{reason="artifact",registry="main"}`) == 1
	})
	if h := e.api.TagHistory("charts", "mychart", "1.0.0"); len(h) != 0 {
		t.Errorf("Helm chart %s became an image stream tag: %v", chart, h)
	}
}

// TestArtifactsMappedWhenConfigured: with artifacts: map, the chart is mapped as OpenShift would store it.
func TestArtifactsMappedWhenConfigured(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) { c.Registries[0].Artifacts = config.ArtifactsMap }})
	chart := e.push("charts/mychart", "1.0.0", helmChart(t))
	e.waitTag("charts", "mychart", "1.0.0", chart)
	if img := e.api.Image(chart); img == nil || img.DockerImageConfig == "" || len(img.DockerImageLayers) != 1 {
		t.Fatalf("chart stored as %+v", img)
	}
}

// TestBadChildDoesNotBlockList: with createChildImages, a child whose Image
// cannot be created is reported and the list's tag still moves.
func TestBadChildDoesNotBlockList(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) { c.OpenShift.CreateChildImages = true }})
	bad := &emulator.Fault{Method: "POST", PathContains: "/v1/images", Status: 403, Times: 1}
	e.api.Inject(bad)
	idx, err := sandbox.RandomIndex(true, "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	digest := e.push("multi/app", "v1", idx)
	e.waitTag("multi", "app", "v1", digest)
	if e.api.Fired(bad) != 1 {
		t.Fatalf("fault fired %d times", e.api.Fired(bad))
	}
	if got := e.metric(`imagestream_bridge_child_image_failures_total{registry="main"}`); got != 1 {
		t.Errorf("child failures = %v, want 1", got)
	}
	if l := e.failed(); len(l.Failed) != 0 {
		t.Errorf("the list failed: %+v", l.Failed)
	}
}

// TestReplayNeverMovesATagBack: an old failed event replayed after the tag
// moved on is skipped as stale; the tag stays on the last pushed digest.
func TestReplayNeverMovesATagBack(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) { c.Workers = 1 }})
	e.api.Inject(&emulator.Fault{Method: "POST", PathContains: "/namespaces/team/imagestreammappings", Status: 403, Times: 1})
	old := e.push("team/app", "v1", randomImage(t, 1, false))
	e.waitFor("old push failed", func() bool { return len(e.failed().Failed) == 1 })
	newer := e.push("team/app", "v1", randomImage(t, 1, false))
	e.waitTag("team", "app", "v1", newer)

	e.replay()
	e.waitFor("replay finished", func() bool {
		return e.metric(`imagestream_bridge_events_skipped_total{reason="stale",registry="main"}`) == 1
	})
	h := e.api.TagHistory("team", "app", "v1")
	if len(h) != 1 || h[0] != newer {
		t.Fatalf("tag history %v after replaying %s, want only %s", h, old, newer)
	}
}

// TestResyncDoesNotRequeuePermanentFailures: a tag whose digest failed for
// good is not queued again by every resync; the failed list keeps one entry.
func TestResyncDoesNotRequeuePermanentFailures(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.ResyncInterval = &config.Duration{Duration: 200 * time.Millisecond}
		c.Registries[1].Namespaces = []string{"none"}
	}})
	e.api.SetNamespaces("good")
	e.push("gone/app", "v1", randomImage(t, 1, false))
	e.waitFor("push failed", func() bool { return len(e.failed().Failed) == 1 })
	runs := e.metric(`imagestream_bridge_resync_runs_total{result="success"}`)
	e.waitFor("three more resync runs", func() bool {
		return e.metric(`imagestream_bridge_resync_runs_total{result="success"}`) >= runs+3
	})
	time.Sleep(100 * time.Millisecond)
	if l := e.failed(); len(l.Failed) != 1 {
		t.Fatalf("failed list has %d entries after resyncs, want 1: %+v", len(l.Failed), l.Failed)
	}
	if got := e.metric(`imagestream_bridge_resync_fixed_total{registry="main"}`); got != 0 {
		t.Errorf("resync queued the failed digest %v times", got)
	}
}
