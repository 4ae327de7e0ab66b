package app_test

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
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/emulator"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

func TestInvalidConfigNamesTheKey(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ yaml, key string }{
		{"registries: [{name: main, url: http://r:5000, webhookToken: x}]\nlistenAdress: :80\n", "listenAdress"},
		{"registries: [{name: main, url: ftp://r, webhookToken: x}]\n", "registries[0].url"},
		{"registries: [{name: main, url: http://r}]\n", "registries[0].webhookToken"},
		{"registries: [{name: Main, url: http://r, webhookToken: x}]\n", "registries[0].name"},
		{"registries: [{name: main, url: http://r, webhookToken: x, namespaces: [\"[\"]}]\n", "registries[0].namespaces"},
		{"logLevel: loud\nregistries: [{name: main, url: http://r, webhookToken: x}]\n", "logLevel"},
		{"maxBodyBytes: 99999999\nregistries: [{name: main, url: http://r, webhookToken: x}]\n", "maxBodyBytes"},
		{"resyncInterval: soon\nregistries: [{name: main, url: http://r, webhookToken: x}]\n", "soon"},
		{"registries: [{name: main, url: http://r, webhookTokenFile: /nonexistent/token}]\n", "registries[0].webhookTokenFile"},
	} {
		p := filepath.Join(dir, "c.yaml")
		os.WriteFile(p, []byte(tc.yaml), 0o600)
		var out, errOut bytes.Buffer
		code := app.Main(t.Context(), []string{"serve", "--config", p}, &out, &errOut)
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		if code == 0 || len(lines) != 1 || !strings.Contains(lines[0], tc.key) {
			t.Errorf("config %q: exit %d, stderr %q; want non-zero and one line naming %s", tc.yaml, code, errOut.String(), tc.key)
		}
	}
}

func TestConfigExampleIsValid(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example points at files that exist in a pod; create them here.
	s := strings.ReplaceAll(string(b), "/etc/imagestream-bridge", dir)
	for _, f := range []string{"main.token", "main.password", "ca.crt"} {
		os.WriteFile(filepath.Join(dir, f), []byte("x"), 0o600)
	}
	if _, err := config.Parse([]byte(s)); err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
}

func TestConfigCommandRedactsSecrets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(p, []byte("registries: [{name: main, url: http://r, webhookToken: topsecret, username: u, password: hunter2}]\n"), 0o600)
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"config", "--config", p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "topsecret") || strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "REDACTED") {
		t.Errorf("config dump leaks or lacks redaction:\n%s", out.String())
	}
}

// buildBinary builds the real binary once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "imagestream-bridge")
	cmd := exec.Command("go", "build", "-o", bin, "../cmd/imagestream-bridge")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ready(url string) bool {
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func notify(t *testing.T, url, token, id, repo, tag, digest string) int {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"events": []any{map[string]any{
		"id": id, "timestamp": time.Now().UTC(), "action": "push",
		"target": map[string]any{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
			"digest": digest, "repository": repo, "tag": tag, "size": 1},
	}}})
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestKill9KeepsAcknowledgedEvents runs the real binary with a durable journal,
// kills it with SIGKILL in the middle of a burst, restarts it, and checks that
// every acknowledged event is applied exactly once; then SIGTERM exits 0.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	api := sandbox.StartAPI()
	defer api.Close()
	reg, err := sandbox.StartRegistry(t.Context(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dir := t.TempDir()
	kc, _ := api.WriteKubeconfig(dir)
	addr, _ := sandbox.FreeAddr()
	cfgFile := filepath.Join(dir, "config.yaml")
	os.WriteFile(filepath.Join(dir, "token"), []byte("tok\n"), 0o600)
	os.WriteFile(cfgFile, []byte(fmt.Sprintf(`
listenAddress: %q
dataDir: %q
workers: 2
resyncInterval: 0s
retry: {initialBackoff: 50ms, maxBackoff: 500ms}
registries: [{name: main, url: %s, webhookTokenFile: %q}]
openshift: {kubeconfig: %q}
`, addr, filepath.Join(dir, "data"), reg.URL, filepath.Join(dir, "token"), kc)), 0o600)

	const n = 20
	digests := make([]string, n)
	for i := range digests {
		img, _ := sandbox.RandomImage(1, false, "amd64")
		if err := sandbox.Push(reg.Host, "crash/app", fmt.Sprintf("t%d", i), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests[i] = d.String()
	}
	// A slow API server keeps the acknowledged events queued.
	api.Inject(&emulator.Fault{PathContains: "imagestreammappings", Delay: 3 * time.Second})

	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "serve", "--config", cfgFile)
		var logs bytes.Buffer
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		waitFor(t, "binary ready", 20*time.Second, func() bool { return ready("http://" + addr) })
		return cmd
	}
	first := start()
	for i := range n {
		if code := notify(t, "http://"+addr+"/notifications/main", "tok", fmt.Sprintf("e%d", i), "crash/app", fmt.Sprintf("t%d", i), digests[i]); code != http.StatusAccepted {
			t.Fatalf("event %d: %d", i, code)
		}
	}
	first.Process.Signal(syscall.SIGKILL)
	first.Wait()
	if got := api.MappingCount.Load(); got >= n {
		t.Fatalf("%d mappings before the crash: the test proves nothing", got)
	}
	t.Logf("%d of %d events applied before kill -9", api.MappingCount.Load(), n)

	api.ClearFaults()
	second := start()
	waitFor(t, "all tags after restart", 30*time.Second, func() bool {
		for i := range n {
			h := api.TagHistory("crash", "app", fmt.Sprintf("t%d", i))
			if len(h) == 0 || h[0] != digests[i] {
				return false
			}
		}
		return true
	})
	for i := range n {
		if h := api.TagHistory("crash", "app", fmt.Sprintf("t%d", i)); len(h) != 1 {
			t.Errorf("t%d history %v, want exactly one entry", i, h)
		}
	}
	second.Process.Signal(syscall.SIGTERM)
	if err := second.Wait(); err != nil {
		t.Errorf("SIGTERM: %v, want exit 0", err)
	}
}

