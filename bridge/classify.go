package bridge

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/registry"
)

// stageError records which stage of applying a job failed.
type stageError struct {
	stage string // "fetch" or "api"
	err   error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func inStage(stage string, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage: stage, err: err}
}

// skipError ends a job without a mapping; reason is a metrics.SkipReasons value.
type skipError struct{ reason, detail string }

func (e *skipError) Error() string { return e.detail }

// errSkipStale marks a verified job whose tag moved on before it was applied.
var errSkipStale = &skipError{reason: "stale", detail: "tag moved on since the event was planned or journaled"}

// classify is the one place that decides retry versus permanent failure.
func classify(err error) Outcome {
	o := Outcome{Err: err, Stage: "api"}
	var te *throttledError
	if errors.As(err, &te) {
		o.RetryAfter = te.after
	}
	var se *stageError
	if errors.As(err, &se) {
		o.Stage = se.stage
	}
	perm := func(reason string) Outcome { o.Permanent, o.Reason = true, reason; return o }
	retry := func(reason string) Outcome { o.Retry, o.Reason = true, reason; return o }

	var skip *skipError
	switch {
	case errors.As(err, &skip):
		return Outcome{Err: err, Skip: skip.reason} // done: nothing to apply
	case errors.Is(err, context.DeadlineExceeded):
		return retry("timeout")
	case errors.Is(err, context.Canceled):
		return retry("timeout")
	case errors.Is(err, mapping.ErrInvalidImage):
		return perm("invalid_image")
	case errors.Is(err, registry.ErrTooLarge), errors.Is(err, mapping.ErrTooManyChildren):
		return perm("too_large")
	case errors.Is(err, registry.ErrDigestMismatch):
		return perm("digest_mismatch")
	case errors.Is(err, registry.ErrRedirectRefused):
		return perm("redirect_refused")
	case errors.Is(err, registry.ErrTokenHostRefused):
		return perm("token_host_refused")
	case errors.Is(err, registry.ErrInvalidName):
		return perm("invalid")
	}

	if o.Stage == "fetch" {
		switch code := registry.StatusCode(err); {
		case code == 0:
			return retry("network")
		case code == http.StatusNotFound:
			return perm("manifest_not_found")
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return perm("registry_unauthorized")
		case code == http.StatusTooManyRequests:
			return retry("throttled")
		case code >= 500 || code == http.StatusRequestTimeout:
			return retry("server_error")
		default:
			return perm("registry_error")
		}
	}

	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return retry("network")
	}
	status := st.Status()
	msg := status.Message
	quota := strings.Contains(msg, "exceeded quota") || strings.Contains(msg, "exceeds the maximum limit")
	switch code := int(status.Code); {
	case code == http.StatusNotFound:
		if status.Details != nil && status.Details.Kind == "namespaces" {
			return perm("namespace_not_found")
		}
		if streamMissing(err) {
			return perm("stream_not_found")
		}
		return perm("api_error")
	case quota && (code == http.StatusForbidden || code == http.StatusUnprocessableEntity):
		return perm("quota")
	case code == http.StatusForbidden:
		return perm("forbidden")
	case code == http.StatusUnprocessableEntity:
		return perm("invalid")
	case code == http.StatusConflict:
		return retry("conflict")
	case code == http.StatusTooManyRequests:
		if status.Details != nil && status.Details.RetryAfterSeconds > 0 {
			o.RetryAfter = max(o.RetryAfter, time.Duration(status.Details.RetryAfterSeconds)*time.Second)
		}
		return retry("throttled")
	case code >= 500 || code == http.StatusRequestTimeout:
		if status.Details != nil && status.Details.RetryAfterSeconds > 0 {
			o.RetryAfter = max(o.RetryAfter, time.Duration(status.Details.RetryAfterSeconds)*time.Second)
		}
		return retry("server_error")
	case code == 0:
		return retry("network")
	default:
		return perm("api_error")
	}
}
