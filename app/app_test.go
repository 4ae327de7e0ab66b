package app_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

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
		{"registries: [{name: main, url: http://r, webhookToken: x, namespaces: [\"[\"]}]\n", "registries[0].namespaces[0]"},
		{"logLevel: loud\nregistries: [{name: main, url: http://r, webhookToken: x}]\n", "logLevel"},
		{"maxBodyBytes: 99999999\nregistries: [{name: main, url: http://r, webhookToken: x}]\n", "maxBodyBytes"},
		{"resyncInterval: soon\nregistries: [{name: main, url: http://r, webhookToken: x}]\n", "resyncInterval"},
		{"registries: [{name: main, url: http://r, webhookTokenFile: /nonexistent/token}]\n", "registries[0].webhookTokenFile"},
	} {
		p := filepath.Join(dir, "c.yaml")
		mustWrite(t, p, []byte(tc.yaml+"openshift: {kubeconfig: "+emptyKubeconfig(t)+"}\n"), 0o600)
		var out, errOut bytes.Buffer
		code := app.Main(t.Context(), []string{"serve", "--config", p}, &out, &errOut)
		lines := strings.Split(strings.TrimSpace(errOut.String()), "\n")
		if code != 1 || len(lines) != 1 || !strings.Contains(lines[0], "invalid config: "+tc.key+":") {
			t.Errorf("config %q: exit %d, stderr %q; want 1 and one line naming %s", tc.yaml, code, errOut.String(), tc.key)
		}
	}
}

// emptyKubeconfig writes a loadable kubeconfig for a server that is never called.
func emptyKubeconfig(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := emulator.WriteKubeconfig("http://127.0.0.1:1", p); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestConfigAndServeRejectTheSame: config runs exactly serve's checks, so
// every config serve refuses, config refuses with the same words.
func TestConfigAndServeRejectTheSame(t *testing.T) {
	dir := t.TempDir()
	kc := emptyKubeconfig(t)
	empty := filepath.Join(dir, "empty.token")
	mustWrite(t, empty, nil, 0o600)
	garbage := filepath.Join(dir, "garbage.pem")
	mustWrite(t, garbage, []byte("not a certificate"), 0o600)
	t.Setenv("KUBECONFIG", "")
	reg := "registries: [{name: main, url: 'http://r', webhookToken: t}]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"missing kubeconfig", reg + "openshift: {kubeconfig: " + filepath.Join(dir, "nope") + "}\n", "openshift.kubeconfig: cannot load"},
		{"no kubeconfig anywhere", reg, "openshift.kubeconfig: no API server client config: openshift.kubeconfig is empty, $KUBECONFIG is not set; in-cluster:"},
		{"empty token file", "registries: [{name: main, url: 'http://r', webhookTokenFile: " + empty + "}]\nopenshift: {kubeconfig: " + kc + "}\n", "registries[0].webhookTokenFile: file " + empty + " is empty"},
		{"listen without port", "listenAddress: '8080'\n" + reg + "openshift: {kubeconfig: " + kc + "}\n", "listenAddress: must be [host]:port"},
		{"wrong case", "openshift: {kubeConfig: " + kc + "}\n" + reg, "openshift.kubeConfig: unknown key"},
		{"bad TLS pair", "tls: {certFile: " + garbage + ", keyFile: " + garbage + "}\n" + reg + "openshift: {kubeconfig: " + kc + "}\n", "tls: certFile and keyFile are not a certificate"},
		{"bad CA file", "registries: [{name: main, url: 'https://r', webhookToken: t, caFile: " + garbage + "}]\nopenshift: {kubeconfig: " + kc + "}\n", "registries[0].caFile: no PEM certificate in"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "c.yaml")
			mustWrite(t, p, []byte(tc.yaml), 0o600)
			var cOut, cErr, sOut, sErr bytes.Buffer
			cCode := app.Main(t.Context(), []string{"config", "--config", p}, &cOut, &cErr)
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			sCode := app.Main(ctx, []string{"serve", "--config", p}, &sOut, &sErr)
			if cCode != 1 || sCode != 1 || cErr.String() != sErr.String() || !strings.Contains(cErr.String(), tc.want) {
				t.Errorf("config: exit %d %q\nserve: exit %d %q\nwant both 1 with %q", cCode, cErr.String(), sCode, sErr.String(), tc.want)
			}
		})
	}
}

