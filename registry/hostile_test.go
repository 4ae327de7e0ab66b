package registry

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

const testDigest = "sha256:0000000000000000000000000000000000000000000000000000000000000000"

func newClient(t *testing.T, r Config, opts Options) *Client {
	t.Helper()
	c, err := New(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// drip writes one byte every interval until the client goes away.
func drip(w http.ResponseWriter, r *http.Request, interval time.Duration) {
	w.WriteHeader(http.StatusOK)
	for {
		if _, err := w.Write([]byte(" ")); err != nil {
			return
		}
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(interval):
		}
	}
}

// TestFetchDeadline: a registry that drips one byte every two seconds holds a
// fetch, a tag lookup and a tag listing no longer than the fetch deadline.
func TestFetchDeadline(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case r.Method == http.MethodHead:
			select { // headers never come
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		default:
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			drip(w, r, 2*time.Second)
		}
	}))
	defer srv.Close()
	c := newClient(t, Config{URL: srv.URL, FetchTimeout: time.Second}, Options{})
	for name, call := range map[string]func() error{
		"fetch": func() error {
			_, err := c.Fetch(context.Background(), "a/b", testDigest, func(string) bool { return true })
			return err
		},
		"resolve": func() error { _, err := c.Resolve(context.Background(), "a/b", "v1"); return err },
		"tags":    func() error { _, err := c.Tags(context.Background(), "a/b"); return err },
		"catalog": func() error { _, err := c.Repositories(context.Background()); return err },
	} {
		start := time.Now()
		err := call()
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s with a 1s deadline", name, d)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s: %v, want context.DeadlineExceeded", name, err)
		}
	}
	// The caller's own cancellation stays a cancellation.
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	if _, err := c.Resolve(ctx, "a/b", "v2"); !errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled resolve: %v", err)
	}
}

// recorder counts requests and Authorization headers.
type recorder struct {
	mu            sync.Mutex
	requests, ahs int
	auth          string
}

func (rec *recorder) server() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.requests++
		if a := r.Header.Get("Authorization"); a != "" {
			rec.ahs++
			rec.auth = a
		}
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"token":"t"}`)
	}))
}

func (rec *recorder) counts() (int, int, string) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return rec.requests, rec.ahs, rec.auth
}

// challenger answers every request with a Bearer challenge naming realm.
func challenger(realm string) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="reg"`, realm))
		w.WriteHeader(http.StatusUnauthorized)
	}))
}

// TestTokenHostRefused: the pull credentials go to the registry's own token
// endpoint or a listed one, never to a host the registry names.
func TestTokenHostRefused(t *testing.T) {
	var rec recorder
	other := rec.server()
	defer other.Close()
	_, port, _ := net.SplitHostPort(other.Listener.Addr().String())
	creds := Config{Username: "robot", Password: "s3cret"}

	for _, tc := range []struct {
		name, realm string
		tokenHosts  []string
		https       bool
	}{
		{name: "other host by name", realm: "http://localhost:" + port + "/token"},
		{name: "private IP literal", realm: "http://127.0.0.1:" + port + "/token", tokenHosts: []string{"127.0.0.1:" + port}},
		{name: "listed host, weaker scheme", realm: "http://localhost:" + port + "/token", tokenHosts: []string{"localhost:" + port}, https: true},
		{name: "listed host, other port", realm: "http://localhost:" + port + "/token", tokenHosts: []string{"localhost:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := challenger(tc.realm)
			if tc.https {
				reg.Close()
				reg = httptest.NewTLSServer(reg.Config.Handler)
			}
			defer reg.Close()
			r := creds
			r.URL, r.TokenHosts, r.InsecureSkipTLSVerify = reg.URL, tc.tokenHosts, true
			c := newClient(t, r, Options{})
			_, err := c.Fetch(context.Background(), "a/b", testDigest, func(string) bool { return true })
			if !errors.Is(err, bridge.ErrTokenHostRefused) {
				t.Fatalf("fetch: %v, want bridge.ErrTokenHostRefused", err)
			}
			if n, a, _ := rec.counts(); n != 0 || a != 0 {
				t.Fatalf("other host got %d requests, %d with credentials", n, a)
			}
			if _, err := c.Resolve(context.Background(), "a/b", "v1"); !errors.Is(err, bridge.ErrTokenHostRefused) {
				t.Errorf("resolve: %v", err)
			}
		})
	}

	t.Run("listed host", func(t *testing.T) {
		reg := challenger("http://localhost:" + port + "/token")
		defer reg.Close()
		r := creds
		r.URL, r.TokenHosts = reg.URL, []string{"localhost:" + port}
		c := newClient(t, r, Options{})
		_, _ = c.Fetch(context.Background(), "a/b", testDigest, func(string) bool { return true })
		if n, a, auth := rec.counts(); n == 0 || a == 0 || !strings.HasPrefix(auth, "Basic ") {
			t.Fatalf("listed token host got %d requests, %d with credentials (%q)", n, a, auth)
		}
	})
}

