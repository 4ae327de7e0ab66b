package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

const token = "s3cret-token"

// env is a registry, the image-API emulator and a bridge, all real, on loopback.
type env struct {
	t      testing.TB
	api    *sandbox.API
	reg    *sandbox.Registry
	url    string       // the bridge
	admin  *http.Client // dials the admin socket; any host in the URL
	cfg    *config.Config
	client *http.Client
	cancel context.CancelFunc
	done   chan error
}

type envOpts struct {
	notify bool   // registry sends notifications to the bridge
	extra  string // YAML appended to the registry entry
	top    string // YAML appended at top level
	// openshift is YAML appended to the openshift section.
	openshift string
	// client, when set, talks to the bridge (with https when scheme is "https").
	client *http.Client
	scheme string
	// quiet discards the bridge's log (fuzz targets may not log through testing.F).
	quiet bool
	// tokenFile replaces the inline token of registry "main".
	tokenFile string
	// api, when set, is used instead of starting a fresh emulator.
	api *sandbox.API
	// registry, when set, is used instead of starting a plain one.
	registry *sandbox.Registry
	// otherURL, when set, is the url of registry "other" (default: the same registry as "main").
	otherURL string
	// otherExtra is YAML appended to the registry entry "other".
	otherExtra string
}

func startEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, api: o.api, client: http.DefaultClient}
	if o.client != nil {
		e.client = o.client
	}
	if e.api == nil {
		e.api = sandbox.StartAPI()
		t.Cleanup(e.api.Close)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if o.scheme == "" {
		o.scheme = "http"
	}
	e.url = o.scheme + "://" + ln.Addr().String()
	n := sandbox.Notify{}
	if o.notify {
		n = sandbox.Notify{URL: e.url + "/notifications/main", Token: token}
	}
	if o.registry != nil {
		e.reg = o.registry
	} else {
		e.reg, err = sandbox.StartRegistry(context.Background(), n)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(e.reg.Close)
	}
	otherURL := e.reg.URL
	if o.otherURL != "" {
		otherURL = o.otherURL
	}
	if !strings.Contains(o.top, "resyncInterval") {
		o.top += "\nresyncInterval: 0s"
	}
	// The admin endpoints answer only on a Unix socket (short path: sun_path limit).
	sockDir, err := os.MkdirTemp("", "isb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "admin.sock")
	o.top += fmt.Sprintf("\nadminSocket: %q", sock)
	e.admin = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	dir := t.TempDir()
	kc, err := e.api.WriteKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`
listenAddress: %q
retry: {initialBackoff: 20ms, maxBackoff: 200ms}
shutdownTimeout: 4s
%s
registries:
  - name: main
    url: %s
    webhookToken: %s
%s
  - name: other
    url: %s
    webhookToken: other-token
%s
openshift:
  kubeconfig: %q
%s
`, ln.Addr().String(), o.top, e.reg.URL, token, indent(o.extra, "    "), otherURL, indent(o.otherExtra, "    "), kc, indent(o.openshift, "  "))
	if o.tokenFile != "" {
		yaml = strings.Replace(yaml, "webhookToken: "+token, fmt.Sprintf("webhookTokenFile: %q", o.tokenFile), 1)
	}
	e.cfg, err = config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config: %v\n%s", err, yaml)
	}
	ctx, cancel := context.WithCancel(context.Background())
	e.cancel, e.done = cancel, make(chan error, 1)
	var logOut io.Writer = testWriter{t}
	if o.quiet {
		logOut = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	go func() { e.done <- app.Serve(ctx, e.cfg, log, ln) }()
	t.Cleanup(e.stop)
	e.waitFor("bridge ready", func() bool {
		resp, err := e.client.Get(e.url + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return e
}

func (e *env) stop() {
	if e.cancel == nil {
		return
	}
	e.cancel()
	e.cancel = nil
	select {
	case err := <-e.done:
		if err != nil {
			e.t.Errorf("serve returned %v", err)
		}
	case <-time.After(10 * time.Second):
		e.t.Error("serve did not stop within 10s")
	}
}

func indent(s, prefix string) string {
	if strings.TrimSpace(s) == "" {
		return ""
	}
	lines := strings.Split(strings.Trim(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (e *env) waitFor(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitTag waits until ns/stream:tag points at digest.
func (e *env) waitTag(ns, stream, tag, digest string) {
	e.t.Helper()
	e.waitFor(fmt.Sprintf("%s/%s:%s -> %s", ns, stream, tag, digest), func() bool {
		h := e.api.TagHistory(ns, stream, tag)
		return len(h) > 0 && h[0] == digest
	})
}

func (e *env) push(repo, tag string, img remote.Taggable) string {
	e.t.Helper()
	if err := sandbox.Push(e.reg.Host, repo, tag, img); err != nil {
		e.t.Fatal(err)
	}
	switch x := img.(type) {
	case v1.Image:
		d, _ := x.Digest()
		return d.String()
	case v1.ImageIndex:
		d, _ := x.Digest()
		return d.String()
	}
	return ""
}

// tag points repo:tag at an existing digest through the registry (a manifest PUT by tag).
func (e *env) tag(repo, digest, tag string) {
	e.t.Helper()
	src, err := name.NewDigest(e.reg.Host+"/"+repo+"@"+digest, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	desc, err := remote.Get(src)
	if err != nil {
		e.t.Fatal(err)
	}
	dst, _ := name.NewTag(e.reg.Host+"/"+repo+":"+tag, name.Insecure)
	if err := remote.Put(dst, desc); err != nil {
		e.t.Fatal(err)
	}
}

func randomImage(t testing.TB, layers int, oci bool) v1.Image {
	t.Helper()
	img, err := sandbox.RandomImage(layers, oci, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// event builds one registry-shaped push event.
func event(id, repo, tag, digest, mediaType string) map[string]any {
	return map[string]any{
		"id": id, "timestamp": time.Now().UTC().Format(time.RFC3339Nano), "action": "push",
		"target": map[string]any{"mediaType": mediaType, "digest": digest, "size": 500, "length": 500,
			"repository": repo, "url": "http://attacker.invalid/v2/" + repo + "/manifests/" + digest, "tag": tag},
		"request": map[string]any{"id": "r", "addr": "127.0.0.1:1", "host": "attacker.invalid", "method": "PUT", "useragent": "test"},
		"actor":   map[string]any{}, "source": map[string]any{"addr": "test"},
	}
}

func envelope(events ...map[string]any) []byte {
	b, _ := json.MarshalIndent(map[string]any{"events": events}, "", "   ")
	return b
}

type answer struct {
	status int
	body   string
	header http.Header
}

// post sends a notification as the registry would.
func (e *env) post(registry, auth, contentType string, body []byte) answer {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/notifications/"+registry, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

const eventsType = "application/vnd.docker.distribution.events.v2+json"

func (e *env) notify(events ...map[string]any) answer {
	e.t.Helper()
	return e.post("main", "Bearer "+token, eventsType, envelope(events...))
}

// metric returns the value of one sample line of /metrics (0 when absent).
func (e *env) metric(series string) float64 {
	e.t.Helper()
	resp, err := e.client.Get(e.url + "/metrics")
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, series+" ") {
			var v float64
			fmt.Sscanf(strings.TrimPrefix(line, series+" "), "%g", &v)
			return v
		}
	}
	return 0
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
