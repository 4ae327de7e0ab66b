package registry

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path"
	"strings"
	"time"
)

// guard is the innermost RoundTripper towards a registry. It pins requests for
// the registry host to the configured scheme (go-containerregistry guesses http
// for loopback and private addresses), refuses redirects to hosts that are not
// allowed, and caps response bodies so a hostile registry cannot exhaust memory.
type guard struct {
	next          http.RoundTripper
	scheme, host  string
	redirectHosts []string
	manifestLimit int64
	blobLimit     int64
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == g.host && req.URL.Scheme != g.scheme {
		req = req.Clone(req.Context())
		req.URL.Scheme = g.scheme
	}
	if req.Response != nil && req.URL.Host != g.host && !g.redirectAllowed(req.URL.Hostname()) {
		return nil, fmt.Errorf("%w: redirect to %s", ErrRedirectRefused, req.URL.Host)
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead {
		return resp, err
	}
	limit := int64(0)
	switch {
	case strings.Contains(req.URL.Path, "/manifests/"):
		limit = g.manifestLimit
	case strings.Contains(req.URL.Path, "/blobs/") || req.Response != nil:
		limit = g.blobLimit
	}
	if limit > 0 && resp.StatusCode == http.StatusOK {
		if resp.ContentLength > limit {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, req.URL.Path, resp.ContentLength, limit)
		}
		resp.Body = &limitedBody{rc: resp.Body, left: limit, limit: limit}
	}
	return resp, nil
}

func (g *guard) redirectAllowed(host string) bool {
	for _, pat := range g.redirectHosts {
		if ok, _ := path.Match(pat, host); ok {
			return true
		}
	}
	return false
}

// limitedBody fails the read, instead of truncating, once more than limit bytes arrive.
type limitedBody struct {
	rc          io.ReadCloser
	left, limit int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, l.limit)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, fmt.Errorf("%w: body over %d bytes", ErrTooLarge, l.limit)
	}
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }

// baseTransport is one pooled, keep-alive transport per registry.
func baseTransport(caFile string, insecure bool, conns int) (*http.Transport, error) {
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // explicit opt-in
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read caFile: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("read caFile %s: no certificates found", caFile)
		}
		tlsConf.RootCAs = pool
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          conns * 2,
		MaxIdleConnsPerHost:   conns * 2,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		ExpectContinueTimeout: time.Second,
	}, nil
}