// TestLeaderElection runs two replicas against one Lease: exactly one is ready
// and processes events; when it stops, the other takes over.
func TestLeaderElection(t *testing.T) {
	api := sandbox.StartAPI()
	defer api.Close()
	reg, err := sandbox.StartRegistry(t.Context(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	kc, _ := api.WriteKubeconfig(t.TempDir())
	type replica struct {
		url    string
		cancel context.CancelFunc
		done   chan error
	}
	startReplica := func() *replica {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := config.Parse([]byte(fmt.Sprintf(`
listenAddress: %q
resyncInterval: 0s
leaderElection: {enabled: true, namespace: ha, leaseDuration: 2s, renewDeadline: 1500ms, retryPeriod: 200ms}
registries: [{name: main, url: %s, webhookToken: tok}]
openshift: {kubeconfig: %q}
`, ln.Addr().String(), reg.URL, kc)))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &replica{url: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
		go func() { r.done <- app.Serve(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), ln) }()
		t.Cleanup(func() { cancel(); <-r.done })
		return r
	}
	a, b := startReplica(), startReplica()
	waitFor(t, "a leader", 10*time.Second, func() bool { return ready(a.url) || ready(b.url) })
	time.Sleep(500 * time.Millisecond)
	leader, follower := a, b
	if ready(b.url) {
		leader, follower = b, a
	}
	if ready(follower.url) {
		t.Fatal("both replicas are ready")
	}
	img, _ := sandbox.RandomImage(1, false, "amd64")
	sandbox.Push(reg.Host, "ha/app", "v1", img)
	d, _ := img.Digest()
	if code := notify(t, follower.url+"/notifications/main", "tok", "h0", "ha/app", "v1", d.String()); code != http.StatusServiceUnavailable {
		t.Errorf("follower answered %d, want 503", code)
	}
	if code := notify(t, leader.url+"/notifications/main", "tok", "h1", "ha/app", "v1", d.String()); code != http.StatusAccepted {
		t.Errorf("leader answered %d, want 202", code)
	}
	waitFor(t, "mapping by leader", 10*time.Second, func() bool { return api.MappingCount.Load() == 1 })

	stopped := time.Now()
	leader.cancel()
	<-leader.done
	waitFor(t, "failover", 15*time.Second, func() bool { return ready(follower.url) })
	t.Logf("failover took %s", time.Since(stopped).Round(time.Millisecond))
	img2, _ := sandbox.RandomImage(1, false, "amd64")
	sandbox.Push(reg.Host, "ha/app", "v2", img2)
	d2, _ := img2.Digest()
	if code := notify(t, follower.url+"/notifications/main", "tok", "h2", "ha/app", "v2", d2.String()); code != http.StatusAccepted {
		t.Errorf("new leader answered %d", code)
	}
	waitFor(t, "mapping by new leader", 10*time.Second, func() bool { return len(api.TagHistory("ha", "app", "v2")) == 1 })
	leader.done <- nil // for the cleanup
}
