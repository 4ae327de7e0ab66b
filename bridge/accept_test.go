package bridge

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// TestAccept runs Accept over a memLog (no applier, so appended jobs stay
// put): what is skipped and why, what reaches the log, and the all-or-none
// refusal of a full log.
func TestAccept(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	const v2 = "application/vnd.docker.distribution.manifest.v2+json"
	push := func(repo, tag string) event.Event {
		return event.Event{ID: repo + ":" + tag, Action: event.Push, Repository: repo, Tag: tag, Digest: d, MediaType: v2}
	}
	with := func(ev event.Event, f func(*event.Event)) event.Event { f(&ev); return ev }
	for _, tc := range []struct {
		name      string
		queueSize int
		evs       []event.Event
		skips     []SkipReason
		journaled []string // namespace/stream:tag
		err       error
	}{
		{name: "empty envelope", queueSize: 10},
		{name: "tagged push", queueSize: 10, evs: []event.Event{push("team/app", "v1")},
			skips: []SkipReason{""}, journaled: []string{"team/app:v1"}},
		{name: "filtered and routed", queueSize: 10, evs: []event.Event{
			with(push("team/app", "v1"), func(e *event.Event) { e.Action = event.Pull }),
			with(push("team/app", "v1"), func(e *event.Event) { e.MediaType = "application/octet-stream" }),
			push("team/app", ""),
			push("team/app", "-bad"),
			with(push("team/app", "v1"), func(e *event.Event) { e.Digest = "md5:00" }),
			push("app", "v1"),
			push("blocked/app", "v1"),
			push("team/app", "v2"),
		}, skips: []SkipReason{SkipNotPush, SkipNotManifest, SkipUntagged, SkipInvalidName, SkipInvalidName,
			SkipUnmappedRepository, SkipNamespaceNotAllowed, ""}, journaled: []string{"team/app:v2"}},
		{name: "sender without media type or digest", queueSize: 10, evs: []event.Event{
			with(push("team/app", "v1"), func(e *event.Event) { e.MediaType = "" }),
			with(push("team/app", "v2"), func(e *event.Event) { e.MediaType, e.Digest = "", "" }),
		}, skips: []SkipReason{"", ""}, journaled: []string{"team/app:v1", "team/app:v2"}},
		{name: "queue full refuses all", queueSize: 1, evs: []event.Event{push("team/a", "v1"), push("team/b", "v1"), with(push("team/c", "v1"), func(e *event.Event) { e.Action = event.Delete })},
			skips: []SkipReason{"", "", SkipNotPush}, err: ErrQueueFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, obs, store := newTestBridge(t, `
queueSize: `+strconv.Itoa(tc.queueSize)+`
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
    namespaces: [team]
`, nil)
			skips, err := b.Accept(context.Background(), "main", tc.evs)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			if !slices.Equal(skips, tc.skips) && len(skips)+len(tc.skips) > 0 {
				t.Errorf("skips %q, want %q", skips, tc.skips)
			}
			var got []string
			for _, j := range store.appended {
				got = append(got, j.Namespace+"/"+j.Stream+":"+j.Tag)
			}
			if !slices.Equal(got, tc.journaled) {
				t.Errorf("journaled %q, want %q", got, tc.journaled)
			}
			for _, s := range tc.skips {
				if s != "" && obs.get("skipped main "+string(s)) == 0 {
					t.Errorf("skip %s not observed", s)
				}
			}
			if store.waiting() != len(tc.journaled) {
				t.Errorf("%d events in the log, want %d", store.waiting(), len(tc.journaled))
			}
		})
	}
	b, _, _ := newTestBridge(t, "registries: [{name: main, url: 'http://127.0.0.1:1', webhookToken: t}]", nil)
	if _, err := b.Accept(context.Background(), "nope", []event.Event{push("a/b", "c")}); !errors.Is(err, ErrUnknownRegistry) {
		t.Errorf("unknown registry: %v", err)
	}
}

