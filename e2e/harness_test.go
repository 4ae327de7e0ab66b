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
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"sigs.k8s.io/yaml"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

const token = "s3cret-token"

// env is a registry, the image-API emulator and a bridge, all real, on
// loopback (a sandbox stack), with registries "main" and "other".
type env struct {
	t      testing.TB
	api    *sandbox.API
	reg    *sandbox.Registry
	url    string       // the bridge
	admin  *http.Client // dials the admin socket; any host in the URL
	cfg    *config.Config
	client *http.Client
	stack  *loopback.Stack
	// clusters are the emulators of envOpts.clusters, by name.
	clusters map[string]*sandbox.API
	// proxy, when set, stands between the bridge and the registry (envOpts.proxy).
	proxy *faultProxy
}

type envOpts struct {
	notify bool // registry sends notifications to the bridge
	// configure edits the config after the harness's settings (main is
	// Registries[0], other is Registries[1]).
	configure func(c *config.Config)
	// client, when set, talks to the bridge (with https when scheme is "https").
	client *http.Client
	scheme string
	// quiet discards the bridge's log (fuzz targets may not log through testing.F).
	quiet bool
	// api, when set, is used instead of starting a fresh emulator.
	api *sandbox.API
	// registry, when set, is used instead of starting a plain one.
	registry *sandbox.Registry
	// clusters names extra clusters, each with an emulator of its own (env.clusters).
	clusters []string
	// proxy puts a fault-injecting proxy (env.proxy) between the bridge and the
	// registry "main"; image references keep naming the registry's own host.
	proxy bool
	// logs, when set, also receives the bridge's log (WARN and above).
	logs io.Writer
}

func startEnv(t testing.TB, o envOpts) *env {
	t.Helper()
	e := &env{t: t, client: http.DefaultClient}
	if o.client != nil {
		e.client = o.client
	}
	// The admin endpoints answer only on a Unix socket (short path: sun_path limit).
	sockDir, err := os.MkdirTemp("", "isb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(sockDir) })
	sock := filepath.Join(sockDir, "admin.sock")
	e.admin = &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}}
	var logOut io.Writer = testWriter{t}
	if o.quiet {
		logOut = io.Discard
	}
	if o.logs != nil {
		logOut = io.MultiWriter(logOut, o.logs)
	}
	e.stack, err = loopback.Start(context.Background(), loopback.Options{
		Token: token, Notify: o.notify, API: o.api, Reg: o.registry, Scheme: o.scheme, Client: e.client, Clusters: o.clusters,
		Log: slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Configure: func(c *config.Config) {
			c.Retry = config.Retry{InitialBackoff: ms(20), MaxBackoff: ms(200)}
			c.ShutdownTimeout = ms(4000)
			c.ResyncInterval = &config.Duration{}
			c.AdminSocket = sock
			c.Registries = append(c.Registries, config.Registry{Name: "other", URL: c.Registries[0].URL, WebhookToken: "other-token"})
			if o.proxy {
				u, _ := url.Parse(c.Registries[0].URL)
				e.proxy = startFaultProxy(t, c.Registries[0].URL)
				c.Registries[0].URL, c.Registries[0].ReferenceHost = e.proxy.URL, u.Host
			}
			if o.configure != nil {
				o.configure(c)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	e.api, e.reg, e.cfg, e.url = e.stack.API, e.stack.Registry, e.stack.Config, e.stack.Bridge.URL
	e.clusters = e.stack.Clusters
	st := e.stack
	t.Cleanup(func() { st.Close() }) // the registry and emulator outlive stop, for a restart
	t.Cleanup(e.stop)
	return e
}

func ms(n int) config.Duration { return config.Duration{Duration: time.Duration(n) * time.Millisecond} }

// stop stops the bridge; the registry and the emulator run until the test ends.
func (e *env) stop() {
	if err := e.stack.Bridge.Close(); err != nil {
		e.t.Errorf("serve returned %v", err)
	}
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
			if _, err := fmt.Sscanf(strings.TrimPrefix(line, series+" "), "%g", &v); err != nil {
				e.t.Fatalf("%s: %v", line, err)
			}
			return v
		}
	}
	return 0
}

// getStatus GETs url with client and returns the answer's status code (the
// body is read and closed).
func getStatus(client *http.Client, url string) (int, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("read %s: %w", url, err)
	}
	return resp.StatusCode, nil
}

func writeFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// cliConfig writes a config file for a one-shot command (resync, failed) that
// reaches this env's registry, emulator and, with admin, admin socket.
func (e *env) cliConfig(admin bool) string {
	e.t.Helper()
	main := e.cfg.Registries[0]
	c := &config.Config{LogLevel: "error",
		Registries: []config.Registry{{Name: "main", URL: e.reg.URL, WebhookToken: "x",
			Clusters: main.Clusters, DeleteTags: main.DeleteTags, DeleteTagsMaxShare: main.DeleteTagsMaxShare, Tags: main.Tags,
			DerivedTags: main.DerivedTags, MaxTagsPerStream: main.MaxTagsPerStream}},
		OpenShift:     config.OpenShift{Kubeconfig: e.cfg.OpenShift.Kubeconfig},
		OtherClusters: e.cfg.OtherClusters, QueueSize: e.cfg.QueueSize}
	if e.proxy != nil {
		c.Registries[0].URL, c.Registries[0].ReferenceHost = e.proxy.URL, e.reg.Host
	}
	if admin {
		c.AdminSocket = e.cfg.AdminSocket
	}
	if err := c.Complete(); err != nil {
		e.t.Fatal(err)
	}
	b, err := yaml.Marshal(c)
	if err != nil {
		e.t.Fatal(err)
	}
	return writeFile(e.t, e.t.TempDir(), "config.yaml", string(b))
}
