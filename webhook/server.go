// Package webhook is the bridge's HTTP face: the listener (timeouts, TLS with
// a reloading key pair, client certificates per registry), sender
// authentication, decoding of notification envelopes into events, duplicate
// detection, the one error-to-answer table, health and readiness, /metrics,
// and the admin endpoints served on the admin socket. It hands the decoded
// events to the domain through the small Domain interface and never touches
// the queue, the event log or the registries.
package webhook

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// Domain is what the webhook needs of the bridge.
type Domain interface {
	// Accept takes the events of one authenticated registry and reports, per
	// event, whether it was queued (false: deliberately skipped). An *Error
	// answers with its kind (KindQueueFull); any other error answers 500.
	Accept(ctx context.Context, registry string, evs []event.Event) (queued []bool, err error)
	// Failed lists the failed events.
	Failed() ([]FailedEvent, error)
	// Replay and Drop act on the failed events with the given sequence numbers, all when empty.
	Replay(seqs []uint64) (int, error)
	Drop(seqs []uint64) (int, error)
	// Stalled reports workers that finished nothing for too long while events wait.
	Stalled() (bool, time.Duration)
}

// Observer receives the webhook's measurements (package metrics implements it).
type Observer interface {
	// Notification counts one answer; registry is "unknown" when not configured.
	Notification(registry string, code int)
	// Event counts one event by action and outcome (queued, skipped, duplicate, rejected).
	Event(registry, action, outcome string)
	// Acked is the time from receiving a notification to answering it.
	Acked(registry string, d time.Duration)
	// RejectedLogDropped counts a suppressed log line about a rejected request.
	RejectedLogDropped()
}

// dedupWindow is how many event keys are remembered per process.
const dedupWindow = 16384

// Server serves notifications, health and metrics on the listener and the
// admin endpoints on their own handler (AdminHandler).
type Server struct {
	cfg     *config.Config
	domain  Domain
	obs     Observer
	log     *slog.Logger
	echo    *echo.Echo
	peers   map[string]*peer
	dedup   *dedup
	rejects *rejectLog
	// leading is true while this replica takes events: every replica on a
	// shared (cluster) event log, only the applier on an embedded one.
	leading atomic.Bool
	// ready is true while the event log takes appends.
	ready atomic.Bool
	// stopping is set when shutdown begins: readiness fails from then on,
	// whatever the event log says, while the listener may still serve.
	stopping atomic.Bool
}

// New builds the server for cfg's registries. metrics serves /metrics.
func New(cfg *config.Config, d Domain, obs Observer, metrics http.Handler, log *slog.Logger) (*Server, error) {
	s := &Server{cfg: cfg, domain: d, obs: obs, log: log, dedup: newDedup(dedupWindow), peers: map[string]*peer{}}
	for _, rc := range cfg.Registries {
		p, err := newPeer(rc)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", rc.Name, err)
		}
		s.peers[rc.Name] = p
	}
	s.rejects = newRejectLog(obs.RejectedLogDropped)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpErrorHandler
	e.POST("/notifications/:registry", s.notify, s.countNotifications)
	// The path token, for senders that cannot set a header (Quay); accepted for every sender.
	e.POST("/notifications/:registry/:token", s.notify, s.countNotifications)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(metrics))
	s.echo = e
	return s, nil
}

// SetLeading marks whether this replica takes events (see Server.leading).
func (s *Server) SetLeading(v bool) { s.leading.Store(v) }

// SetReady marks readiness.
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// Stopping fails readiness for good: shutdown has begun. The listener keeps
// serving until Serve's ctx ends, so that a load balancer that polls /readyz
// stops sending to this replica before it stops listening.
func (s *Server) Stopping() { s.stopping.Store(true) }

// countNotifications records every answer of the webhook, errors included.
func (s *Server) countNotifications(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := next(c); err != nil {
			c.Error(err)
		}
		name := c.Param("registry")
		if _, ok := s.peers[name]; !ok {
			name = "unknown"
		}
		s.obs.Notification(name, c.Response().Status)
		return nil
	}
}

func (s *Server) readyz(c echo.Context) error {
	switch {
	case s.stopping.Load():
		return &Error{Kind: KindUnavailable, Message: "shutting down"}
	case !s.ready.Load():
		return &Error{Kind: KindUnavailable, Message: "not ready"}
	case !s.leading.Load():
		return &Error{Kind: KindNotLeader, Message: "not the leader"}
	}
	if stalled, idle := s.domain.Stalled(); stalled {
		return &Error{Kind: KindUnavailable, Message: fmt.Sprintf("workers finished no event for %s while events wait", idle.Round(time.Second))}
	}
	return c.String(http.StatusOK, "ok\n")
}

// HTTPServer returns the configured *http.Server with timeouts and, with TLS, certificate reloading.
func (s *Server) HTTPServer() (*http.Server, error) {
	hs := &http.Server{
		Addr:              s.cfg.ListenAddress,
		Handler:           s.echo,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       90 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	if s.cfg.TLS.CertFile == "" {
		return hs, nil
	}
	kp, err := newKeyPair(s.cfg.TLS.CertFile, s.cfg.TLS.KeyFile, keyPairCheckInterval)
	if err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}
	for _, p := range s.peers {
		if p.clientCAs != nil {
			// Certificates are checked per registry in the handler, against that registry's CA.
			tc.ClientAuth = tls.RequestClientCert
		}
	}
	hs.TLSConfig = tc
	return hs, nil
}

// Serve runs hs on ln until ctx ends, then shuts it down within grace.
func (s *Server) Serve(ctx context.Context, hs *http.Server, ln net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() {
		var err error
		if hs.TLSConfig != nil {
			err = hs.ServeTLS(ln, "", "")
		} else {
			err = hs.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	s.Stopping()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down http: %w", err)
	}
	return nil
}