// TestOwnTokenEndpoint: a realm on the registry's own host works as before.
func TestOwnTokenEndpoint(t *testing.T) {
	var srv *httptest.Server
	var tokenRequests int
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/token":
			tokenRequests++
			fmt.Fprint(w, `{"token":"t"}`)
		case r.Header.Get("Authorization") != "Bearer t":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/token",service="reg"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
		default:
			http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	c := newClient(t, Config{URL: srv.URL, Username: "robot", Password: "s3cret"}, Options{})
	_, err := c.Fetch(context.Background(), "a/b", testDigest, func(string) bool { return true })
	if bridge.StatusCode(err) != http.StatusNotFound || tokenRequests == 0 {
		t.Fatalf("fetch through the registry's own token endpoint: %v (%d token requests)", err, tokenRequests)
	}
}

// TestEndlessListings: catalogs and tag lists that never end, or pages that
// never end, stop quickly with bridge.ErrTooLarge.
func TestEndlessListings(t *testing.T) {
	var n int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		n++
		i := n
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/v2/":
		case strings.HasPrefix(r.URL.Path, "/v2/body/"): // one page that never ends
			fmt.Fprint(w, `{"name":"body/x","tags":[`)
			for r.Context().Err() == nil {
				if _, err := fmt.Fprint(w, strings.Repeat(`"aaaaaaaaaaaaaaaa",`, 1000)); err != nil {
					return
				}
			}
		case strings.HasPrefix(r.URL.Path, "/v2/empty/"): // empty pages forever
			w.Header().Set("Link", fmt.Sprintf(`<%s?n=100&last=x%d>; rel="next"`, r.URL.Path, i))
			fmt.Fprint(w, `{"name":"empty/x","tags":[]}`)
		case r.URL.Path == "/v2/_catalog": // full pages forever
			w.Header().Set("Link", fmt.Sprintf(`</v2/_catalog?n=100&last=r%d>; rel="next"`, i))
			names := make([]string, 100)
			for k := range names {
				names[k] = fmt.Sprintf(`"r%d/x%d"`, i, k)
			}
			fmt.Fprintf(w, `{"repositories":[%s]}`, strings.Join(names, ","))
		default: // full tag pages forever
			w.Header().Set("Link", fmt.Sprintf(`<%s?n=100&last=t%d>; rel="next"`, r.URL.Path, i))
			names := make([]string, 100)
			for k := range names {
				names[k] = fmt.Sprintf(`"t%d-%d"`, i, k)
			}
			fmt.Fprintf(w, `{"name":"a/b","tags":[%s]}`, strings.Join(names, ","))
		}
	}))
	defer srv.Close()
	c := newClient(t, Config{URL: srv.URL}, Options{})
	for name, call := range map[string]func() error{
		"catalog":      func() error { _, err := c.Repositories(context.Background()); return err },
		"tags":         func() error { _, err := c.Tags(context.Background(), "a/b"); return err },
		"endless page": func() error { _, err := c.Tags(context.Background(), "body/x"); return err },
		"empty pages":  func() error { _, err := c.Tags(context.Background(), "empty/x"); return err },
	} {
		start := time.Now()
		err := call()
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s took %s", name, d)
		}
		if !errors.Is(err, bridge.ErrTooLarge) {
			t.Errorf("%s: %v, want bridge.ErrTooLarge", name, err)
		}
	}
}