// TestKubeconfigFromEnvironment: an empty openshift.kubeconfig takes
// $KUBECONFIG, as kubectl does, and config says so.
func TestKubeconfigFromEnvironment(t *testing.T) {
	kc := emptyKubeconfig(t)
	t.Setenv("KUBECONFIG", kc)
	p := filepath.Join(t.TempDir(), "c.yaml")
	mustWrite(t, p, []byte("registries: [{name: main, url: 'http://r', webhookToken: t}]\n"), 0o600)
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"config", "--config", p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "$KUBECONFIG "+kc) || !strings.Contains(out.String(), "kubeconfig: "+kc) ||
		!strings.Contains(out.String(), "createImageStreams: true") {
		t.Errorf("config output:\n%s", out.String())
	}
}

// TestCLI: help for every command and flag, usage and exit 2 on a mistake.
func TestCLI(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		code      int
		stdout    []string
		stderr    []string
		notStdout string
	}{
		{args: nil, code: 2, stderr: []string{"a command is required", "Available Commands:"}},
		{args: []string{"--help"}, stdout: []string{"serve", "resync", "failed", "config", "version", "completion"}, notStdout: "emulator"},
		{args: []string{"frob"}, code: 2, stderr: []string{`unknown command "frob"`, "Usage:"}},
		{args: []string{"serve", "--help"}, stdout: []string{"--config string", "adminSocket"}},
		{args: []string{"serve", "--bogus"}, code: 2, stderr: []string{"unknown flag: --bogus", "Usage:", "--config string"}},
		{args: []string{"serve"}, code: 2, stderr: []string{"--config FILE is required", "Usage:"}},
		{args: []string{"serve", "extra"}, code: 2, stderr: []string{"takes no arguments"}},
		{args: []string{"resync", "--help"}, stdout: []string{"--config string", "--dry-run"}},
		{args: []string{"resync", "--dry-run=maybe"}, code: 2, stderr: []string{"invalid argument", "Usage:"}},
		{args: []string{"failed", "--help"}, stdout: []string{"--config string", "--replay string", "--drop string", "--socket string"}, notStdout: "--server"},
		{args: []string{"failed", "--socket", "/x", "--replay", "1", "--drop", "2"}, code: 2, stderr: []string{"--replay and --drop cannot be used together"}},
		{args: []string{"failed", "--socket", "/x", "--replay", "one"}, code: 2, stderr: []string{`--replay: "one" is not a sequence number`}},
		{args: []string{"failed", "--server", "http://127.0.0.1:8080"}, code: 2, stderr: []string{"--server is no longer supported", "adminSocket"}},
		{args: []string{"config", "--help"}, stdout: []string{"--config string", "exactly the checks serve runs"}},
		{args: []string{"version"}, stdout: []string{app.Version}},
		{args: []string{"version", "--help"}, stdout: []string{"Print the version"}},
		{args: []string{"completion", "bash"}, stdout: []string{"bash completion"}},
		{args: []string{"help", "failed"}, stdout: []string{"Unix socket"}},
		{args: []string{"emulator", "--listen", ":1"}, code: 1, stderr: []string{"imagestream-bridge-demo emulator"}},
	} {
		var out, errOut bytes.Buffer
		code := app.Main(t.Context(), tc.args, &out, &errOut)
		ok := code == tc.code
		for _, w := range tc.stdout {
			ok = ok && strings.Contains(out.String(), w)
		}
		for _, w := range tc.stderr {
			ok = ok && strings.Contains(errOut.String(), w)
		}
		if tc.notStdout != "" && strings.Contains(out.String(), tc.notStdout) {
			ok = false
		}
		if !ok {
			t.Errorf("%v: exit %d (want %d)\nstdout: %s\nstderr: %s", tc.args, code, tc.code, out.String(), errOut.String())
		}
	}
}

