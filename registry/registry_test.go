package registry

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

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
	if err := getErr(client, srv.URL+"/v2/a/b/blobs/redirect"); !errors.Is(err, bridge.ErrRedirectRefused) {
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
	if !errors.Is(err, bridge.ErrTooLarge) {
		t.Errorf("oversized manifest body: %v", err)
	}
	if err := getErr(client, srv.URL+"/v2/a/b/blobs/declared"); !errors.Is(err, bridge.ErrTooLarge) {
		t.Errorf("declared oversized blob: %v", err)
	}
}

// getErr GETs url with client and returns the error (closing the body of an
// answer the test expected to be refused).
func getErr(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err == nil {
		resp.Body.Close()
	}
	return err
}
