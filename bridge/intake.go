package bridge

import (
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

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
		return newError(KindUnknownRegistry, "unknown registry %q", name)
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
			s.logSkip(name, ev.ID, ev.Target.Repository, ev.Target.Tag, reason)
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
func (s *Server) logSkip(registry, id, repository, tag, reason string) {
	s.log.Debug("event skipped", "event", id, "registry", registry, "repository", repository, "tag", tag,
		"outcome", "skipped", "reason", reason)
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
