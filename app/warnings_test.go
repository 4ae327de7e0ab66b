package app_test

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// TestDeprecatedKeyWarns: a config with the deprecated managedImages is
// valid; config prints a warning naming the key on stderr and serve logs it.
func TestDeprecatedKeyWarns(t *testing.T) {
	api := sandbox.StartAPI()
	defer api.Close()
	kc, _ := api.WriteKubeconfig(t.TempDir())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf("listenAddress: %q\nresyncInterval: 0s\nregistries: [{name: main, url: 'http://127.0.0.1:1', webhookToken: t}]\n"+
		"openshift: {kubeconfig: %q, managedImages: true}\nclusters: [{name: two, kubeconfig: %q, managedImages: true}]\n", ln.Addr().String(), kc, kc+"2")
	mustWrite(t, kc+"2", mustRead(t, kc), 0o600)
	cfgFile := filepath.Join(t.TempDir(), "config.yaml")
	mustWrite(t, cfgFile, []byte(yaml), 0o600)

	var out, errOut bytes.Buffer
	if code := app.Main(t.Context(), []string{"config", "--config", cfgFile}, &out, &errOut); code != 0 {
		t.Fatalf("config: exit %d: %s", code, errOut.String())
	}
	for _, key := range []string{"openshift.managedImages", "clusters[0].managedImages"} {
		if !strings.Contains(errOut.String(), "config warning: "+key+": deprecated and ignored") {
			t.Errorf("config stderr %q: no warning for %s", errOut.String(), key)
		}
	}

	cfg, err := app.LoadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	stop := serveInProcess(t, cfg, &logs, ln)
	waitFor(t, "ready", 10*time.Second, func() bool { return ready("http://" + ln.Addr().String()) })
	stop()
	if s := logs.String(); !strings.Contains(s, "level=WARN") || !strings.Contains(s, "key=openshift.managedImages") || !strings.Contains(s, "key=clusters[0].managedImages") {
		t.Errorf("serve log has no warning for both managedImages keys:\n%s", s)
	}
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// mustWrite writes data to file, or fails the test.
func mustWrite(t *testing.T, file string, data []byte, perm os.FileMode) {
	t.Helper()
	if err := os.WriteFile(file, data, perm); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines to log into.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
