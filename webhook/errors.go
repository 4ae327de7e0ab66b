package webhook

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// Kind is a class of webhook error; errorTable gives its HTTP status and code.
type Kind int

// Webhook error kinds.
const (
	KindInternal Kind = iota
	KindUnauthorized
	KindForbidden
	KindNotFound
	KindMethodNotAllowed
	KindTooLarge
	KindUnsupportedMediaType
	KindMalformed
	KindQueueFull
	KindNotLeader
	KindUnavailable
	// KindTimeout: the body did not arrive within the server's read timeout (retryable).
	KindTimeout
)

// errorTable is the one place that turns an error kind into an answer.
var errorTable = map[Kind]struct {
	status int
	code   string
}{
	KindInternal:             {http.StatusInternalServerError, "INTERNAL"},
	KindUnauthorized:         {http.StatusUnauthorized, "UNAUTHORIZED"},
	KindForbidden:            {http.StatusForbidden, "FORBIDDEN"},
	KindNotFound:             {http.StatusNotFound, "NOT_FOUND"},
	KindMethodNotAllowed:     {http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED"},
	KindTooLarge:             {http.StatusRequestEntityTooLarge, "BODY_TOO_LARGE"},
	KindUnsupportedMediaType: {http.StatusUnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"},
	KindMalformed:            {http.StatusBadRequest, "MALFORMED_ENVELOPE"},
	KindQueueFull:            {http.StatusServiceUnavailable, "QUEUE_FULL"},
	KindNotLeader:            {http.StatusServiceUnavailable, "NOT_LEADER"},
	KindUnavailable:          {http.StatusServiceUnavailable, "UNAVAILABLE"},
	KindTimeout:              {http.StatusRequestTimeout, "REQUEST_TIMEOUT"},
}

// Error is an error the webhook answers with; a handler or the Domain returns
// it and httpErrorHandler writes the answer.
type Error struct {
	Kind       Kind
	Message    string
	RetryAfter time.Duration
}

func (e *Error) Error() string { return e.Message }

func newError(k Kind, format string, a ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, a...)}
}

// errorBody is the JSON answer for every error.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// httpErrorHandler is Echo's error handler: handlers just return errors.
func (s *Server) httpErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var e *Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
	case errors.As(err, &he):
		e = &Error{Kind: KindInternal, Message: http.StatusText(he.Code)}
		switch he.Code {
		case http.StatusNotFound:
			e.Kind = KindNotFound
		case http.StatusMethodNotAllowed:
			e.Kind = KindMethodNotAllowed
		case http.StatusRequestEntityTooLarge:
			e.Kind = KindTooLarge
		case http.StatusUnauthorized:
			e.Kind = KindUnauthorized
		}
	default:
		e = &Error{Kind: KindInternal, Message: "internal error"}
		s.log.Error("request failed", "path", c.Path(), "error", err.Error())
	}
	row := errorTable[e.Kind]
	if e.RetryAfter > 0 {
		c.Response().Header().Set("Retry-After", strconv.Itoa(int(e.RetryAfter.Round(time.Second)/time.Second)))
	}
	if row.status < 500 {
		s.logRejected(c, row.status, e.Message)
	}
	var body errorBody
	body.Error.Code, body.Error.Message = row.code, e.Message
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(row.status)
		return
	}
	_ = c.JSON(row.status, body)
}

// rejectLog rate-limits logs of rejected requests so a flood cannot fill disks.
type rejectLog struct {
	lim     *rate.Limiter
	dropped func()
}

func newRejectLog(dropped func()) *rejectLog {
	return &rejectLog{lim: rate.NewLimiter(5, 20), dropped: dropped}
}

func (s *Server) logRejected(c echo.Context, status int, msg string) {
	if !s.rejects.lim.Allow() {
		s.rejects.dropped()
		return
	}
	// The path is redacted: /notifications/NAME/TOKEN carries a secret.
	s.log.Warn("request rejected", "status", status, "path", redactedPath(c.Request().URL.EscapedPath()),
		"remote", c.Request().RemoteAddr, "reason", msg)
}
