package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// TestTagGoneVerdict: a tag is gone only when a 404's error body says so in
// the registry's own words (distribution's MANIFEST_UNKNOWN / NAME_UNKNOWN,
// Harbor's NOT_FOUND); a bare 404, a 404 with another body and any other
// failure are never a verdict.
func TestTagGoneVerdict(t *testing.T) {
	const manifest = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:0000000000000000000000000000000000000000000000000000000000000000","size":2},"layers":[]}`
	for _, tc := range []struct {
		name string
		head int    // status of HEAD
		get  int    // status of GET
		body string // body of a GET that is not 200
		gone bool
		err  error // wanted in the chain (nil: no error)
	}{
		{name: "distribution MANIFEST_UNKNOWN", head: 404, get: 404, gone: true,
			body: `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"v1"}}]}`},
		{name: "distribution NAME_UNKNOWN", head: 404, get: 404, gone: true,
			body: `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`},
		{name: "harbor NOT_FOUND", head: 404, get: 404, gone: true,
			body: `{"errors":[{"code":"NOT_FOUND","message":"artifact library/app:v1 not found"}]}`},
		{name: "bare 404", head: 404, get: 404, err: bridge.ErrNoVerdict},
		{name: "html 404 of a proxy", head: 404, get: 404, body: "<html><body>404 Not Found</body></html>", err: bridge.ErrNoVerdict},
		{name: "404 with another code", head: 404, get: 404, err: bridge.ErrNoVerdict,
			body: `{"errors":[{"code":"UNKNOWN","message":"no route"}]}`},
		{name: "one bare 404 then the manifest", head: 404, get: 200},
		{name: "present", head: 200, get: 200},
		{name: "server error", head: 500, get: 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/v2/" {
					return
				}
				if r.URL.Path != "/v2/team/app/manifests/v1" {
					http.NotFound(w, r)
					return
				}
				status := tc.get
				if r.Method == http.MethodHead {
					status = tc.head
				}
				if status == http.StatusOK {
					w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
					w.Header().Set("Content-Length", fmt.Sprint(len(manifest)))
					w.Header().Set("Docker-Content-Digest", manifestDigest(manifest))
					w.WriteHeader(http.StatusOK)
					if r.Method == http.MethodGet {
						fmt.Fprint(w, manifest)
					}
					return
				}
				if tc.body != "" && r.Method == http.MethodGet {
					if strings.HasPrefix(tc.body, "{") {
						w.Header().Set("Content-Type", "application/json")
					}
					w.WriteHeader(status)
					fmt.Fprint(w, tc.body)
					return
				}
				w.WriteHeader(status)
			}))
			defer srv.Close()
			c := newClient(t, Config{URL: srv.URL}, Options{})
			gone, err := c.TagGone(context.Background(), "team/app", "v1")
			if gone != tc.gone {
				t.Errorf("gone = %v, want %v (err %v)", gone, tc.gone, err)
			}
			switch {
			case tc.err != nil && !errors.Is(err, tc.err):
				t.Errorf("err = %v, want %v", err, tc.err)
			case tc.err == nil && tc.head == 500 && err == nil:
				t.Error("a 500 gave no error")
			case tc.err == nil && tc.head != 500 && err != nil:
				t.Errorf("err = %v", err)
			}
		})
	}
}

func manifestDigest(m string) string {
	h, _, _ := v1.SHA256(strings.NewReader(m))
	return h.String()
}

// TestTagGoneAgainstDistribution asks the real registry: a present tag is
// not gone; a deleted tag and an unknown repository are.
func TestTagGoneAgainstDistribution(t *testing.T) {
	reg, err := sandbox.StartRegistry(t.Context(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img, err := sandbox.RandomImage(1, false, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if err := sandbox.Push(reg.Host, "team/app", "v1", img); err != nil {
		t.Fatal(err)
	}
	c := newClient(t, Config{URL: reg.URL}, Options{})
	for _, tc := range []struct {
		repo, tag string
		gone      bool
	}{{"team/app", "v1", false}, {"team/app", "v2", true}, {"team/none", "v1", true}} {
		gone, err := c.TagGone(t.Context(), tc.repo, tc.tag)
		if err != nil || gone != tc.gone {
			t.Errorf("%s:%s: gone %v, err %v; want gone %v", tc.repo, tc.tag, gone, err, tc.gone)
		}
	}
}

// TestTagListNotFound: a tag listing that answers a bare 404 failed (it is
// not an empty list); the registry's NAME_UNKNOWN is a repository without tags.
func TestTagListNotFound(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
		case "/v2/bare/app/tags/list":
			w.WriteHeader(http.StatusNotFound)
		default:
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known to registry"}]}`)
		}
	}))
	defer srv.Close()
	c := newClient(t, Config{URL: srv.URL}, Options{})
	if tags, err := c.Tags(t.Context(), "bare/app"); err == nil {
		t.Errorf("bare 404: tags %v and no error", tags)
	}
	if tags, err := c.Tags(t.Context(), "known/app"); err != nil || len(tags) != 0 {
		t.Errorf("NAME_UNKNOWN: tags %v, err %v; want none, no error", tags, err)
	}
}
