package e2e_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// TestTagFilterWithRealPushes pushes through the registry's own notifications
// to a registry whose tags filter keeps v-prefixed releases of 1.x except
// release candidates: the kept tags appear, the filtered ones never do (not on
// push, not through resync), and each filtered push is counted.
func TestTagFilterWithRealPushes(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Registries[0].Tags = config.Tags{Include: []string{"v*"}, Exclude: []string{"*-rc*"}, Semver: ">=1.0.0-0 <2.0.0"}
		c.Registries[0].DeleteTags = true
		c.Registries[0].DeleteTagsMaxShare = 1
	}})
	kept := e.push("pol/app", "v1.2.3", randomImage(t, 1, false))
	for _, tag := range []string{"sha-1a2b3c", "v1.3.0-rc.1", "v2.0.0", "1.2.4", "v01.2.3"} {
		e.push("pol/app", tag, randomImage(t, 1, false))
	}
	pre := e.push("pol/app", "v1.4.0-beta.1", randomImage(t, 1, false))
	e.waitTag("pol", "app", "v1.2.3", kept)
	e.waitTag("pol", "app", "v1.4.0-beta.1", pre)
	e.waitFor("five filtered pushes counted", func() bool {
		return e.metric(`imagestream_bridge_events_skipped_total{reason="filtered",registry="main"}`) >= 5
	})
	// A filtered tag mapped by another route (registry "other", same
	// registry host, no filter), then deleted in the registry: main's delete
	// event is filtered too, and resync must not delete it either.
	old := e.push("pol/app", "sha-old", randomImage(t, 1, false))
	if a := e.post("other", "Bearer other-token", eventsType, envelope(event("o1", "pol/app", "sha-old", old, schema2))); a.status != 202 && a.status != 200 {
		t.Fatalf("other: %d %s", a.status, a.body)
	}
	e.waitTag("pol", "app", "sha-old", old)
	e.deleteTag("pol/app", "sha-old")
	e.waitFor("the push and the delete of sha-old filtered", func() bool {
		return e.metric(`imagestream_bridge_events_skipped_total{reason="filtered",registry="main"}`) >= 7
	})
	assertTags := func(when string) {
		t.Helper()
		s := e.api.Stream("pol", "app")
		var got []string
		for _, tag := range s.Status.Tags {
			got = append(got, tag.Tag)
		}
		if len(got) != 3 {
			t.Fatalf("%s: stream tags %v, want only v1.2.3, v1.4.0-beta.1 and sha-old", when, got)
		}
	}
	assertTags("after the pushes")

	// Resync neither creates a filtered tag nor deletes one: a filtered tag
	// already in the stream (mapped before the filter existed) and gone from
	// the registry stays.
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", e.cliConfig(false)}, &out, &errOut); code != 0 {
		t.Fatalf("resync exit %d: %s", code, errOut.String())
	}
	assertTags("after resync")
	if !bytes.Contains(out.Bytes(), []byte("0 tags drifted")) {
		t.Errorf("resync found drift:\n%s", out.String())
	}
}

// TestTagLimitHoldsWithRealPushes pushes five new tags to a registry with
// maxTagsPerStream 3: exactly three become stream tags (whatever order the
// workers apply them in), two are skipped as tag_limit, and a tag the stream
// has keeps moving at the limit.
func TestTagLimitHoldsWithRealPushes(t *testing.T) {
	const limit = 3
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Registries[0].MaxTagsPerStream = limit
	}})
	for _, tag := range []string{"t1", "t2", "t3", "t4", "t5"} {
		e.push("lim/app", tag, randomImage(t, 1, false))
	}
	skipped := `imagestream_bridge_events_skipped_total{reason="tag_limit",registry="main"}`
	e.waitFor("two pushes skipped as tag_limit", func() bool { return e.metric(skipped) >= 2 })
	s := e.api.Stream("lim", "app")
	if len(s.Status.Tags) != limit {
		t.Fatalf("stream has %d tags, want %d", len(s.Status.Tags), limit)
	}
	moved := e.push("lim/app", s.Status.Tags[0].Tag, randomImage(t, 1, false))
	e.waitTag("lim", "app", s.Status.Tags[0].Tag, moved)
	e.push("lim/app", "t6", randomImage(t, 1, false))
	e.waitFor("t6 skipped", func() bool { return e.metric(skipped) >= 3 })
	if n := len(e.api.Stream("lim", "app").Status.Tags); n != limit || e.metric(skipped) != 3 {
		t.Fatalf("after moving a tag and pushing t6: %d tags, %v skipped; want %d and 3", n, e.metric(skipped), limit)
	}
}

// TestCreatedStreamLooksAsConfigured: a stream the bridge creates on a real
// push carries the registry's labels, annotations and lookup policy, as the
// API server stored them; a stream that existed is left as it was.
func TestCreatedStreamLooksAsConfigured(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) {
		c.Registries[0].Streams = config.Streams{LookupPolicyLocal: true,
			Labels:      map[string]string{"team": "payments", "app.kubernetes.io/managed-by": "imagestream-bridge"},
			Annotations: map[string]string{"example.com/owner": "payments@example.com"}}
	}})
	d := e.push("look/app", "v1", randomImage(t, 1, false))
	e.waitTag("look", "app", "v1", d)
	s := e.api.Stream("look", "app")
	if !s.Spec.LookupPolicy.Local {
		t.Error("spec.lookupPolicy.local is false, want true")
	}
	if s.Labels["team"] != "payments" || s.Labels["app.kubernetes.io/managed-by"] != "imagestream-bridge" || len(s.Labels) != 2 {
		t.Errorf("labels %v", s.Labels)
	}
	if s.Annotations["example.com/owner"] != "payments@example.com" {
		t.Errorf("annotations %v", s.Annotations)
	}

	// An existing stream is left alone: created beforehand without them, it keeps none.
	resp, err := http.Post(e.api.URL+"/apis/image.openshift.io/v1/namespaces/look/imagestreams", "application/json",
		strings.NewReader(`{"metadata":{"name":"old","namespace":"look"}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("creating look/old: %s", resp.Status)
	}
	d2 := e.push("look/old", "v2", randomImage(t, 1, false))
	e.waitTag("look", "old", "v2", d2)
	if old := e.api.Stream("look", "old"); old.Spec.LookupPolicy.Local || len(old.Labels) != 0 || len(old.Annotations) != 0 {
		t.Errorf("an existing stream was changed: lookup %v, labels %v, annotations %v", old.Spec.LookupPolicy.Local, old.Labels, old.Annotations)
	}
}
