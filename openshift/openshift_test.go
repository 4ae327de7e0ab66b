package openshift

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// TestRetryAfterReachesTheCaller: a 429 with Retry-After is not slept on
// inside client-go (one request, not ten) and the wait reaches the caller.
func TestRetryAfterReachesTheCaller(t *testing.T) {
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		w.Write([]byte(`{"kind":"Status","apiVersion":"v1","status":"Failure","code":429,"reason":"TooManyRequests"}`))
	}))
	defer srv.Close()
	rc := &rest.Config{Host: srv.URL}
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return retryAfterTransport{next: rt} })
	var observed []int
	api, err := NewAPI(rc, func(op string, code int, _ time.Duration) { observed = append(observed, code) })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = api.CreateMapping(ctx, &imagev1.ImageStreamMapping{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "s"}})
	var ra interface{ RetryAfter() time.Duration }
	if !errors.As(err, &ra) || ra.RetryAfter() != 7*time.Second {
		t.Fatalf("error %v does not carry Retry-After 7s", err)
	}
	if calls != 1 || len(observed) != 1 || observed[0] != http.StatusTooManyRequests {
		t.Errorf("calls %d, observed %v; want one call answered 429", calls, observed)
	}
}
