package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// TestTagDigestsFallback: an answer the product API cannot give (404, 401,
// 403, a redirect, a body not in its shape, an invalid digest) is ok=false,
// logged once; the API is then left alone (no request for the next repository).
func TestTagDigestsFallback(t *testing.T) {
	for name, h := range map[string]http.HandlerFunc{
		"404":      http.NotFound,
		"401":      func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusUnauthorized) },
		"403":      func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusForbidden) },
		"redirect": func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/login", http.StatusFound) },
		"html":     func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>sign in</html>")) },
		"bad digest": func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"tags":[{"name":"v1","manifest_digest":"sha256:xyz"}],"page":1,"has_additional":false}`))
		},
	} {
		t.Run(name, func(t *testing.T) {
			rec := &apiRecorder{}
			srv := httptest.NewServer(rec.wrap(h))
			defer srv.Close()
			c, logs := bulkClient(t, srv.URL, event.Quay, Options{})
			for _, repo := range []string{"team/app", "team/other"} {
				if d, ok, err := c.TagDigests(context.Background(), repo); ok || err != nil || d != nil {
					t.Errorf("%s: TagDigests = %v, %v, %v; want nil, false, nil", repo, d, ok, err)
				}
			}
			if n := rec.count(); n != 1 {
				t.Errorf("%d requests; want 1 (then the API rests): %v", n, rec.reqs)
			}
			if n := strings.Count(logs.String(), "does not list tags with digests"); n != 1 {
				t.Errorf("logged %d times; want once:\n%s", n, logs)
			}
		})
	}
}

// TestTagDigestsErrors: a failure the distribution API would also meet is
// an error, not a fallback, and the API does not rest.
func TestTagDigestsErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c, _ := bulkClient(t, srv.URL, event.Quay, Options{})
	for range 2 {
		_, ok, err := c.TagDigests(context.Background(), "team/app")
		if ok || bridge.StatusCode(err) != http.StatusServiceUnavailable {
			t.Errorf("TagDigests = %v, %v; want an error carrying 503", ok, err)
		}
	}
}

// TestTagDigestsHostile: an oversized page (declared or not), an endless
// chain of empty pages and more entries than MaxTags end with
// bridge.ErrTooLarge, within the bounds.
func TestTagDigestsHostile(t *testing.T) {
	var pages atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		pages.Add(1)
		big := `[` + strings.Repeat(`{"digest":"`+digestN(1)+`","tags":[{"name":"v1"}]},`, 200) + `{}]`
		switch r.URL.Query().Get("case") {
		case "declared":
			w.Header().Set("Content-Length", strconv.Itoa(len(big)))
			w.Write([]byte(big))
		case "":
			w.Write([]byte(big[:len(big)/2]))
			w.(http.Flusher).Flush() // no Content-Length: the cap applies while reading
			w.Write([]byte(big[len(big)/2:]))
		}
	}))
	defer srv.Close()
	c, _ := bulkClient(t, srv.URL, event.Harbor, Options{ListLimit: 4096})
	for _, cs := range []string{"declared", ""} {
		_, err := c.bulkList(context.Background(), harborAPI, "team/app", bulkRequest{method: http.MethodGet, pathQuery: "/api/v2.0/x?case=" + cs})
		if !errors.Is(err, bridge.ErrTooLarge) {
			t.Errorf("case %q: %v; want ErrTooLarge", cs, err)
		}
	}

	endless := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("page"))
		w.Header().Set("Link", fmt.Sprintf(`</api/v2.0/projects/team/repositories/app/artifacts?page=%d>; rel="next"`, n+1))
		if r.URL.Query().Get("empty") == "" && n < 5 {
			writeJSON(t, w, []map[string]any{harborArtifact(n, "t"+strconv.Itoa(n)), harborArtifact(n+100, "u"+strconv.Itoa(n))})
			return
		}
		w.Write([]byte(`[]`))
	}))
	defer endless.Close()
	c, _ = bulkClient(t, endless.URL, event.Harbor, Options{MaxTags: 6})
	if _, ok, err := c.TagDigests(context.Background(), "team/app"); ok || !errors.Is(err, bridge.ErrTooLarge) {
		t.Errorf("more than MaxTags: %v, %v; want ErrTooLarge", ok, err)
	}
	c, _ = bulkClient(t, endless.URL, event.Harbor, Options{})
	if _, ok, err := c.TagDigests(context.Background(), "team/app"); ok || !errors.Is(err, bridge.ErrTooLarge) {
		t.Errorf("endless empty pages: %v, %v; want ErrTooLarge", ok, err)
	}
}

// TestTagDigestsOtherHosts: the credentials never reach a host that is not
// the registry's: not by a redirect, not by a next-page link, not by a
// token realm outside tokenHosts.
func TestTagDigestsOtherHosts(t *testing.T) {
	other := &apiRecorder{}
	elsewhere := httptest.NewServer(other.wrap(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(t, w, map[string]string{"access_token": "stolen"})
	}))
	defer elsewhere.Close()

	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, elsewhere.URL+r.URL.RequestURI(), http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c, _ := bulkClient(t, redirect.URL, event.Harbor, Options{})
	if _, ok, err := c.TagDigests(context.Background(), "team/app"); ok || err != nil {
		t.Errorf("redirect: %v, %v; want ok=false", ok, err)
	}

	link := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", fmt.Sprintf(`<%s/api/v2.0/projects/team/repositories/app/artifacts?page=2>; rel="next"`, elsewhere.URL))
		writeJSON(t, w, []map[string]any{harborArtifact(1, "v1")})
	}))
	defer link.Close()
	c, _ = bulkClient(t, link.URL, event.Harbor, Options{})
	if _, ok, err := c.TagDigests(context.Background(), "team/app"); ok || !errors.Is(err, bridge.ErrRedirectRefused) {
		t.Errorf("next link to another host: %v, %v; want ErrRedirectRefused", ok, err)
	}

	acr := httptest.NewServer(acrFake(t, func() string { return elsewhere.URL + "/oauth2/token" }, 3))
	defer acr.Close()
	c, _ = bulkClient(t, acr.URL, event.ACR, Options{})
	if _, ok, err := c.TagDigests(context.Background(), "team/app"); ok || !errors.Is(err, bridge.ErrTokenHostRefused) {
		t.Errorf("token realm on another host: %v, %v; want ErrTokenHostRefused", ok, err)
	}

	if n := other.count(); n != 0 {
		t.Errorf("another host got %d requests: %v %q", n, other.reqs, other.auths)
	}
}

// TestTagDigestsRepositoryGone: once the API has listed a repository, a 404
// for another says only that this one is not there: ok=false without a
// warning, and the API keeps being asked.
func TestTagDigestsRepositoryGone(t *testing.T) {
	rec := &apiRecorder{}
	srv := httptest.NewServer(rec.wrap(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/repository/team/app/tag/" {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"detail": "Not Found", "error_message": "Not Found", "status": 404, "title": "not_found"}`))
			return
		}
		w.Write([]byte(`{"tags":[{"name":"v1","manifest_digest":"` + digestN(1) + `"}],"page":1,"has_additional":false}`))
	}))
	defer srv.Close()
	c, logs := bulkClient(t, srv.URL, event.Quay, Options{})
	for i, step := range []struct {
		repo string
		ok   bool
	}{{"team/app", true}, {"team/gone", false}, {"team/app", true}} {
		_, ok, err := c.TagDigests(context.Background(), step.repo)
		if ok != step.ok || err != nil {
			t.Errorf("step %d %s: TagDigests = %v, %v; want %v", i, step.repo, ok, err, step.ok)
		}
	}
	if n := rec.count(); n != 3 {
		t.Errorf("%d requests; want 3: %v", n, rec.reqs)
	}
	if strings.Contains(logs.String(), "does not list") {
		t.Errorf("a repository that is not there was logged as the API refusing:\n%s", logs)
	}
}

// TestTagDigestsTokenRefused: ACR's token service refusing the
// metadata_read scope to the pull account is a fallback, not an error.
func TestTagDigestsTokenRefused(t *testing.T) {
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm="%s/oauth2/token",service="acr"`, srv.URL))
			w.WriteHeader(http.StatusUnauthorized)
		case "/oauth2/token":
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
		default:
			t.Errorf("request %s without a token", r.URL)
		}
	}))
	defer srv.Close()
	c, logs := bulkClient(t, srv.URL, event.ACR, Options{})
	if d, ok, err := c.TagDigests(context.Background(), "team/app"); ok || err != nil || d != nil {
		t.Errorf("TagDigests = %v, %v, %v; want nil, false, nil", d, ok, err)
	}
	if !strings.Contains(logs.String(), "does not list tags with digests") {
		t.Errorf("not logged:\n%s", logs)
	}
}
