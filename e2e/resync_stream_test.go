package e2e_test

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// requestLog is a proxy in front of the registry that records the kind of
// every request, in order.
type requestLog struct {
	URL   string
	mu    sync.Mutex
	kinds []string
}

func startRequestLog(t *testing.T, target string) *requestLog {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	l := &requestLog{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kind := r.Method + " other"
		switch p := r.URL.Path; {
		case p == "/v2/":
			kind = "ping"
		case strings.HasSuffix(p, "/_catalog"):
			kind = "catalog"
		case strings.HasSuffix(p, "/tags/list"):
			kind = "tags"
		case strings.Contains(p, "/manifests/"):
			kind = r.Method + " manifest"
		}
		l.mu.Lock()
		l.kinds = append(l.kinds, kind)
		l.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	l.URL = srv.URL
	return l
}

func (l *requestLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.kinds...)
}

// TestResyncStreamsThePages: a pass checks each catalog page's repositories
// before it asks for the next page (it never holds the whole catalog), and
// pings the registry once, not once per repository.
func TestResyncStreamsThePages(t *testing.T) {
	const repos, page, concurrency = 230, 100, 8 // 3 catalog pages; the default concurrency
	e := startEnv(t, envOpts{})
	img := randomImage(t, 1, false)
	for i := range repos {
		e.push(fmt.Sprintf("st/r%03d", i), "v1", img)
	}
	reqs := startRequestLog(t, e.reg.URL)
	file := e.cliConfig(false)
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var c config.Config
	if err := yaml.UnmarshalStrict(raw, &c); err != nil {
		t.Fatal(err)
	}
	c.Registries[0].URL, c.Registries[0].ReferenceHost = reqs.URL, e.reg.Host
	b, err := yaml.Marshal(&c)
	if err != nil {
		t.Fatal(err)
	}
	file = writeFile(t, t.TempDir(), "config.yaml", string(b))

	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"resync", "--config", file, "--dry-run"}, &out, &errOut); code != 0 {
		t.Fatalf("dry run exit %d: %s", code, errOut.String())
	}
	if want := fmt.Sprintf("%d tags drifted (dry run", repos); !strings.Contains(out.String(), want) {
		t.Fatalf("output lacks %q:\n%s", want, out.String())
	}
	counts := map[string]int{}
	catalogPages := 0
	for _, k := range reqs.list() {
		if k == "catalog" {
			catalogPages++
			// Every repository of the pages before the previous one is
			// checked, and the previous page's all but those still in the
			// checkers' hands.
			if done, min := counts["tags"], (catalogPages-1)*page-concurrency; catalogPages > 1 && done < min {
				t.Errorf("catalog page %d asked for after %d tag listings, want at least %d: the pass holds more than a page", catalogPages, done, min)
			}
		}
		counts[k]++
	}
	if catalogPages != 3 || counts["tags"] != repos || counts["HEAD manifest"] != repos {
		t.Errorf("requests %v, want 3 catalog pages, %d tag listings and %d HEADs", counts, repos, repos)
	}
	if counts["ping"] > 1 {
		t.Errorf("%d pings of /v2/ in one pass over %d repositories, want at most 1", counts["ping"], repos)
	}
}
