package bridge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
)

// throttled is an error that carries a server's Retry-After, as package openshift's does.
type throttled struct{ after time.Duration }

func (e throttled) Error() string             { return "throttled" }
func (e throttled) RetryAfter() time.Duration { return e.after }

func apiStatus(code int32, kind, msg string) error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: code, Message: msg,
		Details: &metav1.StatusDetails{Kind: kind}}}
}

// answered is a registry's HTTP answer as a Fetcher reports it (package registry's errors carry their status so).
type answered int

func (e answered) Error() string   { return http.StatusText(int(e)) }
func (e answered) StatusCode() int { return int(e) }

func fetchStatus(code int) error {
	return inStage(StageFetch, fmt.Errorf("fetch manifest: %w", answered(code)))
}

var classifyCases = []struct {
	name string
	err  error
	want Outcome
}{
	{"nil", nil, Outcome{Result: Mapped}},
	{"stale", errSkipStale, Outcome{Result: Skipped, Skip: SkipStale}},
	{"artifact", &skipError{reason: SkipArtifact}, Outcome{Result: Skipped, Skip: SkipArtifact}},
	{"deadline", inStage(StageFetch, context.DeadlineExceeded), Outcome{Result: Retried, Retry: RetryTimeout, Stage: StageFetch}},
	{"invalid image", fmt.Errorf("build: %w", mapping.ErrInvalidImage), Outcome{Result: Failed, Failure: FailInvalidImage, Stage: StageAPI}},
	{"too large", inStage(StageFetch, ErrTooLarge), Outcome{Result: Failed, Failure: FailTooLarge, Stage: StageFetch}},
	{"digest mismatch", inStage(StageFetch, ErrDigestMismatch), Outcome{Result: Failed, Failure: FailDigestMismatch, Stage: StageFetch}},
	{"redirect refused", inStage(StageFetch, ErrRedirectRefused), Outcome{Result: Failed, Failure: FailRedirectRefused, Stage: StageFetch}},
	{"token host refused", inStage(StageFetch, ErrTokenHostRefused), Outcome{Result: Failed, Failure: FailTokenHostRefused, Stage: StageFetch}},
	{"invalid name", inStage(StageFetch, ErrInvalidName), Outcome{Result: Failed, Failure: FailInvalid, Stage: StageFetch}},
	{"not configured", errNotConfigured, Outcome{Result: Failed, Failure: FailInvalid, Stage: StageAPI}},
	{"no verdict", inStage(StageFetch, fmt.Errorf("look up tag: %w", ErrNoVerdict)), Outcome{Result: Retried, Retry: RetryNoVerdict, Stage: StageFetch}},
	{"fetch network", inStage(StageFetch, errors.New("connection refused")), Outcome{Result: Retried, Retry: RetryNetwork, Stage: StageFetch}},
	{"manifest 404", fetchStatus(http.StatusNotFound), Outcome{Result: Failed, Failure: FailManifestNotFound, Stage: StageFetch}},
	{"registry 401", fetchStatus(http.StatusUnauthorized), Outcome{Result: Failed, Failure: FailRegistryUnauthorized, Stage: StageFetch}},
	{"registry 429", fetchStatus(http.StatusTooManyRequests), Outcome{Result: Retried, Retry: RetryThrottled, Stage: StageFetch}},
	{"registry 502", fetchStatus(http.StatusBadGateway), Outcome{Result: Retried, Retry: RetryServerError, Stage: StageFetch}},
	{"registry 400", fetchStatus(http.StatusBadRequest), Outcome{Result: Failed, Failure: FailRegistryError, Stage: StageFetch}},
	{"api network", inStage(StageAPI, errors.New("EOF")), Outcome{Result: Retried, Retry: RetryNetwork, Stage: StageAPI}},
	{"namespace 404", inStage(StageAPI, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, "x")), Outcome{Result: Failed, Failure: FailNamespaceNotFound, Stage: StageAPI}},
	{"other 404", inStage(StageAPI, apiStatus(404, "images", "")), Outcome{Result: Failed, Failure: FailAPIError, Stage: StageAPI}},
	{"stream 404", inStage(StageAPI, apiStatus(404, "imagestreammappings", "")), Outcome{Result: Failed, Failure: FailStreamNotFound, Stage: StageAPI}},
	{"quota", inStage(StageAPI, apiStatus(403, "", "exceeded quota: q")), Outcome{Result: Failed, Failure: FailQuota, Stage: StageAPI}},
	{"forbidden", inStage(StageAPI, apiStatus(403, "", "no")), Outcome{Result: Failed, Failure: FailForbidden, Stage: StageAPI}},
	{"invalid", inStage(StageAPI, apiStatus(422, "", "bad")), Outcome{Result: Failed, Failure: FailInvalid, Stage: StageAPI}},
	{"conflict", inStage(StageAPI, apiStatus(409, "", "")), Outcome{Result: Retried, Retry: RetryConflict, Stage: StageAPI}},
	{"api 503", inStage(StageAPI, apiStatus(503, "", "")), Outcome{Result: Retried, Retry: RetryServerError, Stage: StageAPI}},
	{"api 400", inStage(StageAPI, apiStatus(400, "", "")), Outcome{Result: Failed, Failure: FailAPIError, Stage: StageAPI}},
	{"retry-after", inStage(StageAPI, fmt.Errorf("%w: %w", throttled{3 * time.Second}, apiStatus(429, "", ""))),
		Outcome{Result: Retried, Retry: RetryThrottled, Stage: StageAPI, RetryAfter: 3 * time.Second}},
}

func TestClassify(t *testing.T) {
	for _, tc := range classifyCases {
		t.Run(tc.name, func(t *testing.T) {
			got := classify(tc.err)
			got.Err = nil
			if got != tc.want {
				t.Errorf("classify = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// TestReasonListsAreComplete: every reason and stage classify returns is in
// its list (so its series is pre-created), and no list repeats a value.
func TestReasonListsAreComplete(t *testing.T) {
	lists := map[string][]string{"skip": SkipReasons(), "failure": FailureReasons(),
		"retry": RetryReasons(), "stage": Stages()}
	in := map[string]bool{}
	for name, list := range lists {
		for _, v := range list {
			if in[name+" "+v] || v == "" {
				t.Errorf("%s list: %q repeated or empty", name, v)
			}
			in[name+" "+v] = true
		}
	}
	for _, tc := range classifyCases {
		o := tc.want
		for _, v := range []string{"skip " + string(o.Skip), "failure " + string(o.Failure), "retry " + string(o.Retry), "stage " + string(o.Stage)} {
			if !strings.HasSuffix(v, " ") && !in[v] {
				t.Errorf("%s: %s is not in its list", tc.name, v)
			}
		}
	}
}
