package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// digestN is a valid digest numbered n.
func digestN(n int) string { return fmt.Sprintf("sha256:%064x", n) }

// apiRecorder counts a fake's requests and keeps their Authorization headers.
type apiRecorder struct {
	mu    sync.Mutex
	reqs  []string
	auths []string
}

func (r *apiRecorder) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.reqs = append(r.reqs, req.Method+" "+req.URL.RequestURI())
		r.auths = append(r.auths, req.Header.Get("Authorization"))
		r.mu.Unlock()
		h(w, req)
	}
}

func (r *apiRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

// logBuffer is a logger writing into a buffer the test reads.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func bulkClient(t *testing.T, url string, kind event.Sender, opts Options) (*Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	opts.Log = slog.New(slog.NewTextHandler(logs, nil))
	return newClient(t, Config{URL: url, Sender: kind, Username: "puller", Password: "secret"}, opts), logs
}

const basicPuller = "Basic cHVsbGVyOnNlY3JldA==" // puller:secret

// harborFake answers the artifacts API of Harbor for project team,
// repository group/app (double-encoded in the path), in pages of two
// artifacts linked by Link rel="next" as Harbor's handler writes it.
func harborFake(t *testing.T, arts []map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		const path = "/api/v2.0/projects/team/repositories/group%252Fapp/artifacts"
		if r.URL.EscapedPath() != path {
			http.Error(w, `{"errors":[{"code":"NOT_FOUND","message":"not found"}]}`, http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != basicPuller {
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`, http.StatusUnauthorized)
			return
		}
		q := r.URL.Query()
		if q.Get("with_tag") != "true" || q.Get("q") != "tags=*" || q.Get("page_size") != "100" {
			t.Errorf("harbor query %q", r.URL.RawQuery)
		}
		page, _ := strconv.Atoi(q.Get("page"))
		from, to := (page-1)*2, min(page*2, len(arts))
		if to < len(arts) {
			w.Header().Set("Link", fmt.Sprintf(`<%s?page=%d&page_size=100&q=tags%%3D%%2A&with_tag=true>; rel="next"`, path, page+1))
		}
		w.Header().Set("X-Total-Count", strconv.Itoa(len(arts)))
		writeJSON(t, w, arts[from:to])
	}
}

func harborArtifact(n int, tags ...string) map[string]any {
	ts := []map[string]any{}
	for _, tag := range tags {
		ts = append(ts, map[string]any{"id": n, "name": tag, "push_time": "2026-01-01T00:00:00.000Z", "immutable": false})
	}
	return map[string]any{"id": n, "type": "IMAGE", "media_type": "application/vnd.oci.image.manifest.v1+json",
		"digest": digestN(n), "size": 1234, "tags": ts}
}

// TestTagDigestsHarbor: the artifacts API, three pages, one request each;
// an artifact with two tags gives both, an untagged one none.
func TestTagDigestsHarbor(t *testing.T) {
	rec := &apiRecorder{}
	arts := []map[string]any{harborArtifact(1, "v1", "latest"), harborArtifact(2), harborArtifact(3, "v3"),
		harborArtifact(4, "v4"), harborArtifact(5, "v5")}
	srv := httptest.NewServer(rec.wrap(harborFake(t, arts)))
	defer srv.Close()
	c, _ := bulkClient(t, srv.URL, event.Harbor, Options{})
	got, ok, err := c.TagDigests(context.Background(), "team/group/app")
	if err != nil || !ok {
		t.Fatalf("TagDigests = %v, %v", ok, err)
	}
	want := map[string]string{"v1": digestN(1), "latest": digestN(1), "v3": digestN(3), "v4": digestN(4), "v5": digestN(5)}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("digests (-want +got):\n%s", d)
	}
	if n := rec.count(); n != 3 {
		t.Errorf("%d requests for 3 pages: %v", n, rec.reqs)
	}
	// A repository without a project is not Harbor's to list: no request.
	if _, ok, err := c.TagDigests(context.Background(), "app"); ok || err != nil {
		t.Errorf("TagDigests(app) = %v, %v; want ok=false", ok, err)
	}
	if n := rec.count(); n != 3 {
		t.Errorf("a repository without a project cost %d requests", n-3)
	}
}

// TestTagDigestsQuay: the tag API, paged by page and has_additional, asked
// without credentials (it reads OAuth tokens only).
func TestTagDigestsQuay(t *testing.T) {
	rec := &apiRecorder{}
	srv := httptest.NewServer(rec.wrap(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/repository/team/app/tag/" {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		if q.Get("onlyActiveTags") != "true" || q.Get("limit") != "100" {
			t.Errorf("quay query %q", r.URL.RawQuery)
		}
		page, _ := strconv.Atoi(q.Get("page"))
		tags := []map[string]any{}
		for i := range 3 {
			n := (page-1)*3 + i
			tags = append(tags, map[string]any{"name": "t" + strconv.Itoa(n), "reversion": false, "start_ts": 1700000000,
				"manifest_digest": digestN(n), "is_manifest_list": false, "size": 100, "last_modified": "Tue, 14 Nov 2023 22:13:20 -0000"})
		}
		writeJSON(t, w, map[string]any{"tags": tags, "page": page, "has_additional": page < 2})
	}))
	defer srv.Close()
	c, _ := bulkClient(t, srv.URL, event.Quay, Options{})
	got, ok, err := c.TagDigests(context.Background(), "team/app")
	if err != nil || !ok {
		t.Fatalf("TagDigests = %v, %v", ok, err)
	}
	if len(got) != 6 || got["t5"] != digestN(5) || got["t0"] != digestN(0) {
		t.Errorf("digests %v", got)
	}
	if n := rec.count(); n != 2 {
		t.Errorf("%d requests for 2 pages", n)
	}
	for _, a := range rec.auths {
		if a != "" {
			t.Errorf("Quay's API was sent Authorization %q", a)
		}
	}
}

// acrFake is an ACR: /v2/ challenges for a token from its own /oauth2/token,
// which wants the pull credentials and the metadata_read scope; the tags
// API wants that token and pages with last, n and a Link header.
func acrFake(t *testing.T, realm func() string, tagCount int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
			w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="acr"`, realm()))
			w.WriteHeader(http.StatusUnauthorized)
		case "/oauth2/token":
			if r.Header.Get("Authorization") != basicPuller || r.URL.Query().Get("scope") != "repository:team/app:metadata_read" {
				t.Errorf("token request %q with %q", r.URL.RawQuery, r.Header.Get("Authorization"))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			writeJSON(t, w, map[string]string{"access_token": "acr-token"})
		case "/acr/v1/team/app/_tags":
			if r.Header.Get("Authorization") != "Bearer acr-token" {
				w.Header().Set("WWW-Authenticate", fmt.Sprintf(`Bearer realm=%q,service="acr",scope="repository:team/app:metadata_read"`, realm()))
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			last, n := r.URL.Query().Get("last"), r.URL.Query().Get("n")
			if n != "100" {
				t.Errorf("n=%q", n)
			}
			start := 0
			if last != "" {
				start, _ = strconv.Atoi(strings.TrimPrefix(last, "v"))
				start++
			}
			tags := []map[string]any{}
			for i := start; i < min(start+2, tagCount); i++ {
				tags = append(tags, map[string]any{"name": "v" + strconv.Itoa(i), "digest": digestN(i),
					"createdTime": "2018-09-06T06:17:21.0856539Z", "lastUpdateTime": "2018-09-06T06:17:21.0856539Z",
					"changeableAttributes": map[string]bool{"deleteEnabled": true, "writeEnabled": true, "readEnabled": true, "listEnabled": true}})
			}
			if start+2 < tagCount {
				w.Header().Set("Link", fmt.Sprintf(`</acr/v1/team/app/_tags?last=v%d&n=100&orderby=>; rel="next"`, start+1))
			}
			writeJSON(t, w, map[string]any{"registry": r.Host, "imageName": "team/app", "tags": tags})
		default:
			http.NotFound(w, r)
		}
	}
}

// TestTagDigestsACR: one ping per client, then per repository one token
// (scope metadata_read) and one request per page.
func TestTagDigestsACR(t *testing.T) {
	rec := &apiRecorder{}
	var srv *httptest.Server
	srv = httptest.NewServer(rec.wrap(acrFake(t, func() string { return srv.URL + "/oauth2/token" }, 5)))
	defer srv.Close()
	c, _ := bulkClient(t, srv.URL, event.ACR, Options{})
	for range 2 {
		got, ok, err := c.TagDigests(context.Background(), "team/app")
		if err != nil || !ok {
			t.Fatalf("TagDigests = %v, %v", ok, err)
		}
		if len(got) != 5 || got["v4"] != digestN(4) {
			t.Errorf("digests %v", got)
		}
	}
	var pings, tokens, pages int
	for _, r := range rec.reqs {
		switch {
		case strings.HasPrefix(r, "GET /v2/"):
			pings++
		case strings.HasPrefix(r, "GET /oauth2/token"):
			tokens++
		default:
			pages++
		}
	}
	if pings != 1 || tokens != 2 || pages != 6 {
		t.Errorf("two listings of 3 pages cost %d pings, %d tokens, %d pages; want 1, 2, 6: %v", pings, tokens, pages, rec.reqs)
	}
}

// aqlOffset reads .offset(N) from an AQL query.
var aqlOffset = regexp.MustCompile(`\.offset\((\d+)\)`)

// TestTagDigestsArtifactory: AQL for the manifest files under the image,
// paged by offset and limit (150 tags: two pages); a nested image's
// manifest and other files are not tags.
func TestTagDigestsArtifactory(t *testing.T) {
	rec := &apiRecorder{}
	type item struct {
		Repo   string `json:"repo"`
		Path   string `json:"path"`
		Name   string `json:"name"`
		SHA256 string `json:"sha256"`
	}
	var items []item
	for i := range 150 {
		name := "manifest.json"
		if i%2 == 1 {
			name = "list.manifest.json"
		}
		items = append(items, item{"docker-local", "team/app/v" + strconv.Itoa(i), name, digestN(i)[len("sha256:"):]})
	}
	items = append(items, item{"docker-local", "team/app/sub/v1", "manifest.json", digestN(999)[len("sha256:"):]})
	srv := httptest.NewServer(rec.wrap(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/artifactory/api/search/aql" || r.Header.Get("Content-Type") != "text/plain" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != basicPuller {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var body bytes.Buffer
		if _, err := body.ReadFrom(r.Body); err != nil {
			t.Errorf("read the AQL query: %v", err)
		}
		q := body.String()
		if !strings.Contains(q, `"repo":"docker-local"`) || !strings.Contains(q, `"$match":"team/app/*"`) || !strings.Contains(q, ".limit(100)") {
			t.Errorf("AQL %s", q)
		}
		m := aqlOffset.FindStringSubmatch(q)
		off, _ := strconv.Atoi(m[1])
		end := min(off+100, len(items))
		writeJSON(t, w, map[string]any{"results": items[off:end],
			"range": map[string]int{"start_pos": off, "end_pos": end, "total": end - off, "limit": 100}})
	}))
	defer srv.Close()
	c, _ := bulkClient(t, srv.URL, event.Artifactory, Options{})
	got, ok, err := c.TagDigests(context.Background(), "docker-local/team/app")
	if err != nil || !ok {
		t.Fatalf("TagDigests = %v, %v", ok, err)
	}
	if len(got) != 150 || got["v149"] != digestN(149) || got["v0"] != digestN(0) {
		t.Errorf("%d digests, v149=%s", len(got), got["v149"])
	}
	if n := rec.count(); n != 2 {
		t.Errorf("%d requests for 2 pages", n)
	}
	// The subdomain or port access method has no key in the path: nothing found is not "no tags".
	items = nil
	if _, ok, err := c.TagDigests(context.Background(), "docker-local/team/app"); ok || err != nil {
		t.Errorf("empty AQL answer: TagDigests = %v, %v; want ok=false", ok, err)
	}
}

// TestTagDigestsDistribution: distribution (and GitLab, which sends as
// distribution) has no bulk listing: ok=false without a request.
func TestTagDigestsDistribution(t *testing.T) {
	rec := &apiRecorder{}
	srv := httptest.NewServer(rec.wrap(http.NotFound))
	defer srv.Close()
	c, _ := bulkClient(t, srv.URL, event.Distribution, Options{})
	if d, ok, err := c.TagDigests(context.Background(), "team/app"); ok || err != nil || d != nil {
		t.Errorf("TagDigests = %v, %v, %v; want nil, false, nil", d, ok, err)
	}
	if rec.count() != 0 {
		t.Errorf("requests: %v", rec.reqs)
	}
}

// writeJSON encodes v as a test server's answer; a failure fails the test.
func writeJSON(t *testing.T, w io.Writer, v any) {
	t.Helper()
	if err := json.NewEncoder(w).Encode(v); err != nil {
		t.Errorf("encode the answer: %v", err)
	}
}
