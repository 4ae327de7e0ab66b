package bridge

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
)

// Result is what became of one attempt at a job.
type Result int

// Results.
const (
	// Mapped: the API server stored the mapping.
	Mapped Result = iota
	// Skipped: the job is done without a mapping (Outcome.Skip says why).
	Skipped
	// Retried: a transient failure; the job runs again after a backoff (Outcome.Retry).
	Retried
	// Failed: a permanent failure; the job goes to the failed list (Outcome.Failure).
	Failed
)

// Outcome classifies the result of applying a job.
type Outcome struct {
	Result  Result
	Skip    SkipReason
	Retry   RetryReason
	Failure FailureReason
	// Stage is where a retried or failed job failed.
	Stage Stage
	// RetryAfter is the least backoff the server asked for.
	RetryAfter time.Duration
	Err        error
}

// Reason is the outcome's reason as logged: the skip, retry or failure reason.
func (o Outcome) Reason() string {
	switch o.Result {
	case Skipped:
		return string(o.Skip)
	case Retried:
		return string(o.Retry)
	case Failed:
		return string(o.Failure)
	}
	return ""
}

// stageError records which stage of applying a job failed.
type stageError struct {
	stage Stage
	err   error
}

func (e *stageError) Error() string { return e.err.Error() }
func (e *stageError) Unwrap() error { return e.err }

func inStage(stage Stage, err error) error {
	if err == nil {
		return nil
	}
	return &stageError{stage: stage, err: err}
}

// skipError ends a job without a mapping.
type skipError struct {
	reason SkipReason
	detail string
}

func (e *skipError) Error() string { return e.detail }

// errSkipStale marks a verified job whose tag moved on before it was applied.
var errSkipStale = &skipError{reason: SkipStale, detail: "tag moved on since the event was planned or journaled"}

// classify is the one place that decides retry versus permanent failure.
func classify(err error) Outcome {
	if err == nil {
		return Outcome{Result: Mapped}
	}
	o := Outcome{Err: err, Stage: StageAPI}
	var ra interface{ RetryAfter() time.Duration }
	if errors.As(err, &ra) {
		o.RetryAfter = ra.RetryAfter()
	}
	var se *stageError
	if errors.As(err, &se) {
		o.Stage = se.stage
	}
	perm := func(reason FailureReason) Outcome { o.Result, o.Failure = Failed, reason; return o }
	retry := func(reason RetryReason) Outcome { o.Result, o.Retry = Retried, reason; return o }

	var skip *skipError
	switch {
	case errors.As(err, &skip):
		return Outcome{Result: Skipped, Skip: skip.reason, Err: err} // done: nothing to apply
	case errors.Is(err, ErrNoVerdict):
		return retry(RetryNoVerdict)
	case errors.Is(err, context.DeadlineExceeded):
		return retry(RetryTimeout)
	case errors.Is(err, context.Canceled):
		return retry(RetryTimeout)
	case errors.Is(err, mapping.ErrInvalidImage):
		return perm(FailInvalidImage)
	case errors.Is(err, ErrTooLarge), errors.Is(err, mapping.ErrTooManyChildren):
		return perm(FailTooLarge)
	case errors.Is(err, ErrDigestMismatch):
		return perm(FailDigestMismatch)
	case errors.Is(err, ErrRedirectRefused):
		return perm(FailRedirectRefused)
	case errors.Is(err, ErrTokenHostRefused):
		return perm(FailTokenHostRefused)
	case errors.Is(err, ErrInvalidName), errors.Is(err, errNotConfigured), errors.Is(err, errNotAdmitted):
		return perm(FailInvalid)
	}

	if o.Stage == StageFetch {
		switch code := StatusCode(err); {
		case code == 0:
			return retry(RetryNetwork)
		case code == http.StatusNotFound:
			return perm(FailManifestNotFound)
		case code == http.StatusUnauthorized || code == http.StatusForbidden:
			return perm(FailRegistryUnauthorized)
		case code == http.StatusTooManyRequests:
			return retry(RetryThrottled)
		case code >= 500 || code == http.StatusRequestTimeout:
			return retry(RetryServerError)
		default:
			return perm(FailRegistryError)
		}
	}

	var st apierrors.APIStatus
	if !errors.As(err, &st) {
		return retry(RetryNetwork)
	}
	status := st.Status()
	msg := status.Message
	quota := strings.Contains(msg, "exceeded quota") || strings.Contains(msg, "exceeds the maximum limit")
	switch code := int(status.Code); {
	case code == http.StatusNotFound:
		if status.Details != nil && status.Details.Kind == "namespaces" {
			return perm(FailNamespaceNotFound)
		}
		if streamMissing(err) {
			return perm(FailStreamNotFound)
		}
		return perm(FailAPIError)
	case quota && (code == http.StatusForbidden || code == http.StatusUnprocessableEntity):
		return perm(FailQuota)
	case code == http.StatusForbidden:
		return perm(FailForbidden)
	case code == http.StatusUnprocessableEntity:
		return perm(FailInvalid)
	case code == http.StatusConflict:
		return retry(RetryConflict)
	case code == http.StatusTooManyRequests:
		if status.Details != nil && status.Details.RetryAfterSeconds > 0 {
			o.RetryAfter = max(o.RetryAfter, time.Duration(status.Details.RetryAfterSeconds)*time.Second)
		}
		return retry(RetryThrottled)
	case code >= 500 || code == http.StatusRequestTimeout:
		if status.Details != nil && status.Details.RetryAfterSeconds > 0 {
			o.RetryAfter = max(o.RetryAfter, time.Duration(status.Details.RetryAfterSeconds)*time.Second)
		}
		return retry(RetryServerError)
	case code == 0:
		return retry(RetryNetwork)
	default:
		return perm(FailAPIError)
	}
}

// clusterDown reports an outcome that says the cluster's API server itself
// is failing (no answer, a 5xx or 408, a timeout), as opposed to refusing
// this one request: its lanes are paused (gate.go) until it answers again.
func (o Outcome) clusterDown() bool {
	if o.Result != Retried || o.Stage != StageAPI {
		return false
	}
	switch o.Retry {
	case RetryNetwork, RetryServerError, RetryTimeout:
		return true
	}
	return false
}

// streamMissing reports a mapping 404 that names the image stream (not the namespace).
func streamMissing(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Code != http.StatusNotFound {
		return false
	}
	d := st.Status().Details
	return d != nil && d.Kind == "imagestreammappings"
}
