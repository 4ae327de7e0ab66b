package registry

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		repo string
		ok   bool
	}{
		{"team/app", true}, {"a/b/c-d_e.f", true}, {"a__b/c", true}, {"a---b/c", true},
		{"Team/app", false}, {"team//app", false}, {"/app", false}, {"team/../x", false}, {"team/app/", false},
		{"a._b/c", false}, {strings.Repeat("a", 256), false}, {"", false},
	} {
		if got := ValidRepository(tc.repo); got != tc.ok {
			t.Errorf("ValidRepository(%q) = %v", tc.repo, got)
		}
	}
	for _, tc := range []struct {
		tag string
		ok  bool
	}{{"v1", true}, {"_x", true}, {"1.0-rc.1", true}, {"-x", false}, {".x", false}, {"a/b", false}, {strings.Repeat("a", 129), false}} {
		if got := ValidTag(tc.tag); got != tc.ok {
			t.Errorf("ValidTag(%q) = %v", tc.tag, got)
		}
	}
	if _, err := ParseDigest("sha256:" + strings.Repeat("0", 64)); err != nil {
		t.Error(err)
	}
	for _, d := range []string{"sha256:abc", "md5:" + strings.Repeat("0", 32), "sha256:" + strings.Repeat("Z", 64)} {
		if _, err := ParseDigest(d); err == nil {
			t.Errorf("ParseDigest(%q) accepted", d)
		}
	}
}

func TestCacheEvictsByBytes(t *testing.T) {
	c := newCache(2000) // entries count their length plus entryOverhead (256)
	c.put("a", "m", make([]byte, 200))
	c.put("b", "m", make([]byte, 200))
	c.put("big", "m", make([]byte, 300)) // over max/4: not cached
	if _, ok := c.get("big"); ok {
		t.Error("entry over a quarter of the cache was kept")
	}
	c.get("a") // a is now most recent
	for _, k := range []string{"c", "d", "e"} {
		c.put(k, "m", make([]byte, 200))
	}
	if _, ok := c.get("b"); ok {
		t.Error("least recently used entry survived")
	}
	if _, ok := c.get("a"); !ok {
		t.Error("recently used entry evicted")
	}
	if c.cur > c.max {
		t.Errorf("cache holds %d bytes, max %d", c.cur, c.max)
	}
}

// TestGuard pins the scheme, refuses redirects to other hosts and caps bodies.
func TestGuard(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("other")) }))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/a/b/blobs/redirect":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/v2/a/b/manifests/big":
			w.Write([]byte(strings.Repeat("m", 600)))
			w.(http.Flusher).Flush() // no Content-Length: the cap applies while reading
			w.Write([]byte(strings.Repeat("m", 600)))
		case "/v2/a/b/blobs/declared":
			w.Write([]byte(strings.Repeat("b", 2000))) // Content-Length over the cap
		default:
			w.Write([]byte("ok"))
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	g := &guard{next: http.DefaultTransport, scheme: "http", host: host, manifestLimit: 1000, blobLimit: 1000}
	client := &http.Client{Transport: g}

	resp, err := client.Get("https://" + host + "/v2/") // go-containerregistry may guess https
	if err != nil {
		t.Fatalf("scheme not pinned: %v", err)
	}
	resp.Body.Close()
	if _, err := client.Get(srv.URL + "/v2/a/b/blobs/redirect"); !errors.Is(err, ErrRedirectRefused) {
		t.Errorf("redirect to another host: %v", err)
	}
	g.redirectHosts = []string{"127.0.0.*"}
	resp, err = client.Get(srv.URL + "/v2/a/b/blobs/redirect")
	if err != nil {
		t.Fatalf("allowed redirect host: %v", err)
	}
	resp.Body.Close()
	resp, err = client.Get(srv.URL + "/v2/a/b/manifests/big")
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !errors.Is(err, ErrTooLarge) {
		t.Errorf("oversized manifest body: %v", err)
	}
	if _, err := client.Get(srv.URL + "/v2/a/b/blobs/declared"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("declared oversized blob: %v", err)
	}
}
