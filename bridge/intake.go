package bridge

import (
	"context"
	"crypto/x509"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/distribution/distribution/v3/notifications"
	"github.com/labstack/echo/v4"

	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
)

// NotifyResponse is the webhook's 2xx answer.
type NotifyResponse struct {
	// Queued events will become mappings.
	Queued int `json:"queued"`
	// Skipped events were well-formed but are not mapped (see the skip metrics and logs).
	Skipped int `json:"skipped"`
	// Duplicates were accepted before (same event id).
	Duplicates int `json:"duplicates"`
}

// notify is POST /notifications/:registry.
func (s *Server) notify(c echo.Context) error {
	start := time.Now()
	req := c.Request()
	name := c.Param("registry")
	src, ok := s.b.registries[name]
	if !ok {
		// Answered exactly as a wrong token, so that registry names cannot be enumerated.
		return newError(KindUnauthorized, "missing or wrong bearer token for registry %q", clip(name))
	}
	if !src.token.check(req.Header.Get(echo.HeaderAuthorization)) {
		return newError(KindUnauthorized, "missing or wrong bearer token for registry %q", name)
	}
	if src.clientCAs != nil && !verifiedBy(req, src.clientCAs) {
		return newError(KindUnauthorized, "registry %q requires a client certificate signed by its clientCAFile", name)
	}
	if !s.leading.Load() {
		return &Error{Kind: KindNotLeader, Message: "this replica is not the leader", RetryAfter: time.Second}
	}
	if !acceptableContentType(req.Header.Get(echo.HeaderContentType)) {
		return newError(KindUnsupportedMediaType, "content type %q is not a notification envelope", req.Header.Get(echo.HeaderContentType))
	}
	limit := s.cfg.MaxBodyBytes
	if req.ContentLength > limit {
		return newError(KindTooLarge, "body of %d bytes is over the %d byte limit", req.ContentLength, limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Response(), req.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return newError(KindTooLarge, "body is over the %d byte limit", limit)
		}
		return newError(KindMalformed, "read body: %v", err)
	}
	events, err := decodeEnvelope(body)
	if err != nil {
		return newError(KindMalformed, "%v", err)
	}

	var resp NotifyResponse
	jobs := make([]*journal.Job, 0, len(events))
	outcome := make([]string, len(events))
	for i := range events {
		ev := &events[i]
		job, reason := toJob(name, src.router, ev)
		switch {
		case job == nil:
			outcome[i] = "skipped"
			resp.Skipped++
			s.metrics.Skipped.WithLabelValues(name, reason).Inc()
			s.logSkip(name, ev, reason)
		case job.ID != "" && s.dedup.seen(name+"/"+job.ID):
			outcome[i] = "duplicate"
			resp.Duplicates++
		default:
			outcome[i] = "queued"
			jobs = append(jobs, job)
		}
	}
	ok, err = s.b.Enqueue(req.Context(), jobs)
	if !ok || err != nil {
		for i := range events {
			if outcome[i] == "queued" {
				s.metrics.Events.WithLabelValues(name, metrics.Action(events[i].Action), "rejected").Inc()
			}
		}
		if err != nil {
			return err
		}
		return &Error{Kind: KindQueueFull, Message: "queue is full (" + strconv.FormatInt(s.b.pipeline.Capacity(), 10) + " events): retry later", RetryAfter: time.Second}
	}
	for _, j := range jobs {
		if j.ID != "" {
			s.dedup.add(name + "/" + j.ID)
		}
	}
	for i := range events {
		s.metrics.Events.WithLabelValues(name, metrics.Action(events[i].Action), outcome[i]).Inc()
	}
	resp.Queued = len(jobs)
	s.metrics.AckDuration.WithLabelValues(name).Observe(time.Since(start).Seconds())
	if resp.Queued > 0 {
		return c.JSON(http.StatusAccepted, resp)
	}
	return c.JSON(http.StatusOK, resp)
}

// logSkip logs skipped events at debug level: pull and blob noise is most of the traffic.
// Every string from the event is clipped: a log line costs bounded bytes.
func (s *Server) logSkip(registry string, ev *notifications.Event, reason string) {
	if !s.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	s.log.Debug("event skipped", "event", clip(ev.ID), "registry", registry, "action", clip(ev.Action),
		"repository", clip(ev.Target.Repository), "tag", clip(ev.Target.Tag), "digest", clip(ev.Target.Digest.String()),
		"media_type", clip(ev.Target.MediaType), "outcome", "skipped", "reason", reason)
}

// maxLogString bounds each string from a request that reaches a log line.
const maxLogString = 256

// clip shortens s to maxLogString bytes, marking the cut.
func clip(s string) string {
	if len(s) <= maxLogString {
		return s
	}
	return s[:maxLogString] + "...(" + strconv.Itoa(len(s)) + " bytes)"
}

// verifiedBy reports whether the request's client certificate chains to pool.
func verifiedBy(req *http.Request, pool *x509.CertPool) bool {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range req.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := req.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err == nil
}
