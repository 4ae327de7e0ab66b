package e2e_test

import (
	"bytes"
	"slices"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// streamTags lists the status tags of ns/stream.
func (e *env) streamTags(ns, stream string) []string {
	e.t.Helper()
	var out []string
	if s := e.api.Stream(ns, stream); s != nil {
		for _, t := range s.Status.Tags {
			out = append(out, t.Tag)
		}
	}
	return out
}

// TestRollupTagsWithRealPushes pushes releases through the registry's own
// notifications to a registry with derivedTags: the roll-up tags follow the
// highest release of their line whatever order the workers apply the pushes
// in, a pre-release rolls up nowhere, an unprefixed line rolls up alike, and
// a lower release pushed later moves nothing (and posts no roll-up again), and
// with deleteTags deleting a line's highest release moves its roll-up back
// (or deletes it with the line's last release).
func TestRollupTagsWithRealPushes(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Registries[0].DerivedTags = config.DerivedTags{Semver: true, Latest: true}
		c.Registries[0].DeleteTags = true
	}})
	d123 := e.push("roll/app", "v1.2.3", randomImage(t, 1, false))
	d130 := e.push("roll/app", "v1.3.0", randomImage(t, 1, false))
	d124 := e.push("roll/app", "v1.2.4", randomImage(t, 1, false))
	rc := e.push("roll/app", "v2.0.0-rc.1", randomImage(t, 1, false))
	for tag, d := range map[string]string{"v1.2.3": d123, "v1.3.0": d130, "v1.2.4": d124, "v2.0.0-rc.1": rc,
		"v1.2": d124, "v1.3": d130, "v1": d130, "latest": d130} {
		e.waitTag("roll", "app", tag, d)
	}
	if tags := e.streamTags("roll", "app"); len(tags) != 8 || slices.Contains(tags, "v2") || slices.Contains(tags, "v2.0") {
		t.Errorf("stream tags %v, want the four pushed and v1.2, v1.3, v1, latest (nothing for v2)", tags)
	}
	if n := e.metric(`imagestream_bridge_derived_tags_total{cluster="default",registry="main",result="mapped"}`); n < 4 {
		t.Errorf("derived_tags_total mapped = %v, want at least 4", n)
	}

	// A lower release pushed later moves nothing, and the roll-ups already on
	// their image are not posted again: one mapping, v1.2.2's own.
	before := e.api.MappingCount.Load()
	d122 := e.push("roll/app", "v1.2.2", randomImage(t, 1, false))
	e.waitTag("roll", "app", "v1.2.2", d122)
	e.waitFor("the v1.2.2 job done, roll-up step included", func() bool {
		return e.metric(`imagestream_bridge_mappings_total{cluster="default",registry="main",result="mapped"}`) >= 5
	})
	if got := e.api.MappingCount.Load() - before; got != 1 {
		t.Errorf("pushing the lower v1.2.2 posted %d mappings, want 1 (its own)", got)
	}
	if h := e.api.TagHistory("roll", "app", "v1.2"); len(h) == 0 || h[0] != d124 {
		t.Errorf("v1.2 history %v after pushing v1.2.2, want v1.2.4 (%s) on top", h, d124)
	}

	// Without a prefix, 1.2.3 rolls up to 1.2 and 1 (and latest of its repository).
	p123 := e.push("roll/plain", "1.2.3", randomImage(t, 1, false))
	for _, tag := range []string{"1.2.3", "1.2", "1", "latest"} {
		e.waitTag("roll", "plain", tag, p123)
	}

	// deleteTags: deleting v1.2.4 moves v1.2 back to v1.2.3 (above v1.2.2); v1 and latest stay on v1.3.0.
	e.deleteTag("roll/app", "v1.2.4")
	e.waitFor("v1.2.4 deleted", func() bool { return !slices.Contains(e.streamTags("roll", "app"), "v1.2.4") })
	e.waitTag("roll", "app", "v1.2", d123)
	for tag, d := range map[string]string{"v1": d130, "latest": d130, "v1.3": d130} {
		if h := e.api.TagHistory("roll", "app", tag); len(h) == 0 || h[0] != d {
			t.Errorf("%s history %v after deleting v1.2.4, want %s on top", tag, h, d)
		}
	}
	// Deleting v1.3.0, the last release of its line, deletes v1.3 and moves v1 and latest back to v1.2.3.
	e.deleteTag("roll/app", "v1.3.0")
	e.waitFor("v1.3.0 and v1.3 deleted", func() bool {
		tags := e.streamTags("roll", "app")
		return !slices.Contains(tags, "v1.3.0") && !slices.Contains(tags, "v1.3")
	})
	e.waitTag("roll", "app", "v1", d123)
	e.waitTag("roll", "app", "latest", d123)
	if n := e.metric(`imagestream_bridge_derived_tags_total{cluster="default",registry="main",result="deleted"}`); n != 1 {
		t.Errorf("derived_tags_total deleted = %v, want 1", n)
	}
}

