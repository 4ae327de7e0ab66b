package e2e_test

import (
	"bytes"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// TestBareNotFoundNeverDeletesATag: a proxy answers one bare 404 (no body,
// no MANIFEST_UNKNOWN) to the manifest HEAD and one to the GET of a tag that
// exists; an authenticated delete event for that tag then deletes nothing: a
// bare 404 is no verdict (retried as no_verdict), and the next look finds the tag.
func TestBareNotFoundNeverDeletesATag(t *testing.T) {
	e := startEnv(t, envOpts{proxy: true, configure: func(c *config.Config) { c.Registries[0].DeleteTags = true }})
	d := e.push("bare/app", "v1", randomImage(t, 1, false))
	e.notify(event("p1", "bare/app", "v1", d, schema2))
	e.waitTag("bare", "app", "v1", d)

	head := e.proxy.inject(&bareRule{Method: "HEAD", Path: "/v2/bare/app/manifests/v1", Times: 1})
	get := e.proxy.inject(&bareRule{Method: "GET", Path: "/v2/bare/app/manifests/v1", Times: 1})
	e.notify(deleteEvent("d1", "bare/app", "v1"))
	e.waitFor("the delete job to end", func() bool {
		return len(e.api.TagHistory("bare", "app", "v1")) == 0 ||
			e.metric(`imagestream_bridge_events_skipped_total{reason="stale",registry="main"}`) >= 1
	})
	if h := e.api.TagHistory("bare", "app", "v1"); len(h) != 1 || h[0] != d {
		t.Fatalf("a bare 404 deleted a tag the registry has: history %v", h)
	}
	if e.proxy.fired(head) != 1 {
		t.Fatalf("the bare 404 never answered the HEAD (fired %d): the test proves nothing", e.proxy.fired(head))
	}
	if e.proxy.fired(get) == 1 && e.metric(`imagestream_bridge_retries_total{reason="no_verdict",stage="fetch"}`) < 1 {
		t.Error("a bare 404 to the GET was not retried as no_verdict")
	}
	if got := e.metric(`imagestream_bridge_tags_deleted_total{cluster="default",registry="main"}`); got != 0 {
		t.Errorf("tags deleted %v, want 0", got)
	}
}

// TestResyncBareNotFoundDeletesNothing: a proxy answers every tag listing and
// manifest lookup of one repository with a bare 404; resync with deleteTags
// reads that as a failed listing, not as "no tags", and deletes nothing.
func TestResyncBareNotFoundDeletesNothing(t *testing.T) {
	e := startEnv(t, envOpts{proxy: true, configure: func(c *config.Config) {
		c.Registries[0].DeleteTags = true
		c.Registries[0].DeleteTagsMaxShare = 1 // the verdict alone must hold, not the share
	}})
	tags := []string{"a", "b", "c"}
	for _, tag := range tags {
		d := e.push("bn/app", tag, randomImage(t, 1, false))
		e.notify(event("p"+tag, "bn/app", tag, d, schema2))
		e.waitTag("bn", "app", tag, d)
	}
	list := e.proxy.inject(&bareRule{Method: "GET", Path: "/v2/bn/app/tags/list", Times: -1})
	e.proxy.inject(&bareRule{Method: "HEAD", Path: "/v2/bn/app/manifests/", Times: -1})
	e.proxy.inject(&bareRule{Method: "GET", Path: "/v2/bn/app/manifests/", Times: -1})
	var out, errOut bytes.Buffer
	app.Main(t.Context(), []string{"resync", "--config", e.cliConfig(false)}, &out, &errOut)
	if e.proxy.fired(list) == 0 {
		t.Fatal("resync never listed the tags: the test proves nothing")
	}
	for _, tag := range tags {
		if h := e.api.TagHistory("bn", "app", tag); len(h) != 1 {
			t.Errorf("bn/app:%s history %v after resync saw bare 404s\n%s\n%s", tag, h, out.String(), errOut.String())
		}
	}
}

// TestResyncRefusesToRemoveMostOfAStream: with deleteTags and the default
// deleteTagsMaxShare (0.5), a pass that would remove 2 of a stream's 3 tags
// removes none of them; removing 1 of 3 proceeds.
func TestResyncRefusesToRemoveMostOfAStream(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.Registries[0].DeleteTags = true }})
	for _, tag := range []string{"a", "b", "c"} {
		d := e.push("most/app", tag, randomImage(t, 1, false))
		e.notify(event("p"+tag, "most/app", tag, d, schema2))
		e.waitTag("most", "app", tag, d)
	}
	e.deleteTag("most/app", "a")
	e.deleteTag("most/app", "b")
	cfgFile := e.cliConfig(false)
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", cfgFile}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s\n%s", code, out.String(), errOut.String())
	}
	for _, tag := range []string{"a", "b", "c"} {
		if h := e.api.TagHistory("most", "app", tag); len(h) != 1 {
			t.Errorf("most/app:%s history %v: resync removed 2 of 3 tags of one stream\n%s", tag, h, out.String())
		}
	}
	// One of three is below the share: removed.
	e.push("most/app", "a", randomImage(t, 1, false))
	out.Reset()
	if code := app.Main(t.Context(), []string{"resync", "--config", cfgFile}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s\n%s", code, out.String(), errOut.String())
	}
	if h := e.api.TagHistory("most", "app", "b"); len(h) != 0 {
		t.Errorf("most/app:b history %v: removing 1 of 3 tags was refused\n%s", h, out.String())
	}
}
