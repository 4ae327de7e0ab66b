package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/emulator"
)

// TestClusterDownDoesNotDelayOthers: cluster b is down (every request held,
// then its connection dropped) while the default cluster keeps mapping each
// event in milliseconds; /readyz stays ready; once b recovers it gets every
// mapping, exactly once.
func TestClusterDownDoesNotDelayOthers(t *testing.T) {
	e := startEnv(t, envOpts{clusters: []string{"b"}, configure: func(c *config.Config) { c.Workers = 4 }})
	b := e.clusters["b"]
	down := &emulator.Fault{Delay: 300 * time.Millisecond, Drop: true}
	b.Inject(down)
	const n = 12
	digests := make([]string, n)
	var worst time.Duration
	for i := range n {
		tag := fmt.Sprintf("t%d", i)
		digests[i] = e.push("multi/app", tag, randomImage(t, 1, false))
		start := time.Now()
		if a := e.notify(event("m"+tag, "multi/app", tag, digests[i], schema2)); a.status != http.StatusAccepted {
			t.Fatalf("answer %d %s", a.status, a.body)
		}
		e.waitTag("multi", "app", tag, digests[i])
		worst = max(worst, time.Since(start))
	}
	t.Logf("default cluster, worst notify-to-mapped while b is down: %s", worst)
	if worst > time.Second {
		t.Errorf("a mapping in the default cluster took %s while b was down, want well under 1s", worst)
	}
	e.waitFor("cluster_up{b} = 0", func() bool { return e.metric(`imagestream_bridge_cluster_up{cluster="b"}`) == 0 })
	if e.metric(`imagestream_bridge_cluster_up{cluster="default"}`) != 1 {
		t.Error("default cluster not reported up")
	}
	if code, err := getStatus(http.DefaultClient, e.url+"/readyz"); err != nil || code != http.StatusOK {
		t.Errorf("readyz with cluster b down: %v %v, want 200", code, err)
	}
	if b.MappingCount.Load() != 0 || b.Fired(down) == 0 {
		t.Fatalf("b mapped %d, fault fired %d: b was not down", b.MappingCount.Load(), b.Fired(down))
	}

	b.ClearFaults()
	for i := range n {
		tag := fmt.Sprintf("t%d", i)
		e.waitFor("b "+tag, func() bool {
			h := b.TagHistory("multi", "app", tag)
			return len(h) > 0 && h[0] == digests[i]
		})
		if h := b.TagHistory("multi", "app", tag); len(h) != 1 {
			t.Errorf("b %s history %v, want one entry", tag, h)
		}
	}
	e.waitFor("cluster_up{b} = 1", func() bool { return e.metric(`imagestream_bridge_cluster_up{cluster="b"}`) == 1 })
	if got := e.metric(`imagestream_bridge_mappings_total{cluster="b",registry="main",result="mapped"}`); got != n {
		t.Errorf("mapped in b = %v, want %d", got, n)
	}
	if got := e.metric(`imagestream_bridge_mappings_total{cluster="default",registry="main",result="mapped"}`); got != n {
		t.Errorf("mapped in default = %v, want %d", got, n)
	}
}

// TestClusterForbiddingDoesNotDelayOthers: cluster b answers 403 for a while:
// its jobs go to the failed list (as a 403 does in one cluster), the default
// cluster maps in milliseconds; a replay maps them in b once it allows.
func TestClusterForbiddingDoesNotDelayOthers(t *testing.T) {
	e := startEnv(t, envOpts{clusters: []string{"b"}})
	b := e.clusters["b"]
	b.Inject(&emulator.Fault{Method: "POST", PathContains: "imagestreammappings", Status: http.StatusForbidden})
	const n = 5
	digests := make([]string, n)
	for i := range n {
		tag := fmt.Sprintf("f%d", i)
		digests[i] = e.push("forbid/app", tag, randomImage(t, 1, false))
		start := time.Now()
		e.notify(event("f"+tag, "forbid/app", tag, digests[i], schema2))
		e.waitTag("forbid", "app", tag, digests[i])
		if d := time.Since(start); d > time.Second {
			t.Errorf("default mapping took %s while b forbids", d)
		}
	}
	e.waitFor("b failures", func() bool {
		return e.metric(`imagestream_bridge_permanent_failures_total{cluster="b",reason="forbidden",registry="main"}`) == n
	})
	if got := e.metric(`imagestream_bridge_permanent_failures_total{cluster="default",reason="forbidden",registry="main"}`); got != 0 {
		t.Errorf("default forbidden failures %v, want 0", got)
	}
	b.ClearFaults()
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"failed", "--config", e.cliConfig(true), "--replay", "all"}, &out, &errOut); code != 0 {
		t.Fatalf("replay exit %d: %s %s", code, out.String(), errOut.String())
	}
	for i := range n {
		tag := fmt.Sprintf("f%d", i)
		e.waitFor("b "+tag, func() bool {
			h := b.TagHistory("forbid", "app", tag)
			return len(h) == 1 && h[0] == digests[i]
		})
		if h := e.api.TagHistory("forbid", "app", tag); len(h) != 1 {
			t.Errorf("default %s history %v after the replay, want one entry", tag, h)
		}
	}
}