// TestResyncRepairsRollupTags: a roll-up tag moved by something else (here
// the registry "other", which derives nothing) is moved back by resync, and
// with deleteTags resync never removes a roll-up tag although the registry
// never lists one.
func TestResyncRepairsRollupTags(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Registries[0].DerivedTags = config.DerivedTags{Semver: true, Latest: true}
		c.Registries[0].DeleteTags = true
		c.Registries[0].DeleteTagsMaxShare = 1
	}})
	d1 := e.push("fix/app", "v1.0.0", randomImage(t, 1, false))
	d2 := e.push("fix/app", "v1.1.0", randomImage(t, 1, false))
	for _, tag := range []string{"v1.1", "v1", "latest"} {
		e.waitTag("fix", "app", tag, d2)
	}
	e.waitTag("fix", "app", "v1.0", d1)
	// Moved by hand: v1 now holds the older release.
	if a := e.post("other", "Bearer other-token", eventsType, envelope(event("o1", "fix/app", "v1", d1, schema2))); a.status != 202 && a.status != 200 {
		t.Fatalf("other: %d %s", a.status, a.body)
	}
	e.waitTag("fix", "app", "v1", d1)

	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", e.cliConfig(false)}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s", code, errOut.String())
	}
	if !bytes.Contains(out.Bytes(), []byte("1 tags drifted")) {
		t.Errorf("resync output:\n%s", out.String())
	}
	e.waitTag("fix", "app", "v1", d2)
	if tags := e.streamTags("fix", "app"); len(tags) != 6 {
		t.Errorf("stream tags after resync %v, want v1.0.0, v1.1.0, v1.0, v1.1, v1, latest", tags)
	}
	out.Reset()
	app.Main(t.Context(), []string{"resync", "--config", e.cliConfig(false), "--dry-run"}, &out, &errOut)
	if !bytes.Contains(out.Bytes(), []byte("0 tags drifted")) {
		t.Errorf("second resync found drift:\n%s", out.String())
	}
}

// TestRollupTagsCountAgainstTheTagLimit: with maxTagsPerStream and
// derivedTags, one lock per stream serves both (no deadlock), and a new
// roll-up tag counts as a new tag: at the limit it is left out (tag_limit)
// while the roll-ups the stream has keep moving, even to a release whose own
// tag found no room.
func TestRollupTagsCountAgainstTheTagLimit(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Registries[0].DerivedTags = config.DerivedTags{Semver: true, Latest: true}
		c.Registries[0].MaxTagsPerStream = 3
	}})
	d1 := e.push("cap/app", "v1.0.0", randomImage(t, 1, false))
	e.waitTag("cap", "app", "v1.0", d1)
	e.waitTag("cap", "app", "v1", d1)
	limited := `imagestream_bridge_derived_tags_total{cluster="default",registry="main",result="tag_limit"}`
	e.waitFor("latest left out at the limit", func() bool { return e.metric(limited) >= 1 })
	if tags := e.streamTags("cap", "app"); len(tags) != 3 || slices.Contains(tags, "latest") {
		t.Fatalf("stream tags %v, want v1.0.0, v1.0 and v1", tags)
	}
	// Re-pushing v1.0.0 moves it and its roll-ups.
	d2 := e.push("cap/app", "v1.0.0", randomImage(t, 1, false))
	e.waitTag("cap", "app", "v1.0.0", d2)
	e.waitTag("cap", "app", "v1.0", d2)
	e.waitTag("cap", "app", "v1", d2)
	// v1.0.1 is a new tag beyond the limit (skipped), yet the roll-ups the
	// stream has follow it: they follow the registry's releases.
	d3 := e.push("cap/app", "v1.0.1", randomImage(t, 1, false))
	e.waitFor("v1.0.1 skipped as tag_limit", func() bool {
		return e.metric(`imagestream_bridge_events_skipped_total{reason="tag_limit",registry="main"}`) >= 1
	})
	e.waitTag("cap", "app", "v1.0", d3)
	e.waitTag("cap", "app", "v1", d3)
	if tags := e.streamTags("cap", "app"); len(tags) != 3 || slices.Contains(tags, "v1.0.1") {
		t.Errorf("stream tags %v, want v1.0.0, v1.0 and v1", tags)
	}
}

// TestResyncCreatesMissingRollups: releases whose notifications were lost
// (or mapped before derivedTags was on) get their roll-up tags from one
// resync pass, one repair job per release.
func TestResyncCreatesMissingRollups(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { // the registry sends nothing
		c.Registries[0].DerivedTags = config.DerivedTags{Semver: true}
	}})
	d1 := e.push("lost/app", "v1.0.0", randomImage(t, 1, false))
	d2 := e.push("lost/app", "v1.1.0", randomImage(t, 1, false))
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", e.cliConfig(false)}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s", code, errOut.String())
	}
	// v1.0.0, v1.1.0, v1.0, v1.1 and v1 missing; two jobs.
	if !bytes.Contains(out.Bytes(), []byte("5 tags drifted")) {
		t.Errorf("resync output:\n%s", out.String())
	}
	for tag, d := range map[string]string{"v1.0.0": d1, "v1.0": d1, "v1.1.0": d2, "v1.1": d2, "v1": d2} {
		e.waitTag("lost", "app", tag, d)
	}
	if n := e.api.MappingCount.Load(); n != 5 {
		t.Errorf("%d mappings posted, want 5 (two releases, three roll-ups)", n)
	}
}

// TestDeletedRegistryTagGivesWayToTheRollup: a project that pushes its own
// v1.2 keeps it in the stream (the registry's tag wins); when that registry
// tag is deleted (deleteTags), the roll-up v1.2 takes its place at once,
// following the line's highest release, without waiting for a resync.
func TestDeletedRegistryTagGivesWayToTheRollup(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Registries[0].DerivedTags = config.DerivedTags{Semver: true}
		c.Registries[0].DeleteTags = true
	}})
	d123 := e.push("own/app", "v1.2.3", randomImage(t, 1, false))
	e.waitTag("own", "app", "v1", d123)
	own := e.push("own/app", "v1.2", randomImage(t, 1, false))
	e.waitTag("own", "app", "v1.2", own)

	e.deleteTag("own/app", "v1.2")
	e.waitTag("own", "app", "v1.2", d123)
	if h := e.api.TagHistory("own", "app", "v1"); len(h) == 0 || h[0] != d123 {
		t.Errorf("v1 history %v, want v1.2.3 (%s) on top", h, d123)
	}
}
