package bridge

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// TestAccept runs Accept over a memory journal and the real queue (workers
// not started, so queued jobs stay put): what is skipped and why, what reaches
// the journal, and the all-or-none refusal of a full queue.
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
			if b.Depth() != len(tc.journaled) {
				t.Errorf("queue depth %d, want %d", b.Depth(), len(tc.journaled))
			}
		})
	}
	b, _, _ := newTestBridge(t, "registries: [{name: main, url: 'http://127.0.0.1:1', webhookToken: t}]", nil)
	if _, err := b.Accept(context.Background(), "nope", []event.Event{push("a/b", "c")}); !errors.Is(err, ErrUnknownRegistry) {
		t.Errorf("unknown registry: %v", err)
	}
}