// TestEveryFlagDocumented walks the command tree.
func TestEveryFlagDocumented(t *testing.T) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		if c.Short == "" && !c.Hidden {
			t.Errorf("%s has no short description", c.CommandPath())
		}
		c.LocalFlags().VisitAll(func(f *pflag.Flag) {
			if f.Usage == "" {
				t.Errorf("%s --%s has no usage text", c.CommandPath(), f.Name)
			}
			if !f.Hidden && !strings.Contains(c.UsageString(), "--"+f.Name) {
				t.Errorf("%s --%s is not in the usage", c.CommandPath(), f.Name)
			}
		})
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(app.NewCommand(io.Discard, io.Discard))
}

func TestConfigExampleIsValid(t *testing.T) {
	dir := t.TempDir()
	b, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The example points at files that exist in a pod; create them here.
	s := strings.ReplaceAll(string(b), "/etc/imagestream-bridge", dir)
	for _, f := range []string{"main.token", "main.password"} {
		mustWrite(t, filepath.Join(dir, f), []byte("x"), 0o600)
	}
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	srv.Close()
	mustWrite(t, filepath.Join(dir, "ca.crt"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	if _, err := config.Parse([]byte(s)); err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
}

func TestConfigCommandRedactsSecrets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "c.yaml")
	mustWrite(t, p, []byte("registries: [{name: main, url: http://r, webhookToken: topsecret, username: u, password: hunter2}]\nopenshift: {kubeconfig: "+emptyKubeconfig(t)+"}\n"), 0o600)
	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"config", "--config", p}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "topsecret") || strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), "REDACTED") {
		t.Errorf("config dump leaks or lacks redaction:\n%s", out.String())
	}
}

