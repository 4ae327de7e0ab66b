package bridge

import (
	"context"
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
