package bridge

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/rest"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
)

// TestReadyzNoticesStalledWorkers: with the only worker stuck and an event
// waiting, /readyz turns 503 once the stall limit passes.
func TestReadyzNoticesStalledWorkers(t *testing.T) {
	hang := make(chan struct{})
	reg := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			return
		}
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer reg.Close()
	defer close(hang)
	cfg, err := config.Parse([]byte(`
workers: 1
registries:
  - name: main
    url: ` + reg.URL + `
    webhookToken: t
    fetchTimeout: 10m
`))
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New(prometheus.NewRegistry(), "test", []string{"main"})
	api, err := NewAPI(&rest.Config{Host: "http://127.0.0.1:1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	b, err := New(cfg, api, journal.NewMemory(), m, log)
	if err != nil {
		t.Fatal(err)
	}
	b.stallLimit = 200 * time.Millisecond
	s := NewServer(cfg, b, m, prometheus.NewRegistry(), log)
	s.SetLeading(true)
	s.SetReady(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); b.Pipeline().Stop() }()
	b.Start(ctx)
	readyz := func() (int, string) {
		rec := httptest.NewRecorder()
		s.echo.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := readyz(); code != 200 {
		t.Fatalf("readyz %d before any work", code)
	}
	d := "sha256:" + strings.Repeat("ab", 32)
	ok, err := b.Enqueue(ctx, []*journal.Job{
		{Registry: "main", Repository: "a/b", Namespace: "a", Stream: "b", Tag: "t1", Digest: d},
		{Registry: "main", Repository: "a/b", Namespace: "a", Stream: "b", Tag: "t2", Digest: d},
	})
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		code, body := readyz()
		if code == http.StatusServiceUnavailable && strings.Contains(body, "finished no event") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("readyz still %d %s with the only worker stuck", code, body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClipAndEventID(t *testing.T) {
	long := strings.Repeat("y", 1<<20)
	if c := clip(long); len(c) > maxLogString+32 || !strings.HasSuffix(c, "(1048576 bytes)") {
		t.Errorf("clip kept %d bytes", len(c))
	}
	if c := clip("short"); c != "short" {
		t.Errorf("clip changed a short string: %q", c)
	}
	uuid := "01a218bb-4fe6-7aa0-b1bb-750e74b5560a"
	if eventID(uuid) != uuid {
		t.Error("a UUID id was changed")
	}
	if id := eventID(long); len(id) > 71 || id != eventID(long) || id == eventID(long[1:]) {
		t.Errorf("long id not replaced by a stable hash: %d bytes", len(id))
	}
}
