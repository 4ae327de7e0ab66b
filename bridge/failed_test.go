package bridge

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestFailureCountsWithoutReadingTheList: a permanent failure moves the job
// to the failed list and reports the list's length from the log's count; the
// list itself is never read for it (10,000 entries made every failure cost a
// copy of the whole list).
func TestFailureCountsWithoutReadingTheList(t *testing.T) {
	b, obs, log := newTestBridge(t, "registries: [{name: main, url: 'http://127.0.0.1:1', webhookToken: t}]", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); b.Stop() }()
	b.Start(ctx)
	// A job of a registry that left the config fails for good (invalid).
	if err := log.Append(ctx, []*Job{{ID: "e1", Registry: "gone", Namespace: "ns", Stream: "s", Tag: "t"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for obs.get("failed_events 1") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the failure was not counted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := obs.get("failed main invalid") + obs.get("failed gone invalid"); n != 1 {
		t.Errorf("failed counted %d times, want 1", n)
	}
	log.mu.Lock()
	listed := log.listed
	log.mu.Unlock()
	if listed != 0 {
		t.Errorf("the failed list was read %d times to count it, want 0", listed)
	}
}

// TestStoredJobsAreCheckedAgainstTheConfig: the log is shared (on a cluster,
// any client allowed to publish to its stream can append), so the applier
// refuses, before any fetch or API call, a stored job that Accept would not
// have built from its registry's config: a namespace outside namespaces, a
// namespace or stream the mapping does not give, an invalid tag.
func TestStoredJobsAreCheckedAgainstTheConfig(t *testing.T) {
	b, obs, log := newTestBridge(t, `
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
    namespaces: [team]
`, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); b.Stop() }()
	b.Start(ctx)
	d := "sha256:" + strings.Repeat("ab", 32)
	jobs := []*Job{
		{ID: "e1", Registry: "main", Repository: "other/app", Namespace: "other", Stream: "app", Tag: "v1", Digest: d},
		{ID: "e2", Registry: "main", Repository: "team/app", Namespace: "kube-system", Stream: "app", Tag: "v1", Digest: d},
		{ID: "e3", Registry: "main", Repository: "team/app", Namespace: "team", Stream: "app", Tag: "../v1", Digest: d},
	}
	if err := log.Append(ctx, jobs); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for obs.get("failed main invalid") < len(jobs) {
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d hostile jobs failed as invalid", obs.get("failed main invalid"), len(jobs))
		}
		time.Sleep(5 * time.Millisecond)
	}
	list, _ := log.FailedList(ctx)
	for _, f := range list {
		if !strings.Contains(f.Message, "not admitted by the config") {
			t.Errorf("job %s failed with %q, want not admitted by the config", f.ID, f.Message)
		}
	}
}
