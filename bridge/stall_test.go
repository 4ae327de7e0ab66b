package bridge

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// TestStalledWithStuckWorker: with the only worker stuck (on a registry that
// never answers, stuckFetcher) and an event waiting, Stalled turns true once
// the stall limit passes.
func TestStalledWithStuckWorker(t *testing.T) {
	b, _, _ := newTestBridge(t, `
workers: 1
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
`, nil)
	b.stallLimit = 200 * time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); b.Stop() }()
	b.Start(ctx)
	if stalled, _ := b.Stalled(); stalled {
		t.Fatal("stalled before any work")
	}
	d := "sha256:" + strings.Repeat("ab", 32)
	push := func(tag string) event.Event {
		return event.Event{Action: event.Push, Repository: "a/b", Tag: tag, Digest: d,
			MediaType: "application/vnd.oci.image.manifest.v1+json"}
	}
	if _, err := b.Accept(ctx, "main", []event.Event{push("t1"), push("t2")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if stalled, idle := b.Stalled(); stalled && idle >= b.stallLimit {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not stalled with the only worker stuck")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClip(t *testing.T) {
	long := strings.Repeat("y", 1<<20)
	if c := clip(long); len(c) > maxLogString+32 || !strings.HasSuffix(c, "(1048576 bytes)") {
		t.Errorf("clip kept %d bytes", len(c))
	}
	if c := clip("short"); c != "short" {
		t.Errorf("clip changed a short string: %q", c)
	}
}
