package e2e_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// TestWebhookAnswers drives the webhook contract: every hostile or malformed
// request gets a clear error and nothing is mapped; every well-formed
// envelope from an authenticated registry gets a 2xx, skipped or not.
func TestWebhookAnswers(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.Registries[0].Namespaces = []string{"team", "ci-*"} }})
	digest := e.push("team/app", "v1", randomImage(t, 1, false))
	const mt = "application/vnd.docker.distribution.manifest.v2+json"
	good := envelope(event("good-1", "team/app", "v1", digest, mt))
	big := bytes.Repeat([]byte(" "), 1<<20+1)

	withEvent := func(mut func(ev map[string]any)) []byte {
		ev := event("x", "team/app", "v1", digest, mt)
		mut(ev)
		return envelope(ev)
	}
	target := func(k string, v any) func(map[string]any) {
		return func(ev map[string]any) { ev["target"].(map[string]any)[k] = v }
	}

	for _, tc := range []struct {
		name        string
		registry    string
		auth        string
		contentType string
		body        []byte
		status      int
		contains    string
	}{
		{"no token", "main", "", eventsType, good, 401, "UNAUTHORIZED"},
		{"wrong token", "main", "Bearer nope", eventsType, good, 401, "UNAUTHORIZED"},
		{"other registry's token", "main", "Bearer other-token", eventsType, good, 401, "UNAUTHORIZED"},
		{"basic instead of bearer", "main", "Basic " + token, eventsType, good, 401, "UNAUTHORIZED"},
		{"token prefix only", "main", "Bearer " + token[:4], eventsType, good, 401, "UNAUTHORIZED"},
		// An unknown name answers as a wrong token: registry names cannot be enumerated.
		{"unknown registry", "nope", "Bearer " + token, eventsType, good, 401, "UNAUTHORIZED"},
		{"unknown registry without token", "nope", "", eventsType, good, 401, "UNAUTHORIZED"},
		{"wrong content type", "main", "Bearer " + token, "text/plain", good, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"no content type", "main", "Bearer " + token, "", good, 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"too large", "main", "Bearer " + token, eventsType, big, 413, "BODY_TOO_LARGE"},
		{"not json", "main", "Bearer " + token, eventsType, []byte("{"), 400, "MALFORMED_ENVELOPE"},
		// An envelope without events is well formed (people probe endpoints this way).
		{"empty object", "main", "Bearer " + token, eventsType, []byte(`{}`), 200, `{"queued":0,"skipped":0,"duplicates":0}`},
		{"no events key", "main", "Bearer " + token, eventsType, []byte(`{"evts":[]}`), 200, `"queued":0`},
		{"events null", "main", "Bearer " + token, eventsType, []byte(`{"events":null}`), 200, `"queued":0`},
		{"events not array", "main", "Bearer " + token, eventsType, []byte(`{"events":{}}`), 400, "MALFORMED_ENVELOPE"},
		{"trailing garbage", "main", "Bearer " + token, eventsType, append(append([]byte{}, good...), []byte("{}")...), 400, "MALFORMED_ENVELOPE"},
		{"timestamp not a time", "main", "Bearer " + token, eventsType, withEvent(func(ev map[string]any) { ev["timestamp"] = "noon" }), 400, "MALFORMED_ENVELOPE"},
		{"empty events", "main", "Bearer " + token, eventsType, []byte(`{"events":[]}`), 200, `"queued":0`},
		{"v1 content type", "main", "Bearer " + token, "application/vnd.docker.distribution.events.v1+json; charset=utf-8", []byte(`{"events":[]}`), 200, ""},
		{"json content type", "main", "Bearer " + token, "application/json", []byte(`{"events":[]}`), 200, ""},
		{"pull skipped", "main", "Bearer " + token, eventsType, withEvent(func(ev map[string]any) { ev["action"] = "pull" }), 200, `"skipped":1`},
		{"delete skipped", "main", "Bearer " + token, eventsType, withEvent(func(ev map[string]any) { ev["action"] = "delete" }), 200, `"skipped":1`},
		{"mount skipped", "main", "Bearer " + token, eventsType, withEvent(func(ev map[string]any) { ev["action"] = "mount" }), 200, `"skipped":1`},
		{"blob skipped", "main", "Bearer " + token, eventsType, withEvent(target("mediaType", "application/octet-stream")), 200, `"skipped":1`},
		{"untagged skipped", "main", "Bearer " + token, eventsType, withEvent(target("tag", "")), 200, `"skipped":1`},
		{"deep repository skipped", "main", "Bearer " + token, eventsType, withEvent(target("repository", "team/group/app")), 200, `"skipped":1`},
		{"single-part repository skipped", "main", "Bearer " + token, eventsType, withEvent(target("repository", "app")), 200, `"skipped":1`},
		{"namespace not allowed", "main", "Bearer " + token, eventsType, withEvent(target("repository", "kube-system/app")), 200, `"skipped":1`},
		{"invalid tag", "main", "Bearer " + token, eventsType, withEvent(target("tag", "-bad")), 200, `"skipped":1`},
		{"path traversal repository", "main", "Bearer " + token, eventsType, withEvent(target("repository", "team/../../etc")), 200, `"skipped":1`},
		{"digest too short", "main", "Bearer " + token, eventsType, withEvent(target("digest", "sha256:abcd")), 200, `"skipped":1`},
		{"digest unknown algorithm", "main", "Bearer " + token, eventsType, withEvent(target("digest", "md5:"+strings.Repeat("a", 32))), 200, `"skipped":1`},
		{"stream name invalid", "main", "Bearer " + token, eventsType, withEvent(target("repository", "team/app__x")), 200, `"skipped":1`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := e.post(tc.registry, tc.auth, tc.contentType, tc.body)
			if a.status != tc.status || !strings.Contains(a.body, tc.contains) {
				t.Errorf("answer %d %q, want %d containing %q", a.status, a.body, tc.status, tc.contains)
			}
		})
	}
	// Nothing above was mapped and the service is healthy.
	if n := e.api.MappingCount.Load(); n != 0 {
		t.Errorf("%d mappings after hostile and skipped input, want 0", n)
	}
	if s := e.api.Stream("team", "app"); s != nil {
		t.Error("image stream created by rejected input")
	}
	if code, err := getStatus(http.DefaultClient, e.url+"/healthz"); err != nil || code != 200 {
		t.Fatalf("healthz after hostile input: %v %v", err, code)
	}
	// The good envelope still works afterwards, and fetching ignored the
	// attacker host named in target.url and request.host.
	if a := e.notify(event("good-1", "team/app", "v1", digest, mt)); a.status != http.StatusAccepted {
		t.Fatalf("good envelope: %d %s", a.status, a.body)
	}
	e.waitTag("team", "app", "v1", digest)
	if got := e.metric(`imagestream_bridge_notifications_total{code="401",registry="main"}`); got != 5 {
		t.Errorf("401 count = %v, want 5", got)
	}
	if got := e.metric(`imagestream_bridge_events_skipped_total{reason="namespace_not_allowed",registry="main"}`); got != 1 {
		t.Errorf("namespace_not_allowed skips = %v, want 1", got)
	}
}