// TestCacheKeyedByRepository: content cached from one repository is not
// served for another repository the registry does not hold it in.
func TestCacheKeyedByRepository(t *testing.T) {
	reg, err := sandbox.StartRegistry(context.Background(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img, err := sandbox.RandomImage(1, true, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Push(reg.Host, "other/app", "v1", img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	c := newClient(t, Config{URL: reg.URL}, Options{})
	isImage := func(string) bool { return true }
	if _, err := c.Fetch(context.Background(), "other/app", d.String(), isImage); err != nil {
		t.Fatal(err)
	}
	_, err = c.Fetch(context.Background(), "victim/app", d.String(), isImage)
	if bridge.StatusCode(err) != http.StatusNotFound {
		t.Fatalf("victim/app@%s: %v, want the registry's 404", d, err)
	}
}

// firstBytes is a listener that records the first byte of every connection.
type firstBytes struct {
	net.Listener
	mu    sync.Mutex
	first []byte
}

func (l *firstBytes) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(c)
	b, err := br.Peek(1)
	if err == nil {
		l.mu.Lock()
		l.first = append(l.first, b[0])
		l.mu.Unlock()
	}
	return &peeked{Conn: c, r: br}, nil
}

type peeked struct {
	net.Conn
	r *bufio.Reader
}

func (p *peeked) Read(b []byte) (int, error) { return p.r.Read(b) }

// TestPlainHTTPRegistryNeverTriesHTTPS: an http:// registry sees no TLS
// handshake, and when it is down the error names only http://.
func TestPlainHTTPRegistryNeverTriesHTTPS(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &firstBytes{Listener: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			time.Sleep(400 * time.Millisecond) // past go-containerregistry's https-then-http fallback delay
			return
		}
		http.Error(w, "{}", http.StatusNotFound)
	})}
	go func() {
		if err := srv.Serve(rec); !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	}()
	defer srv.Close()
	url := "http://" + ln.Addr().String()
	c := newClient(t, Config{URL: url}, Options{})
	if _, err := c.Resolve(context.Background(), "a/b", "v1"); bridge.StatusCode(err) != http.StatusNotFound {
		t.Fatalf("resolve: %v", err)
	}
	rec.mu.Lock()
	for _, b := range rec.first {
		if b == 0x16 { // a TLS handshake record
			t.Errorf("a TLS handshake reached the plain-HTTP registry")
		}
	}
	rec.mu.Unlock()

	srv.Close()
	c = newClient(t, Config{URL: url}, Options{})
	_, err = c.Fetch(context.Background(), "a/b", testDigest, func(string) bool { return true })
	if err == nil || strings.Contains(err.Error(), "https://") || !strings.Contains(err.Error(), "http://") {
		t.Fatalf("down plain-HTTP registry: %v, want an error naming only http://", err)
	}
}

// TestGuardKnowsTheLibrarysHost: the guard recognises the registry under the
// name go-containerregistry writes into URLs (docker.io becomes
// index.docker.io), so none of its requests look like a token request to
// another host.
func TestGuardKnowsTheLibrarysHost(t *testing.T) {
	c := newClient(t, Config{URL: "https://docker.io"}, Options{})
	req, _ := http.NewRequest(http.MethodGet, "https://index.docker.io/v2/", nil)
	if c.guard.host != "index.docker.io" || c.guard.otherHost(req) != nil {
		t.Fatalf("guard host %q", c.guard.host)
	}
}
