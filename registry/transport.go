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

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// guard is the innermost RoundTripper towards a registry; every request the
// client makes passes it. It pins requests for the registry host to the
// configured scheme (go-containerregistry guesses, and tries https before http
// for loopback, private and insecure registries), refuses redirects to hosts
// that are not allowed, sends a request to another host only when it is a
// token endpoint listed in tokenHosts, never downgrades https, and caps
// response bodies so a hostile registry cannot exhaust memory.
type guard struct {
	next          http.RoundTripper
	scheme, host  string
	redirectHosts []string
	tokenHosts    []string
	manifestLimit int64
	blobLimit     int64
	listLimit     int64
	pings         pings
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host == g.host {
		if req.URL.Scheme != g.scheme {
			// In place, as go-containerregistry's own scheme transport does, so
			// that an error names the URL that was really tried.
			req.URL.Scheme = g.scheme
		}
	} else if err := g.otherHost(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	ping := req.URL.Host == g.host && isPing(req)
	if ping {
		if resp := g.pings.answer(req); resp != nil {
			return resp, nil
		}
	}
	resp, err := g.next.RoundTrip(req)
	if err != nil || req.Method == http.MethodHead {
		return resp, err
	}
	if ping {
		g.pings.keep(resp)
	}
	limit := int64(0)
	switch {
	case strings.Contains(req.URL.Path, "/manifests/"):
		limit = g.manifestLimit
	case strings.HasSuffix(req.URL.Path, "/_catalog") || strings.HasSuffix(req.URL.Path, "/tags/list"):
		limit = g.listLimit
	case strings.Contains(req.URL.Path, "/blobs/") || req.Response != nil:
		limit = g.blobLimit
	}
	if limit > 0 && resp.StatusCode == http.StatusOK {
		if resp.ContentLength > limit {
			resp.Body.Close()
			return nil, fmt.Errorf("%w: %s is %d bytes, limit %d", bridge.ErrTooLarge, req.URL.Path, resp.ContentLength, limit)
		}
		resp.Body = &limitedBody{rc: resp.Body, left: limit, limit: limit}
	}
	return resp, nil
}

// otherHost decides a request for a host other than the registry's. The
// client builds every registry URL from the configured host, so such a request
// is either a redirect (req.Response is set) or a token exchange with the
// realm of a Bearer challenge, which may carry the pull credentials.
func (g *guard) otherHost(req *http.Request) error {
	if g.scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("%w: %s://%s from an https registry", refused(req), req.URL.Scheme, req.URL.Host)
	}
	if req.Response != nil {
		if !matchHost(g.redirectHosts, req.URL.Hostname()) {
			return fmt.Errorf("%w: redirect to %s (not the registry host and not in redirectHosts)", bridge.ErrRedirectRefused, req.URL.Host)
		}
		return nil
	}
	if canonicalHost(req.URL.Scheme, req.URL.Host) == canonicalHost(g.scheme, g.host) {
		return nil // the registry's own host on its default port, spelled out
	}
	for _, h := range g.tokenHosts {
		if canonicalHost(req.URL.Scheme, h) == canonicalHost(req.URL.Scheme, req.URL.Host) {
			return nil
		}
	}
	return fmt.Errorf("%w: token endpoint %s://%s is not the registry host %s and not in tokenHosts",
		bridge.ErrTokenHostRefused, req.URL.Scheme, req.URL.Host, g.host)
}

func refused(req *http.Request) error {
	if req.Response != nil {
		return bridge.ErrRedirectRefused
	}
	return bridge.ErrTokenHostRefused
}

// canonicalHost is host:port with the scheme's default port filled in.
func canonicalHost(scheme, host string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return strings.ToLower(host)
	}
	port := "443"
	if scheme == "http" {
		port = "80"
	}
	return strings.ToLower(net.JoinHostPort(strings.Trim(host, "[]"), port))
}

func matchHost(patterns []string, host string) bool {
	for _, pat := range patterns {
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
		return 0, fmt.Errorf("%w: body over %d bytes", bridge.ErrTooLarge, l.limit)
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, fmt.Errorf("%w: body over %d bytes", bridge.ErrTooLarge, l.limit)
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