// serveInProcess runs app.Serve on ln, logging to w, and returns its stop:
// cancel, then wait for Serve, whose error fails the test.
func serveInProcess(t *testing.T, cfg *config.Config, w io.Writer, ln net.Listener) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, cfg, slog.New(slog.NewTextHandler(w, nil)), ln) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
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
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("read the answer: %v", err)
	}
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
	mustWrite(t, filepath.Join(dir, "token"), []byte("tok\n"), 0o600)
	mustWrite(t, cfgFile, []byte(fmt.Sprintf(`
listenAddress: %q
dataDir: %q
workers: 2
resyncInterval: 0s
retry: {initialBackoff: 50ms, maxBackoff: 500ms}
registries: [{name: main, url: %s, webhookTokenFile: %q}]
openshift: {kubeconfig: %q}
`, addr, filepath.Join(dir, "data"), reg.URL, filepath.Join(dir, "token"), kc)), 0o600)

	const n = 20
	digests := pushCrashImages(t, reg.Host, n)
	// A slow API server keeps the acknowledged events queued.
	api.Inject(&emulator.Fault{PathContains: "imagestreammappings", Delay: 3 * time.Second})

	start := func() *exec.Cmd { return startServe(t, bin, cfgFile, addr) }
	first := start()
	for i := range n {
		if code := notify(t, "http://"+addr+"/notifications/main", "tok", fmt.Sprintf("e%d", i), "crash/app", fmt.Sprintf("t%d", i), digests[i]); code != http.StatusAccepted {
			t.Fatalf("event %d: %d", i, code)
		}
	}
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil {
		t.Fatal("serve exited 0 on SIGKILL")
	}
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
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
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
		t.Cleanup(func() {
			cancel()
			if err := <-r.done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
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
	if err := sandbox.Push(reg.Host, "ha/app", "v1", img); err != nil {
		t.Fatal(err)
	}
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
	if err := <-leader.done; err != nil {
		t.Errorf("leader's serve: %v", err)
	}
	waitFor(t, "failover", 15*time.Second, func() bool { return ready(follower.url) })
	t.Logf("failover took %s", time.Since(stopped).Round(time.Millisecond))
	img2, _ := sandbox.RandomImage(1, false, "amd64")
	if err := sandbox.Push(reg.Host, "ha/app", "v2", img2); err != nil {
		t.Fatal(err)
	}
	d2, _ := img2.Digest()
	if code := notify(t, follower.url+"/notifications/main", "tok", "h2", "ha/app", "v2", d2.String()); code != http.StatusAccepted {
		t.Errorf("new leader answered %d", code)
	}
	waitFor(t, "mapping by new leader", 10*time.Second, func() bool { return len(api.TagHistory("ha", "app", "v2")) == 1 })
	leader.done <- nil // for the cleanup
}

// TestAdminOnlyOnTheSocket: the webhook listener has no admin endpoints, even
// for a client on 127.0.0.1 (a same-pod proxy looks exactly like that); the
// Unix socket adminSocket serves them, owner-only, and the failed command
// reaches them through it.
func TestAdminOnlyOnTheSocket(t *testing.T) {
	api := sandbox.StartAPI()
	defer api.Close()
	kc, _ := api.WriteKubeconfig(t.TempDir())
	sockDir, err := os.MkdirTemp("", "isb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "admin.sock")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("listenAddress: %q\nadminSocket: %q\nresyncInterval: 0s\nregistries: [{name: main, url: 'http://127.0.0.1:1', webhookToken: t}]\nopenshift: {kubeconfig: %q}\n",
		ln.Addr().String(), sock, kc)
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	mustWrite(t, cfgFile, []byte(yaml), 0o600)
	cfg, err := app.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	defer serveInProcess(t, cfg, io.Discard, ln)()
	url := "http://" + ln.Addr().String()
	waitFor(t, "ready", 10*time.Second, func() bool { return ready(url) })

	for _, r := range []struct{ method, path string }{
		{http.MethodGet, "/admin/failed"}, {http.MethodPost, "/admin/replay"}, {http.MethodPost, "/admin/drop"},
	} {
		req, _ := http.NewRequest(r.method, url+r.path, strings.NewReader(`{}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s %s on the webhook listener from 127.0.0.1: %d, want 404", r.method, r.path, resp.StatusCode)
		}
	}
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode()&os.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin socket: %v %v, want a socket with mode 0600", fi, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"failed", "--config", cfgFile}, "0 failed events"},
		{[]string{"failed", "--config", cfgFile, "--replay", "all"}, "0 events replayed"},
		{[]string{"failed", "--socket", sock, "--replay", "3,4"}, "0 events replayed"},
	} {
		var out, errOut bytes.Buffer
		if code := app.Main(t.Context(), tc.args, &out, &errOut); code != 0 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", tc.args, code, out.String(), errOut.String(), tc.want)
		}
	}
	// --drop reaches POST /admin/drop and Bridge.Drop.
	var out, errOut bytes.Buffer
	code := app.Main(t.Context(), []string{"failed", "--socket", sock, "--drop", "all"}, &out, &errOut)
	if code != 0 || !strings.Contains(out.String(), "0 events dropped") {
		t.Errorf("--drop all: exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
	}

	// Without adminSocket the admin endpoints are off, and failed says how to turn them on.
	off := filepath.Join(t.TempDir(), "off.yaml")
	mustWrite(t, off, []byte(strings.Replace(yaml, fmt.Sprintf("adminSocket: %q\n", sock), "", 1)), 0o600)
	out.Reset()
	errOut.Reset()
	if code := app.Main(t.Context(), []string{"failed", "--config", off}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "set adminSocket") {
		t.Errorf("failed without adminSocket: exit %d, stderr %q", code, errOut.String())
	}
}

// pushCrashImages pushes n random images as crash/app:t0..t(n-1) and returns their digests.
func pushCrashImages(t *testing.T, host string, n int) []string {
	t.Helper()
	digests := make([]string, n)
	for i := range digests {
		img, _ := sandbox.RandomImage(1, false, "amd64")
		if err := sandbox.Push(host, "crash/app", fmt.Sprintf("t%d", i), img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests[i] = d.String()
	}
	return digests
}

// startServe runs the built binary's serve with cfgFile and waits until addr is ready.
func startServe(t *testing.T, bin, cfgFile, addr string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--config", cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The test may have stopped it already; then both fail, and either way it is gone.
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	waitFor(t, "binary ready", 20*time.Second, func() bool { return ready("http://" + addr) })
	return cmd
}