// TestMappingRules routes deep repositories with strip-prefix, fixed-namespace and join rules.
func TestMappingRules(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) { c.Registries[0].Mapping = config.Mapping{StripPrefix: "mirror", Join: "-"} }})
	const mt = "application/vnd.docker.distribution.manifest.v2+json"
	d := e.push("mirror/team/group/app", "v1", randomImage(t, 1, false))
	if a := e.notify(event("m1", "mirror/team/group/app", "v1", d, mt)); a.status != 202 {
		t.Fatalf("answer %d %s", a.status, a.body)
	}
	e.waitTag("team", "group-app", "v1", d)
	if a := e.notify(event("m2", "team/app", "v1", d, mt)); !strings.Contains(a.body, `"skipped":1`) {
		t.Errorf("repository outside the prefix: %s", a.body)
	}
}

// TestDuplicateDelivery re-sends one event, as the registry does after a timeout.
func TestDuplicateDelivery(t *testing.T) {
	e := startEnv(t, envOpts{})
	d := e.push("dup/app", "v1", randomImage(t, 1, false))
	ev := event("same-id", "dup/app", "v1", d, "application/vnd.docker.distribution.manifest.v2+json")
	first := e.notify(ev)
	second := e.notify(ev)
	if first.status != 202 || second.status != 200 || !strings.Contains(second.body, `"duplicates":1`) {
		t.Fatalf("answers %d %s / %d %s", first.status, first.body, second.status, second.body)
	}
	e.waitTag("dup", "app", "v1", d)
	// Even a duplicate that slips past the window is harmless: history stays one entry.
	if a := e.notify(event("other-id", "dup/app", "v1", d, "application/vnd.docker.distribution.manifest.v2+json")); a.status != 202 {
		t.Fatal(a.body)
	}
	e.waitFor("second mapping", func() bool { return e.api.MappingCount.Load() == 2 })
	if h := e.api.TagHistory("dup", "app", "v1"); len(h) != 1 {
		t.Errorf("history %v, want one entry", h)
	}
}

// FuzzNotifyHandler posts arbitrary bodies to a running bridge: every answer
// is a defined status and the service stays healthy.
func FuzzNotifyHandler(f *testing.F) {
	for _, s := range []string{`{"events":[]}`, `{"events":[{"action":"push","target":{"tag":"v1"}}]}`, `{`, `null`, `{"events":[{"timestamp":"x"}]}`} {
		f.Add([]byte(s))
	}
	e := startEnv(f, envOpts{quiet: true})
	f.Fuzz(func(t *testing.T, body []byte) {
		e.t = t
		a := e.post("main", "Bearer "+token, eventsType, body)
		switch a.status {
		case 200, 202, 400, 413:
		default:
			t.Fatalf("status %d for %q: %s", a.status, body, a.body)
		}
		if !strings.HasPrefix(a.body, "{") {
			t.Fatalf("answer is not JSON: %q", a.body)
		}
		e.t = f
	})
}
