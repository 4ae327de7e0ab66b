package eventlog

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// childDirEnv makes the test binary a child that appends forever to the
// embedded log in that dataDir, printing the id of every acknowledged event.
const childDirEnv = "EVENTLOG_KILL9_CHILD_DIR"

func TestMain(m *testing.M) {
	if dir := os.Getenv(childDirEnv); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

func runChild(dir string) {
	l, err := Open(context.Background(), Options{DataDir: dir})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	w := bufio.NewWriter(os.Stdout)
	for i := 0; ; i++ {
		id := fmt.Sprintf("e%d", i)
		if err := l.Append(context.Background(), []*bridge.Job{job(id, "v1", fmt.Sprintf("sha256:%d", i))}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		fmt.Fprintln(w, id)
		w.Flush()
	}
}

// TestKill9KeepsAcknowledgedEvents: the embedded server fsyncs before it
// acknowledges, so every event Append returned for survives SIGKILL of the
// process, in order.
func TestKill9KeepsAcknowledgedEvents(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for len(acked) < 300 && sc.Scan() {
		acked = append(acked, sc.Text())
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child acknowledged %d events before it ended: %s", len(acked), stderr.String())
	}
	// consumeN holds every job unacked: a window for all of them.
	l := openEmbedded(t, dir, Options{Window: 10000})
	n, err := l.Pending(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if n < uint64(len(acked)) {
		t.Fatalf("after kill -9: %d events stored, %d were acknowledged", n, len(acked))
	}
	got := consumeN(t, l, int(n))
	for i, id := range acked {
		if got[i].ID != id {
			t.Fatalf("event %d after kill -9 is %s, want %s (acknowledged)", i, got[i].ID, id)
		}
	}
}
