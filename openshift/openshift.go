// Package openshift is the bridge's client of the OpenShift image API: it
// creates ImageStreamMappings, image streams and Images, lists image
// streams, deletes image stream tags and probes the server, with client-go, reporting a server's Retry-After to the caller
// instead of sleeping on it. It imports nothing of ours.
package openshift

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// API is a client of the OpenShift image API.
type API struct {
	images  imageclient.Interface
	observe func(op string, code int, d time.Duration)
}

// Options configure the client of RESTConfig.
type Options struct {
	// Kubeconfig is a kubeconfig file; empty means the in-cluster service account.
	Kubeconfig string
	// QPS and Burst bound the request rate (client-go's limiter).
	QPS   float32
	Burst int
	// Timeout bounds each request; 0 means none.
	Timeout time.Duration
}

// RESTConfig builds a client configuration from a kubeconfig path or, when it
// is empty, the in-cluster service account, with the rate and timeout of c.
func RESTConfig(c Options) (*rest.Config, error) {
	var rc *rest.Config
	var err error
	if c.Kubeconfig != "" {
		rc, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	} else {
		rc, err = rest.InClusterConfig()
	}
	if err != nil {
		return nil, fmt.Errorf("load kubernetes client config: %w", err)
	}
	rc.QPS, rc.Burst, rc.Timeout = c.QPS, c.Burst, c.Timeout
	// With nothing transport-specific set, client-go falls back to http.DefaultTransport
	// for plain-HTTP servers (2 idle connections per host): naming the proxy function
	// makes it build its own pooled transport, the same as for HTTPS servers.
	rc.Proxy = http.ProxyFromEnvironment
	rc.UserAgent = "imagestream-bridge"
	rc.Wrap(func(rt http.RoundTripper) http.RoundTripper { return retryAfterTransport{next: rt} })
	return rc, nil
}

// retryAfterTransport hides Retry-After from client-go, which would otherwise
// sleep and retry up to ten times inside one call, holding a worker and ending
// in a timeout. The bridge's own backoff sees the throttling instead: the
// value reaches the caller through the request's context (see withRetryAfter).
type retryAfterTransport struct{ next http.RoundTripper }

func (t retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil || (resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode < 500) {
		return resp, err
	}
	if v := resp.Header.Get("Retry-After"); v != "" {
		if sink, ok := req.Context().Value(retryAfterKey{}).(*retryAfterSink); ok {
			if secs, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && secs > 0 {
				sink.after.Store(int64(secs) * int64(time.Second))
			}
		}
		resp.Header.Del("Retry-After")
	}
	return resp, nil
}

type retryAfterKey struct{}

type retryAfterSink struct{ after atomic.Int64 }

// throttledError carries a server's Retry-After to the caller's classifier.
type throttledError struct {
	after time.Duration
	err   error
}

func (e *throttledError) Error() string { return e.err.Error() }
func (e *throttledError) Unwrap() error { return e.err }

// RetryAfter is how long the server asked the caller to wait.
func (e *throttledError) RetryAfter() time.Duration { return e.after }

// withRetryAfter runs call with a context that collects a Retry-After answer
// and attaches it to the returned error.
func withRetryAfter(ctx context.Context, call func(ctx context.Context) error) error {
	sink := &retryAfterSink{}
	err := call(context.WithValue(ctx, retryAfterKey{}, sink))
	if err != nil {
		if d := time.Duration(sink.after.Load()); d > 0 {
			return &throttledError{after: d, err: err}
		}
	}
	return err
}

// NewAPI returns an API client. observe, when set, receives each call's operation, status and duration.
func NewAPI(rc *rest.Config, observe func(op string, code int, d time.Duration)) (*API, error) {
	cs, err := imageclient.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("create image client: %w", err)
	}
	if observe == nil {
		observe = func(string, int, time.Duration) {}
	}
	return &API{images: cs, observe: observe}, nil
}

