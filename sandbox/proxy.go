package sandbox

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// ReadyProxy is a round-robin HTTP proxy over the backends that answer
// /readyz with 200, polled every PollInterval: what a Kubernetes Service does
// with its ready endpoints. Like a Service it never retries: a request sent to
// a backend that stopped listening since the last poll fails with 502.
type ReadyProxy struct {
	// URL is http://127.0.0.1:PORT.
	URL      string
	backends []*url.URL
	server   *httptest.Server
	stop     context.CancelFunc
	done     chan struct{}
	next     atomic.Uint64

	mu    sync.Mutex
	ready []bool
	errs  []string
}

// PollInterval is how often ReadyProxy asks each backend's /readyz.
const PollInterval = 100 * time.Millisecond

// StartReadyProxy proxies to the backends (base URLs such as http://127.0.0.1:8080).
func StartReadyProxy(backends ...string) (*ReadyProxy, error) {
	p := &ReadyProxy{ready: make([]bool, len(backends)), done: make(chan struct{})}
	for _, b := range backends {
		u, err := url.Parse(b)
		if err != nil {
			return nil, err
		}
		p.backends = append(p.backends, u)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	p.poll(ctx)
	go func() {
		defer close(p.done)
		t := time.NewTicker(PollInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				p.poll(ctx)
			}
		}
	}()
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(r.In.Context().Value(backendKey{}).(*url.URL))
		},
		// Like a Service: no retry, the sender sees the failure.
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.mu.Lock()
			p.errs = append(p.errs, fmt.Sprintf("%s: %v", time.Now().Format("15:04:05.000"), err))
			p.mu.Unlock()
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	p.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b := p.pick()
		if b == nil {
			http.Error(w, "no ready backend", http.StatusServiceUnavailable)
			return
		}
		rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), backendKey{}, b)))
	}))
	p.URL = p.server.URL
	return p, nil
}

type backendKey struct{}

// poll asks every backend's /readyz once, in parallel. A backend that does
// not answer within a second (a loaded machine) counts as not ready, as a
// kubelet's probe with its default timeout.
func (p *ReadyProxy) poll(ctx context.Context) {
	client := &http.Client{Timeout: time.Second}
	var wg sync.WaitGroup
	for i, b := range p.backends {
		wg.Go(func() {
			ok := false
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.JoinPath("/readyz").String(), nil)
			if resp, err := client.Do(req); err == nil {
				resp.Body.Close()
				ok = resp.StatusCode == http.StatusOK
			}
			p.mu.Lock()
			p.ready[i] = ok
			p.mu.Unlock()
		})
	}
	wg.Wait()
}

// pick returns the next ready backend in round-robin order, or nil.
func (p *ReadyProxy) pick() *url.URL {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := uint64(len(p.backends))
	start := p.next.Add(1)
	for k := range n {
		if i := (start + k) % n; p.ready[i] {
			return p.backends[i]
		}
	}
	return nil
}

// Ready reports which backends the last poll found ready, in the order given.
func (p *ReadyProxy) Ready() []bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]bool(nil), p.ready...)
}

// Errors lists the failures of requests sent to a backend (each answered 502), with their time.
func (p *ReadyProxy) Errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.errs...)
}

// Close stops polling and serving.
func (p *ReadyProxy) Close() {
	p.stop()
	<-p.done
	p.server.Close()
}