// TestSkipLogCarriesDigestAndIsBounded: the debug line of a skipped event
// names its digest, and a huge repository costs a bounded line.
func TestSkipLogCarriesDigestAndIsBounded(t *testing.T) {
	b, _, _ := newTestBridge(t, `
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
`, nil)
	var buf strings.Builder
	b.log = slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	d := "sha256:" + strings.Repeat("cd", 32)
	evs := []event.Event{
		{ID: "1", Action: event.Push, Repository: "team/app", Tag: "", Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json"},
		{ID: "2", Action: event.Push, Repository: strings.Repeat("a/", 500000), Tag: "v1", Digest: d, MediaType: "application/vnd.oci.image.manifest.v1+json"},
	}
	if _, err := b.Accept(context.Background(), "main", evs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines, want 2:\n%s", len(lines), buf.String())
	}
	if !strings.Contains(lines[0], "digest="+d) || !strings.Contains(lines[0], "reason=untagged") {
		t.Errorf("skip line lacks the digest or reason: %s", lines[0])
	}
	if len(lines[1]) > 2048 {
		t.Errorf("skip line of a 1 MB repository is %d bytes", len(lines[1]))
	}
}

// TestAcceptFansOutPerCluster: one journaled job per target cluster that
// takes the namespace, each in its own lane; namespace_not_allowed only when
// no target takes it; a tag deletion becomes delete jobs only with deleteTags.
func TestAcceptFansOutPerCluster(t *testing.T) {
	d := "sha256:" + strings.Repeat("cd", 32)
	const v2 = "application/vnd.docker.distribution.manifest.v2+json"
	push := func(repo, tag string) event.Event {
		return event.Event{ID: repo + ":" + tag, Action: event.Push, Repository: repo, Tag: tag, Digest: d, MediaType: v2}
	}
	del := func(repo, tag string) event.Event {
		return event.Event{ID: "del " + repo + ":" + tag, Action: event.Delete, Repository: repo, Tag: tag}
	}
	b, obs, store := newTestBridge(t, `
clusters:
  - {name: b, kubeconfig: /nonexistent/b, namespaces: ["team-*"]}
  - {name: c, kubeconfig: /nonexistent/c}
registries:
  - {name: all, url: "http://127.0.0.1:1", webhookToken: t1}
  - {name: bonly, url: "http://127.0.0.1:1", webhookToken: t2, clusters: [b]}
  - {name: del, url: "http://127.0.0.1:1", webhookToken: t3, clusters: [default, b], deleteTags: true}
`, nil)
	for _, tc := range []struct {
		registry string
		evs      []event.Event
		skips    []SkipReason
		lanes    []string // Key and action of each journaled job
	}{
		{"all", []event.Event{push("team-a/app", "v1")}, []SkipReason{""},
			[]string{"team-a/app:v1 push", "b/team-a/app:v1 push", "c/team-a/app:v1 push"}},
		{"all", []event.Event{push("ops/app", "v1")}, []SkipReason{""},
			[]string{"ops/app:v1 push", "c/ops/app:v1 push"}},
		{"all", []event.Event{del("team-a/app", "v1")}, []SkipReason{SkipNotPush}, nil},
		{"bonly", []event.Event{push("ops/app", "v2"), push("team-x/app", "v2")}, []SkipReason{SkipNamespaceNotAllowed, ""},
			[]string{"b/team-x/app:v2 push"}},
		{"del", []event.Event{del("team-a/app", "v1"), del("team-a/app", ""), del("ops/app", "v1")},
			[]SkipReason{"", SkipNotPush, ""},
			[]string{"team-a/app:v1 delete", "b/team-a/app:v1 delete", "ops/app:v1 delete"}},
	} {
		store.appended = nil
		skips, err := b.Accept(context.Background(), tc.registry, tc.evs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(skips, tc.skips) {
			t.Errorf("%s %v: skips %q, want %q", tc.registry, tc.evs, skips, tc.skips)
		}
		var got []string
		for _, j := range store.appended {
			action := "push"
			if j.Action != "" {
				action = j.Action
			}
			got = append(got, j.Key()+" "+action)
			if j.Registry != tc.registry || j.Seq == 0 {
				t.Errorf("job %+v: registry or seq not set", j)
			}
		}
		if !slices.Equal(got, tc.lanes) {
			t.Errorf("%s: journaled %q, want %q", tc.registry, got, tc.lanes)
		}
	}
	if n := obs.get("skipped bonly namespace_not_allowed"); n != 1 {
		t.Errorf("namespace_not_allowed counted %d times, want 1", n)
	}
	if n := store.waiting(); n != 9 {
		t.Errorf("%d events in the log, want 9 (one per job)", n)
	}
}
