package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// stalledDomain accepts nothing and reports its workers stalled.
type stalledDomain struct{ idle time.Duration }

func (stalledDomain) Accept(context.Context, string, []event.Event) ([]bool, error) { return nil, nil }
func (stalledDomain) Failed() ([]FailedEvent, error)                                { return nil, nil }
func (stalledDomain) Replay([]uint64) (int, error)                                  { return 0, nil }
func (stalledDomain) Drop([]uint64) (int, error)                                    { return 0, nil }
func (d stalledDomain) Stalled() (bool, time.Duration)                              { return d.idle > 0, d.idle }

type nopObserver struct{}

func (nopObserver) Notification(string, int)     {}
func (nopObserver) Event(string, string, string) {}
func (nopObserver) Acked(string, time.Duration)  {}
func (nopObserver) RejectedLogDropped()          {}

// TestReadyz: /readyz answers 503 before ready, on a follower, while the
// domain's workers are stalled and once shutdown began, and 200 otherwise.
func TestReadyz(t *testing.T) {
	cfg, err := config.Parse([]byte("registries: [{name: main, url: 'http://r', webhookToken: t}]"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		ready, leading bool
		stopping       bool
		idle           time.Duration
		code           int
		body           string
	}{
		{name: "starting", leading: true, code: 503, body: "not ready"},
		{name: "follower", ready: true, code: 503, body: "NOT_LEADER"},
		{name: "stalled", ready: true, leading: true, idle: 3 * time.Minute, code: 503, body: "finished no event for 3m0s"},
		{name: "ready", ready: true, leading: true, code: 200, body: "ok"},
		{name: "stopping", ready: true, leading: true, stopping: true, code: 503, body: "shutting down"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(cfg, stalledDomain{tc.idle}, nopObserver{}, http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatal(err)
			}
			s.SetReady(tc.ready)
			s.SetLeading(tc.leading)
			if tc.stopping {
				s.Stopping()
			}
			rec := httptest.NewRecorder()
			s.echo.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/readyz", nil))
			if rec.Code != tc.code || !strings.Contains(rec.Body.String(), tc.body) {
				t.Errorf("readyz %d %s, want %d with %q", rec.Code, rec.Body.String(), tc.code, tc.body)
			}
		})
	}
}

// TestAdminFailedEmpty: a domain with no failed events (a nil list) is
// answered with an empty list, never null, which the failed command reads as 0.
func TestAdminFailedEmpty(t *testing.T) {
	cfg, err := config.Parse([]byte("registries: [{name: main, url: 'http://r', webhookToken: t}]"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, stalledDomain{}, nopObserver{}, http.NotFoundHandler(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	s.AdminHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/admin/failed", nil))
	if rec.Code != http.StatusOK || strings.TrimSpace(rec.Body.String()) != `{"failed":[]}` {
		t.Errorf("/admin/failed: %d %s, want 200 {\"failed\":[]}", rec.Code, rec.Body.String())
	}
}