func (a *API) done(op string, start time.Time, err error) {
	code := http.StatusCreated
	if err != nil {
		code = 0
		var st apierrors.APIStatus
		if errors.As(err, &st) {
			code = int(st.Status().Code)
		}
	}
	a.observe(op, code, time.Since(start))
}

// CreateMapping posts an ImageStreamMapping.
func (a *API) CreateMapping(ctx context.Context, m *imagev1.ImageStreamMapping) error {
	start := time.Now()
	err := withRetryAfter(ctx, func(ctx context.Context) error {
		_, err := a.images.ImageV1().ImageStreamMappings(m.Namespace).Create(ctx, m, metav1.CreateOptions{})
		return err
	})
	a.done("create_mapping", start, err)
	if err != nil {
		return fmt.Errorf("create imagestreammapping %s/%s:%s: %w", m.Namespace, m.Name, m.Tag, err)
	}
	return nil
}

// CreateStream creates the image stream s (namespace, name, labels,
// annotations, spec); one that already exists is fine and is not changed.
func (a *API) CreateStream(ctx context.Context, s *imagev1.ImageStream) error {
	start := time.Now()
	err := withRetryAfter(ctx, func(ctx context.Context) error {
		_, err := a.images.ImageV1().ImageStreams(s.Namespace).Create(ctx, s, metav1.CreateOptions{})
		return err
	})
	a.done("create_imagestream", start, err)
	if err != nil && !apierrors.IsAlreadyExists(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("create imagestream %s/%s: %w", s.Namespace, s.Name, err)
	}
	return nil
}

// CreateImage creates a cluster-scoped Image; one that already exists is fine.
func (a *API) CreateImage(ctx context.Context, img *imagev1.Image) error {
	start := time.Now()
	err := withRetryAfter(ctx, func(ctx context.Context) error {
		_, err := a.images.ImageV1().Images().Create(ctx, img, metav1.CreateOptions{})
		return err
	})
	a.done("create_image", start, err)
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create image %s: %w", img.Name, err)
	}
	return nil
}

// ListStreams lists the image streams of a namespace, following pagination.
func (a *API) ListStreams(ctx context.Context, namespace string) ([]imagev1.ImageStream, error) {
	var out []imagev1.ImageStream
	opts := metav1.ListOptions{Limit: 500}
	for {
		start := time.Now()
		list, err := a.images.ImageV1().ImageStreams(namespace).List(ctx, opts)
		a.done("list_imagestreams", start, err)
		if err != nil {
			return nil, fmt.Errorf("list imagestreams in %q: %w", namespace, err)
		}
		out = append(out, list.Items...)
		if list.Continue == "" {
			return out, nil
		}
		opts.Continue = list.Continue
	}
}

// GetStream reads one image stream; nil (and no error) when it does not exist.
func (a *API) GetStream(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error) {
	start := time.Now()
	s, err := a.images.ImageV1().ImageStreams(namespace).Get(ctx, name, metav1.GetOptions{})
	a.done("get_imagestream", start, err)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get imagestream %s/%s: %w", namespace, name, err)
	}
	return s, nil
}

// DeleteStreamTag deletes the image stream tag STREAM:TAG of a namespace, as
// `oc tag -d` does; a stream or tag that does not exist is fine.
func (a *API) DeleteStreamTag(ctx context.Context, namespace, stream, tag string) error {
	start := time.Now()
	err := withRetryAfter(ctx, func(ctx context.Context) error {
		return a.images.ImageV1().ImageStreamTags(namespace).Delete(ctx, stream+":"+tag, metav1.DeleteOptions{})
	})
	a.done("delete_imagestreamtag", start, err)
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete imagestreamtag %s/%s:%s: %w", namespace, stream, tag, err)
	}
	return nil
}

// Probe asks the server for the image API's discovery document, the
// cheapest request every authenticated client may make; nil means the
// server answered it.
func (a *API) Probe(ctx context.Context) error {
	start := time.Now()
	err := a.images.ImageV1().RESTClient().Get().AbsPath("/apis/image.openshift.io/v1").Do(ctx).Error()
	a.done("probe", start, err)
	return err
}