// deleteTag deletes repo:tag in the registry (distribution sends a delete event naming the tag).
func (e *env) deleteTag(repo, tag string) {
	e.t.Helper()
	ref, err := name.NewTag(e.reg.Host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	if err := remote.Delete(ref); err != nil {
		e.t.Fatal(err)
	}
}

func deleteEvent(id, repo, tag string) map[string]any {
	ev := event(id, repo, tag, "", "")
	ev["action"] = "delete"
	target := ev["target"].(map[string]any)
	for _, k := range []string{"digest", "mediaType", "size", "length", "url"} {
		delete(target, k)
	}
	return ev
}

// TestTagDeleteFollowsTheRegistry: with deleteTags, the registry's own tag
// deletion (its delete event) removes the image stream tag in every cluster;
// a delete whose job runs after the tag was pushed again removes nothing; a
// registry without deleteTags skips deletes.
func TestTagDeleteFollowsTheRegistry(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, clusters: []string{"b"},
		configure: func(c *config.Config) { c.Registries[0].DeleteTags = true }})
	b := e.clusters["b"]
	waitIn := func(api interface {
		TagHistory(ns, s, t string) []string
	}, what, tag string, want func([]string) bool) {
		t.Helper()
		e.waitFor(what, func() bool { return want(api.TagHistory("del", "app", tag)) })
	}
	gone := func(h []string) bool { return len(h) == 0 }

	// A plain tag deletion, sent by the registry itself.
	d1 := e.push("del/app", "old", randomImage(t, 1, false))
	e.waitTag("del", "app", "old", d1)
	waitIn(b, "b old", "old", func(h []string) bool { return len(h) == 1 })
	e.deleteTag("del/app", "old")
	waitIn(e.api, "default old deleted", "old", gone)
	waitIn(b, "b old deleted", "old", gone)

	// Deleted, then pushed again before the default cluster's delete job runs
	// (a slow mapping ahead of it in the lane): it finds the tag and removes nothing.
	first := e.push("del/app", "v1", randomImage(t, 1, false))
	e.waitTag("del", "app", "v1", first)
	waitIn(b, "b v1", "v1", func(h []string) bool { return len(h) == 1 })
	// mid's mapping is held 2s in the default cluster only; the delete event
	// and the second push queue behind it in the default cluster's v1 lane.
	slow := &emulator.Fault{Method: "POST", PathContains: "imagestreammappings", Delay: 2 * time.Second, Times: 1}
	e.api.Inject(slow)
	mid := e.push("del/app", "v1", randomImage(t, 1, false))
	e.deleteTag("del/app", "v1")
	waitIn(b, "b v1 deleted", "v1", gone) // b is not held: its delete ran while the registry had no v1
	second := e.push("del/app", "v1", randomImage(t, 1, false))
	if e.api.Fired(slow) != 1 || len(e.api.TagHistory("del", "app", "v1")) != 1 {
		t.Fatalf("the default cluster's lane was not held (fault fired %d, history %v): the test proves nothing",
			e.api.Fired(slow), e.api.TagHistory("del", "app", "v1"))
	}
	waitIn(b, "b v1 again", "v1", func(h []string) bool { return len(h) == 1 && h[0] == second })
	waitIn(e.api, "default v1 at the new digest, history kept", "v1", func(h []string) bool {
		return len(h) == 3 && h[0] == second && h[1] == mid && h[2] == first
	})
	e.waitFor("a stale delete", func() bool {
		return e.metric(`imagestream_bridge_events_skipped_total{reason="stale",registry="main"}`) >= 1
	})
	if got := e.metric(`imagestream_bridge_tags_deleted_total{cluster="default",registry="main"}`); got != 1 {
		t.Errorf("deleted in default = %v, want 1 (old only)", got)
	}
	if got := e.metric(`imagestream_bridge_tags_deleted_total{cluster="b",registry="main"}`); got != 2 {
		t.Errorf("deleted in b = %v, want 2 (old, v1)", got)
	}

	// Without deleteTags, a delete is skipped as before.
	if a := e.post("other", "Bearer other-token", eventsType, envelope(deleteEvent("o1", "del/app", "v1"))); a.status != http.StatusOK && a.status != http.StatusAccepted {
		t.Fatalf("other: %d %s", a.status, a.body)
	}
	if got := e.metric(`imagestream_bridge_events_skipped_total{reason="not_push",registry="other"}`); got != 1 {
		t.Errorf("other's delete skipped %v times as not_push, want 1", got)
	}
}

