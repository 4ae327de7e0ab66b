package e2e_test

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// TestTokenFileRotation re-reads the token file: the new token works and the
// old one stops working, without a restart.
func TestTokenFileRotation(t *testing.T) {
	dir := t.TempDir()
	tokFile := writeFile(t, dir, "token", "first-token\n")
	f := startEnv(t, envOpts{configure: func(c *config.Config) { c.Registries[0].WebhookToken, c.Registries[0].WebhookTokenFile = "", tokFile }})
	if a := f.post("main", "Bearer first-token", eventsType, []byte(`{"events":[]}`)); a.status != 200 {
		t.Fatalf("first token: %d %s", a.status, a.body)
	}
	time.Sleep(1100 * time.Millisecond) // the file is checked at most once a second
	if err := os.WriteFile(tokFile, []byte("second-token-longer\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f.waitFor("rotated token accepted", func() bool {
		return f.post("main", "Bearer second-token-longer", eventsType, []byte(`{"events":[]}`)).status == 200
	})
	if a := f.post("main", "Bearer first-token", eventsType, []byte(`{"events":[]}`)); a.status != 401 {
		t.Errorf("old token after rotation: %d", a.status)
	}
}

// hostileRegistry serves content that must never be mapped, and a second
// server that counts the requests a redirect would steer the bridge to.
type hostileRegistry struct {
	srv, internal *httptest.Server
	internalHits  atomic.Int64
	digests       map[string]string // repository -> manifest digest named in the event
}

