package bridge

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
)

// dedupWindow is how many event ids are remembered per process.
const dedupWindow = 16384

// Server is the HTTP face of the bridge: notifications, health and metrics on
// the listener; the admin endpoints on their own handler (AdminHandler).
type Server struct {
	cfg     *config.Config
	b       *Bridge
	log     *slog.Logger
	metrics *metrics.Metrics
	echo    *echo.Echo
	dedup   *dedup
	rejects *rejectLog
	// leading is true while this replica processes events.
	leading atomic.Bool
	// ready is true once the pipeline runs and until shutdown begins.
	ready atomic.Bool
}

// NewServer builds the HTTP server. gatherer serves /metrics.
func NewServer(cfg *config.Config, b *Bridge, m *metrics.Metrics, gatherer prometheus.Gatherer, log *slog.Logger) *Server {
	s := &Server{cfg: cfg, b: b, log: log, metrics: m, dedup: newDedup(dedupWindow)}
	s.rejects = newRejectLog(m.RejectedLogDrop.Inc)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpErrorHandler
	e.POST("/notifications/:registry", s.notify, s.countNotifications)
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})))
	s.echo = e
	return s
}

// AdminHandler serves /admin/failed, /admin/replay and /admin/drop. It is
// never mounted on the webhook listener: a same-pod proxy (a service-mesh
// sidecar) makes every request there look local. The caller serves it on the
// Unix socket adminSocket, whose file mode is the access control.
func (s *Server) AdminHandler() http.Handler {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.httpErrorHandler
	e.GET("/admin/failed", s.adminFailed)
	e.POST("/admin/replay", s.adminReplay)
	e.POST("/admin/drop", s.adminDrop)
	return e
}

// Handler is the server's http.Handler.
func (s *Server) Handler() http.Handler { return s.echo }

// SetLeading marks whether this replica processes events.
func (s *Server) SetLeading(v bool) { s.leading.Store(v) }

// SetReady marks readiness.
func (s *Server) SetReady(v bool) { s.ready.Store(v) }

// countNotifications records every answer of the webhook, errors included.
func (s *Server) countNotifications(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if err := next(c); err != nil {
			c.Error(err)
		}
		name := c.Param("registry")
		if _, ok := s.b.registries[name]; !ok {
			name = "unknown"
		}
		s.metrics.Notifications.WithLabelValues(name, strconv.Itoa(c.Response().Status)).Inc()
		return nil
	}
}

func (s *Server) readyz(c echo.Context) error {
	switch {
	case !s.ready.Load():
		return &Error{Kind: KindUnavailable, Message: "not ready"}
	case !s.leading.Load():
		return &Error{Kind: KindNotLeader, Message: "not the leader"}
	}
	if stalled, idle := s.b.Stalled(); stalled {
		return &Error{Kind: KindUnavailable, Message: fmt.Sprintf("workers finished no event for %s while events wait", idle.Round(time.Second))}
	}
	return c.String(http.StatusOK, "ok\n")
}

// FailedList is the admin answer listing failed events.
type FailedList struct {
	Failed []journal.Failed `json:"failed"`
}

func (s *Server) adminFailed(c echo.Context) error {
	list, err := s.b.Failed()
	if err != nil {
		return err
	}
	if list == nil {
		list = []journal.Failed{}
	}
	return c.JSON(http.StatusOK, FailedList{Failed: list})
}

// ReplayRequest selects failed events to replay; empty means all.
type ReplayRequest struct {
	Seqs []uint64 `json:"seqs"`
}

func (s *Server) adminReplay(c echo.Context) error {
	var req ReplayRequest
	if c.Request().ContentLength != 0 {
		if err := c.Bind(&req); err != nil {
			return newError(KindMalformed, "decode replay request: %v", err)
		}
	}
	n, err := s.b.Replay(req.Seqs)
	if err != nil {
		return err
	}
	s.log.Info("failed events replayed", "count", n)
	return c.JSON(http.StatusOK, map[string]int{"replayed": n})
}

// DropRequest selects failed events to remove for good; empty means all.
type DropRequest struct {
	Seqs []uint64 `json:"seqs"`
}

func (s *Server) adminDrop(c echo.Context) error {
	var req DropRequest
	if c.Request().ContentLength != 0 {
		if err := c.Bind(&req); err != nil {
			return newError(KindMalformed, "decode drop request: %v", err)
		}
	}
	n, err := s.b.Drop(req.Seqs)
	if err != nil {
		return err
	}
	s.log.Info("failed events dropped", "count", n)
	return c.JSON(http.StatusOK, map[string]int{"dropped": n})
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
	kp := &keyPair{cert: s.cfg.TLS.CertFile, key: s.cfg.TLS.KeyFile}
	if _, err := kp.get(nil); err != nil {
		return nil, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: kp.get}
	var pools []*x509.CertPool
	for _, src := range s.b.registries {
		if src.clientCAs != nil {
			pools = append(pools, src.clientCAs)
		}
	}
	if len(pools) > 0 {
		// Certificates are checked per registry in the handler, against that registry's CA.
		tc.ClientAuth = tls.RequestClientCert
	}
	hs.TLSConfig = tc
	return hs, nil
}

// Serve runs hs on ln until ctx ends, then shuts it down within the configured timeout.
func (s *Server) Serve(ctx context.Context, hs *http.Server, ln net.Listener) error {
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
	s.ready.Store(false)
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout.Duration/2)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("shut down http: %w", err)
	}
	return nil
}

// ListenURL renders the address a client on this host would use.
func ListenURL(addr string, tlsOn bool) string {
	scheme := "http"
	if tlsOn {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return scheme + "://" + addr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(strings.Trim(host, "[]"), port)
}
