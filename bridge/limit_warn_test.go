package bridge

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// warnRecorder is a slog.Handler that keeps the stream of every warning
// logged through it.
type warnRecorder struct {
	mu      sync.Mutex
	streams []string
}

func (r *warnRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *warnRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *warnRecorder) WithGroup(string) slog.Handler            { return r }

func (r *warnRecorder) Handle(_ context.Context, rec slog.Record) error {
	if rec.Level != slog.LevelWarn {
		return nil
	}
	stream := ""
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == "stream" {
			stream = a.Value.String()
		}
		return true
	})
	r.mu.Lock()
	r.streams = append(r.streams, stream)
	r.mu.Unlock()
	return nil
}

func (r *warnRecorder) count(stream string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, s := range r.streams {
		if s == stream {
			n++
		}
	}
	return n
}

// TestTagLimitWarnsOncePerStreamPerHour: a stream at maxTagsPerStream skips
// every new tag, but its warning is logged once per stream per hour
// (tagLimitWarnEvery): not on every skip, and again once the hour is over.
// Another full stream is warned about on its own.
func TestTagLimitWarnsOncePerStreamPerHour(t *testing.T) {
	api := &oneStreamAPI{tags: map[string]bool{"a": true, "b": true}}
	b, _, _ := newTestBridge(t, `
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
    maxTagsPerStream: 2
`, api)
	rec := &warnRecorder{}
	b.log = slog.New(rec)
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := start
	b.now = func() time.Time { return now }
	src := b.registries["main"]
	cl := src.targets[0]

	skip := func(stream, tag string) {
		t.Helper()
		j := &Job{Registry: "main", Namespace: "team", Stream: stream, Tag: tag}
		var se *skipError
		if err := b.checkTagLimit(context.Background(), src, cl, j); !errors.As(err, &se) || se.reason != SkipTagLimit {
			t.Fatalf("%s:%s at %v: got %v, want a %s skip", stream, tag, now.Sub(start), err, SkipTagLimit)
		}
	}
	steps := []struct {
		after        time.Duration // since start
		stream, tag  string
		app, backend int // warnings logged so far, per stream
	}{
		{0, "app", "c", 1, 0},
		{time.Second, "app", "d", 1, 0},
		{time.Minute, "app", "c", 1, 0},
		{time.Minute, "backend", "c", 1, 1},
		{tagLimitWarnEvery - time.Second, "app", "e", 1, 1},
		{tagLimitWarnEvery, "app", "f", 2, 1},
		{tagLimitWarnEvery + time.Second, "app", "g", 2, 1},
		{tagLimitWarnEvery + time.Minute - time.Second, "backend", "d", 2, 1},
		{tagLimitWarnEvery + time.Minute, "backend", "d", 2, 2},
		{3 * tagLimitWarnEvery, "app", "h", 3, 2},
	}
	for _, s := range steps {
		now = start.Add(s.after)
		skip(s.stream, s.tag)
		if app, backend := rec.count("app"), rec.count("backend"); app != s.app || backend != s.backend {
			t.Fatalf("after skipping %s:%s at +%v: %d warnings for app, %d for backend; want %d and %d",
				s.stream, s.tag, s.after, app, backend, s.app, s.backend)
		}
	}
}
