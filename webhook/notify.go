package webhook

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// NotifyResponse is the webhook's 2xx answer.
type NotifyResponse struct {
	// Queued events will become mappings.
	Queued int `json:"queued"`
	// Skipped events were well-formed but are not mapped (see the skip metrics and logs).
	Skipped int `json:"skipped"`
	// Duplicates were accepted before (same event).
	Duplicates int `json:"duplicates"`
}

// Intake outcomes of one event (the outcome label of imagestream_bridge_events_total).
const (
	outcomeQueued    = "queued"
	outcomeSkipped   = "skipped"
	outcomeDuplicate = "duplicate"
	outcomeRejected  = "rejected"
)

// notify is POST /notifications/:registry.
func (s *Server) notify(c echo.Context) error {
	start := time.Now()
	req := c.Request()
	name := c.Param("registry")
	snd, ok := s.senders[name]
	if !ok {
		// Answered exactly as a wrong token, so that registry names cannot be enumerated.
		return newError(KindUnauthorized, "missing or wrong bearer token for registry %q", clip(name))
	}
	if !snd.checkToken(req.Header.Get(echo.HeaderAuthorization)) {
		return newError(KindUnauthorized, "missing or wrong bearer token for registry %q", name)
	}
	if snd.clientCAs != nil && !verifiedBy(req, snd.clientCAs) {
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

	// Duplicates of events queued before are answered without reaching the domain.
	outcome := make([]string, len(events))
	fresh := events[:0:0]
	for i := range events {
		if s.dedup.seen(name + "/" + events[i].DedupKey()) {
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
			s.dedup.add(name + "/" + events[i].DedupKey())
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
		return err
	}
	s.obs.Acked(name, time.Since(start))
	if resp.Queued > 0 {
		return c.JSON(http.StatusAccepted, resp)
	}
	return c.JSON(http.StatusOK, resp)
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