func newHostileRegistry(t *testing.T) *hostileRegistry {
	h := &hostileRegistry{digests: map[string]string{}}
	h.internal = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.internalHits.Add(1)
		w.Write([]byte(`{"secret":"metadata"}`))
	}))
	t.Cleanup(h.internal.Close)

	bigConfig := strings.Repeat("x", 9<<20)
	cfg := []byte(`{"architecture":"amd64","os":"linux","config":{}}`)
	manifestFor := func(configDigest string, size int) []byte {
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
			`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":%q},"layers":[]}`, size, configDigest))
	}
	manifests := map[string][]byte{
		"evil/redirect":  manifestFor(sha(cfg), len(cfg)),
		"evil/bigconfig": manifestFor(sha([]byte(bigConfig)), len(bigConfig)),
		"evil/badconfig": manifestFor(sha([]byte("other")), len(cfg)),
	}
	for repo, m := range manifests {
		h.digests[repo] = sha(m)
	}
	huge := []byte(`{"schemaVersion":2,"pad":"` + strings.Repeat("a", 5<<20) + `"}`)
	h.digests["evil/huge"] = sha(huge)
	h.digests["evil/mismatch"] = sha([]byte("the manifest the event names"))
	h.digests["evil/missing"] = sha([]byte("gone"))

	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/v2/":
			w.WriteHeader(200)
		case strings.HasPrefix(p, "/v2/evil/huge/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Write(huge)
		case strings.HasPrefix(p, "/v2/evil/mismatch/manifests/"):
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Write(manifests["evil/redirect"]) // valid, but not what the digest names
		case strings.Contains(p, "/manifests/"):
			repo := strings.TrimPrefix(p[:strings.Index(p, "/manifests/")], "/v2/")
			m, ok := manifests[repo]
			if !ok {
				http.Error(w, `{"errors":[{"code":"MANIFEST_UNKNOWN"}]}`, 404)
				return
			}
			w.Header().Set("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
			w.Header().Set("Docker-Content-Digest", sha(m))
			w.Write(m)
		case strings.HasPrefix(p, "/v2/evil/redirect/blobs/"):
			http.Redirect(w, r, h.internal.URL+"/latest/meta-data", http.StatusTemporaryRedirect)
		case strings.HasPrefix(p, "/v2/evil/bigconfig/blobs/"):
			w.Write([]byte(bigConfig))
		case strings.HasPrefix(p, "/v2/evil/badconfig/blobs/"):
			w.Write(cfg) // does not hash to the digest the manifest names
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(h.srv.Close)
	return h
}

// TestHostileRegistryContent checks that oversized, mismatched and redirected
// content is refused with a counted reason and never mapped, and that the
// bridge never fetches from a host named in the event.
func TestHostileRegistryContent(t *testing.T) {
	h := newHostileRegistry(t)
	e := startEnv(t, envOpts{registry: &sandbox.Registry{URL: h.srv.URL, Host: strings.TrimPrefix(h.srv.URL, "http://")}})
	cases := map[string]string{
		"evil/huge":      "too_large",
		"evil/mismatch":  "digest_mismatch",
		"evil/redirect":  "redirect_refused",
		"evil/bigconfig": "too_large",
		"evil/badconfig": "digest_mismatch",
		"evil/missing":   "manifest_not_found",
	}
	for repo := range cases {
		ev := event("h-"+repo, repo, "v1", h.digests[repo], schema2)
		// The event names the internal server as the place to fetch from: ignored.
		ev["target"].(map[string]any)["url"] = h.internal.URL + "/v2/" + repo + "/manifests/" + h.digests[repo]
		ev["request"].(map[string]any)["host"] = strings.TrimPrefix(h.internal.URL, "http://")
		if a := e.notify(ev); a.status != 202 {
			t.Fatalf("%s: %d %s", repo, a.status, a.body)
		}
	}
	e.waitFor("all failed", func() bool { return len(e.failed().Failed) == len(cases) })
	for _, f := range e.failed().Failed {
		if want := cases[f.Repository]; f.Reason != want {
			t.Errorf("%s failed with %s (%s), want %s", f.Repository, f.Reason, f.Message, want)
		}
	}
	if n := e.api.MappingCount.Load(); n != 0 {
		t.Errorf("%d mappings from hostile content", n)
	}
	if n := h.internalHits.Load(); n != 0 {
		t.Errorf("the internal server was reached %d times", n)
	}
	if code, err := getStatus(http.DefaultClient, e.url+"/healthz"); err != nil || code != 200 {
		t.Errorf("unhealthy after hostile content: %v %v", code, err)
	}
}

// TestHeaderLimit answers oversized headers without reading them.
func TestHeaderLimit(t *testing.T) {
	e := startEnv(t, envOpts{})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/notifications/main", strings.NewReader(`{"events":[]}`))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Pad", strings.Repeat("a", 200<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
}

// TestTLSAndClientCertificates serves HTTPS and requires, for one registry, a
// client certificate from its own CA.
func TestTLSAndClientCertificates(t *testing.T) {
	dir := t.TempDir()
	serverCA, clientCA, otherCA := newCA(t, "server-ca"), newCA(t, "client-ca"), newCA(t, "other-ca")
	certPEM, keyPEM := serverCA.issue(t, "bridge", false)
	certFile, keyFile := writeFile(t, dir, "tls.crt", string(certPEM)), writeFile(t, dir, "tls.key", string(keyPEM))
	clientCAFile := writeFile(t, dir, "client-ca.crt", string(clientCA.pem))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(serverCA.pem)
	client := func(certs ...tls.Certificate) *http.Client {
		return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, Certificates: certs}}}
	}
	e := startEnv(t, envOpts{
		scheme: "https", client: client(clientCA.clientCert(t)),
		configure: func(c *config.Config) {
			c.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
			c.Registries[0].ClientCAFile = clientCAFile
		},
	})
	empty := []byte(`{"events":[]}`)
	if a := e.post("main", "Bearer "+token, eventsType, empty); a.status != 200 {
		t.Errorf("valid client certificate: %d %s", a.status, a.body)
	}
	for name, c := range map[string]*http.Client{"no certificate": client(), "other CA": client(otherCA.clientCert(t))} {
		e.client = c
		if a := e.post("main", "Bearer "+token, eventsType, empty); a.status != 401 {
			t.Errorf("%s: %d, want 401", name, a.status)
		}
	}
	// The other registry needs no client certificate.
	if a := e.post("other", "Bearer other-token", eventsType, empty); a.status != 200 {
		t.Errorf("registry without clientCAFile: %d", a.status)
	}
	// Plain HTTP to the TLS port is refused.
	if code, err := getStatus(http.DefaultClient, strings.Replace(e.url, "https", "http", 1)+"/healthz"); err == nil && code == 200 {
		t.Error("plain HTTP served on the TLS listener")
	}
}

// TestHTTPSRegistryWithCAFile fetches from a TLS registry verified with caFile.
func TestHTTPSRegistryWithCAFile(t *testing.T) {
	reg, err := sandbox.StartRegistryTLS(context.Background(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(reg.Close)
	caFile := writeFile(t, t.TempDir(), "ca.crt", string(reg.CAPEM))
	e := startEnv(t, envOpts{registry: reg, configure: func(c *config.Config) { c.Registries[0].CAFile = caFile }})
	img := randomImage(t, 1, false)
	d, _ := img.Digest()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(reg.CAPEM)
	if err := sandbox.PushTLS(reg.Host, "secure/app", "v1", img, pool); err != nil {
		t.Fatal(err)
	}
	if a := e.notify(event("tls1", "secure/app", "v1", d.String(), schema2)); a.status != 202 {
		t.Fatal(a.body)
	}
	e.waitTag("secure", "app", "v1", d.String())
	if ref := e.api.Image(d.String()).DockerImageReference; !strings.HasPrefix(ref, reg.Host+"/secure/app@") {
		t.Errorf("reference %s", ref)
	}
}