// TestResyncRemovesDeletedTags: with deleteTags, resync lists (dry run) and
// deletes (real run) the image stream tags, in every cluster, whose registry
// tag is gone; tags still in the registry and tags of other origins stay.
func TestResyncRemovesDeletedTags(t *testing.T) {
	e := startEnv(t, envOpts{clusters: []string{"b"},
		configure: func(c *config.Config) { c.Registries[0].DeleteTags = true }})
	b := e.clusters["b"]
	keep := e.push("rm/app", "keep", randomImage(t, 1, false))
	gone := e.push("rm/app", "gone", randomImage(t, 1, false))
	e.notify(event("k", "rm/app", "keep", keep, schema2), event("g", "rm/app", "gone", gone, schema2))
	for _, api := range []interface {
		TagHistory(ns, s, t string) []string
	}{e.api, b} {
		e.waitFor("mapped", func() bool {
			return len(api.TagHistory("rm", "app", "keep")) == 1 && len(api.TagHistory("rm", "app", "gone")) == 1
		})
	}
	e.deleteTag("rm/app", "gone") // the registry sends nothing: the delete event is "lost"

	cfgFile := e.cliConfig(false)
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", cfgFile, "--dry-run"}, &out, &errOut); code != 0 {
		t.Fatalf("dry run exit %d: %s", code, errOut.String())
	}
	plan := out.String()
	if strings.Count(plan, "removed") != 2 || !strings.Contains(plan, "default") || !strings.Contains(plan, "rm/app:gone") ||
		strings.Contains(plan, "rm/app:keep") || !strings.Contains(plan, "2 tags drifted (dry run") {
		t.Errorf("plan:\n%s", plan)
	}
	if len(e.api.TagHistory("rm", "app", "gone")) != 1 || len(b.TagHistory("rm", "app", "gone")) != 1 {
		t.Fatal("the dry run deleted a tag")
	}
	out.Reset()
	if code := app.Main(t.Context(), []string{"resync", "--config", cfgFile}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s\n%s", code, out.String(), errOut.String())
	}
	for _, api := range []interface {
		TagHistory(ns, s, t string) []string
	}{e.api, b} {
		if h := api.TagHistory("rm", "app", "gone"); len(h) != 0 {
			t.Errorf("gone still has %v", h)
		}
		if h := api.TagHistory("rm", "app", "keep"); len(h) != 1 || h[0] != keep {
			t.Errorf("keep has %v", h)
		}
	}
}

// TestReadyWhileTheDefaultClusterIsDown: readiness follows the event log, not
// the API server (issue 19): with the default cluster down the bridge stays
// ready and takes webhooks (the events wait in the log), cluster_up says the
// cluster is down, and the tag maps once it answers again.
func TestReadyWhileTheDefaultClusterIsDown(t *testing.T) {
	e := startEnv(t, envOpts{clusters: []string{"b"}})
	readyz := func() int {
		resp, err := http.Get(e.url + "/readyz")
		if err != nil {
			return 0
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := readyz(); code != http.StatusOK {
		t.Fatalf("readyz %d at start", code)
	}
	e.api.Inject(&emulator.Fault{Drop: true})
	d := e.push("ready/app", "v1", randomImage(t, 1, false))
	if a := e.notify(event("r1", "ready/app", "v1", d, schema2)); a.status != http.StatusAccepted {
		t.Fatalf("notification with the default cluster down: %d %s, want 202", a.status, a.body)
	}
	e.waitFor("cluster_up 0 for default", func() bool {
		return e.metric(`imagestream_bridge_cluster_up{cluster="default"}`) == 0
	})
	if e.metric(`imagestream_bridge_cluster_up{cluster="b"}`) != 1 {
		t.Error("cluster_up does not say b up")
	}
	d2 := e.push("ready/app", "v2", randomImage(t, 2, false))
	if a := e.notify(event("r2", "ready/app", "v2", d2, schema2)); a.status != http.StatusAccepted {
		t.Errorf("second notification with the default cluster down: %d %s, want 202", a.status, a.body)
	}
	if code := readyz(); code != http.StatusOK {
		t.Errorf("readyz %d with the default cluster down, want 200 (the log takes events)", code)
	}
	e.api.ClearFaults()
	e.waitTag("ready", "app", "v1", d)
	e.waitTag("ready", "app", "v2", d2)
}
