package e2e_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// faultProxy stands between the bridge and the registry, as a proxy or load
// balancer does, and answers chosen requests with a bare 404: no body, no
// registry error code.
type faultProxy struct {
	URL   string
	mu    sync.Mutex
	rules []*bareRule
}

// bareRule answers requests of Method whose path contains Path with a
// bare 404, Times times (negative: always).
type bareRule struct {
	Method, Path string
	Times        int
	fired        int
}

func startFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p.bare(r) {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *faultProxy) bare(r *http.Request) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, rule := range p.rules {
		if r.Method == rule.Method && strings.Contains(r.URL.Path, rule.Path) && (rule.Times < 0 || rule.fired < rule.Times) {
			rule.fired++
			return true
		}
	}
	return false
}

// inject adds a rule.
func (p *faultProxy) inject(r *bareRule) *bareRule {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, r)
	return r
}

// fired is how often a rule answered.
func (p *faultProxy) fired(r *bareRule) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return r.fired
}
