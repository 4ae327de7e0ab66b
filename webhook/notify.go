package webhook

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/imagestream-bridge/imagestream-bridge/event"
	"github.com/imagestream-bridge/imagestream-bridge/webhook/sender"
)

// NotifyResponse is the webhook's 2xx answer.
type NotifyResponse struct {
	// Queued events will become mappings.
	Queued int `json:"queued"`
	// Skipped events were well-formed but are not mapped (see the skip metrics and logs).
	Skipped int `json:"skipped"`
	// Duplicates were accepted before (same event).
	Duplicates int `json:"duplicates"`
	// Dropped events could not be queued (queue full, not the leader, journal error) but were
	// answered 2xx anyway: only for Quay, which switches a hook off after three failed
	// deliveries. Resync repairs them.
	Dropped int `json:"dropped,omitempty"`
}

// Intake outcomes of one event (the outcome label of imagestream_bridge_events_total).
const (
	outcomeQueued    = "queued"
	outcomeSkipped   = "skipped"
	outcomeDuplicate = "duplicate"
	outcomeRejected  = "rejected"
)

// notify is POST /notifications/:registry and POST /notifications/:registry/:token.
//
// The checks run in this order: 401 (unknown registry, wrong path token,
// wrong header token, missing client certificate), 503 (not the leader), 415
// (a content type the sender never sends), 413 (body over maxBodyBytes),
// 401 (an Artifactory body signature, which needs the bounded body), 400
// (malformed body). Everything else is 2xx.
func (s *Server) notify(c echo.Context) error {
	start := time.Now()
	req := c.Request()
	name := c.Param("registry")
	p, ok := s.peers[name]
	if !ok {
		// Answered exactly as a wrong token, so that registry names cannot be enumerated.
		return newError(KindUnauthorized, "missing or wrong token for registry %q", clip(name))
	}
	pathToken, hasPathToken, err := tokenParam(c)
	if err != nil {
		return newError(KindUnauthorized, "missing or wrong token for registry %q", name)
	}
	step := p.authenticate(req.Header, pathToken, hasPathToken)
	if step == authRejected {
		return newError(KindUnauthorized, "missing or wrong token for registry %q", name)
	}
	if p.clientCAs != nil && !verifiedBy(req, p.clientCAs) {
		return newError(KindUnauthorized, "registry %q requires a client certificate signed by its clientCAFile", name)
	}
	if !s.leading.Load() {
		return s.refuse(c, p, name, nil, &Error{Kind: KindNotLeader, Message: "this replica is not the leader", RetryAfter: time.Second})
	}
	if ct := req.Header.Get(echo.HeaderContentType); !sender.ContentTypeOK(p.kind, ct) {
		return newError(KindUnsupportedMediaType, "content type %q is not one a %s sender sends", clip(ct), p.kind)
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
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return newError(KindTimeout, "read body: %v", err)
		}
		return newError(KindMalformed, "read body: %v", err)
	}
	if step == authNeedsBody && !p.authenticateBody(req.Header, body) {
		return newError(KindUnauthorized, "missing or wrong token for registry %q", name)
	}
	events, err := decode(p.kind, body)
	if err != nil {
		return newError(KindMalformed, "%v", err)
	}

	// Duplicates of events queued before are answered without reaching the domain.
	outcome := make([]string, len(events))
	fresh := events[:0:0]
	for i := range events {
		if key, ok := dedupKey(name, &events[i]); ok && s.dedup.seen(key) {
			outcome[i] = outcomeDuplicate
			continue
		}
		fresh = append(fresh, events[i])
	}
	queued, err := s.domain.Accept(req.Context(), name, fresh)
	var resp NotifyResponse
	k := 0
	for i := range events {
		if outcome[i] == outcomeDuplicate {
			resp.Duplicates++
			continue
		}
		switch {
		case k < len(queued) && !queued[k]:
			outcome[i] = outcomeSkipped
			resp.Skipped++
		case err != nil:
			outcome[i] = outcomeRejected
		default:
			outcome[i] = outcomeQueued
			resp.Queued++
			if key, ok := dedupKey(name, &events[i]); ok {
				s.dedup.add(key)
			}
		}
		k++
	}
	for i := range events {
		// A refused request counts only its refused events: the sender sends it all again.
		if err == nil || outcome[i] == outcomeRejected {
			s.obs.Event(name, events[i].Action, outcome[i])
		}
	}
	if err != nil {
		return s.refuse(c, p, name, events, err)
	}
	s.obs.Acked(name, time.Since(start))
	if resp.Queued > 0 {
		return c.JSON(http.StatusAccepted, resp)
	}
	return c.JSON(http.StatusOK, resp)
}

// refuse answers a notification the bridge cannot take now. Every sender
// gets the error (it retries), except one that switches its hook off after a
// few failed deliveries (sender.AcksRefusals: Quay): it gets 200 with the
// events counted as dropped (they were counted rejected), a warning is
// logged, and resync repairs what they named.
func (s *Server) refuse(c echo.Context, p *peer, name string, events []event.Event, err error) error {
	if !sender.AcksRefusals(p.kind) {
		return err
	}
	resp := NotifyResponse{Dropped: len(events)}
	s.log.Warn("notification dropped with 200 (Quay disables a hook after 3 failed deliveries); resync repairs it",
		"registry", name, "events", len(events), "error", err.Error())
	return c.JSON(http.StatusOK, resp)
}

// tokenParam returns the path token of /notifications/:registry/:token,
// unescaped, and whether the URL has one.
func tokenParam(c echo.Context) (string, bool, error) {
	for _, n := range c.ParamNames() {
		if n == "token" {
			tok, err := url.PathUnescape(c.Param("token"))
			return tok, true, err
		}
	}
	return "", false, nil
}

// redactedPath is a request path as it may be logged: under /notifications/
// only the registry segment is kept, so that a path token never reaches a
// log line, an answer or a metric.
func redactedPath(p string) string {
	rest, ok := strings.CutPrefix(p, "/notifications/")
	if !ok {
		return clip(p)
	}
	reg, more, _ := strings.Cut(rest, "/")
	if more != "" {
		return "/notifications/" + clip(reg) + "/REDACTED"
	}
	return "/notifications/" + clip(reg)
}

// maxLogString bounds each string from a request that reaches an answer or a log line.
const maxLogString = 256

// clip shortens s to maxLogString bytes, marking the cut.
func clip(s string) string {
	if len(s) <= maxLogString {
		return s
	}
	return s[:maxLogString] + "...(" + strconv.Itoa(len(s)) + " bytes)"
}
