package app_test

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/emulator"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// TestKill9TwoClusters runs the real binary with a durable journal and two
// clusters: b maps every event at once while the default cluster is slow.
// kill -9 mid-burst, restart: every acknowledged event is applied in each
// cluster, and the targets done before the kill (all of b's) are not repeated.
func TestKill9TwoClusters(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildBinary(t)
	def, b := sandbox.StartAPI(), sandbox.StartAPI()
	defer def.Close()
	defer b.Close()
	reg, err := sandbox.StartRegistry(t.Context(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "b"), 0o700); err != nil {
		t.Fatal(err)
	}
	kcDefault, _ := def.WriteKubeconfig(dir)
	kcB, _ := b.WriteKubeconfig(filepath.Join(dir, "b"))
	addr, _ := sandbox.FreeAddr()
	cfgFile := filepath.Join(dir, "config.yaml")
	mustWrite(t, filepath.Join(dir, "token"), []byte("tok\n"), 0o600)
	mustWrite(t, cfgFile, []byte(fmt.Sprintf(`
listenAddress: %q
dataDir: %q
workers: 4
resyncInterval: 0s
retry: {initialBackoff: 50ms, maxBackoff: 500ms}
registries: [{name: main, url: %s, webhookTokenFile: %q}]
openshift: {kubeconfig: %q}
clusters: [{name: b, kubeconfig: %q}]
`, addr, filepath.Join(dir, "data"), reg.URL, filepath.Join(dir, "token"), kcDefault, kcB)), 0o600)

	const n = 20
	digests := pushCrashImages(t, reg.Host, n)
	// The default cluster is slow: its jobs stay queued; b's finish.
	def.Inject(&emulator.Fault{PathContains: "imagestreammappings", Delay: 3 * time.Second})

	start := func() *exec.Cmd { return startServe(t, bin, cfgFile, addr) }
	first := start()
	for i := range n {
		if code := notify(t, "http://"+addr+"/notifications/main", "tok", fmt.Sprintf("e%d", i), "crash/app", fmt.Sprintf("t%d", i), digests[i]); code != http.StatusAccepted {
			t.Fatalf("event %d: %d", i, code)
		}
	}
	waitFor(t, "b maps every event while the default cluster is slow", 10*time.Second, func() bool { return b.MappingCount.Load() == n })
	time.Sleep(300 * time.Millisecond) // the journal records b's targets done
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := first.Wait(); err == nil {
		t.Fatal("serve exited 0 on SIGKILL")
	}
	if got := def.MappingCount.Load(); got >= n {
		t.Fatalf("%d default mappings before the crash: the test proves nothing", got)
	}
	t.Logf("before kill -9: default %d of %d, b %d of %d", def.MappingCount.Load(), n, b.MappingCount.Load(), n)

	def.ClearFaults()
	second := start()
	waitFor(t, "all tags in the default cluster after restart", 30*time.Second, func() bool {
		for i := range n {
			h := def.TagHistory("crash", "app", fmt.Sprintf("t%d", i))
			if len(h) == 0 || h[0] != digests[i] {
				return false
			}
		}
		return true
	})
	time.Sleep(500 * time.Millisecond) // any repeated b target would have run by now
	if got := b.MappingCount.Load(); got != n {
		t.Errorf("b got %d mapping requests, want %d: a target done before the kill was repeated", got, n)
	}
	for i := range n {
		for name, api := range map[string]*sandbox.API{"default": def, "b": b} {
			if h := api.TagHistory("crash", "app", fmt.Sprintf("t%d", i)); len(h) != 1 || h[0] != digests[i] {
				t.Errorf("%s t%d history %v, want exactly [%s]", name, i, h, digests[i])
			}
		}
	}
	if err := second.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := second.Wait(); err != nil {
		t.Errorf("SIGTERM: %v, want exit 0", err)
	}
}
