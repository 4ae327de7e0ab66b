package app_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/eventlog"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// backlogEvents is the backlog of TestBacklogStart; BACKLOG_EVENTS overrides it.
func backlogEvents(t *testing.T) int {
	if s := os.Getenv("BACKLOG_EVENTS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("BACKLOG_EVENTS: %v", err)
		}
		return n
	}
	return 100000
}

// TestBacklogStart starts serve on an event log that holds a backlog of
// 100,000 events whose registry is down (every job waits), as the real binary
// and then in process: ready within 2 s and a peak RSS within 100 MiB (the
// binary's VmHWM), and at most 300 bytes of heap per waiting event (live heap
// of the process with serve running, less before it started): the log, not
// the heap, holds the backlog. The figures are in docs/benchmarks.md.
func TestBacklogStart(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	n := backlogEvents(t)
	bin := buildBinary(t)
	api := sandbox.StartAPI()
	defer api.Close()
	empty := startBacklog(t, bin, api, 0)
	full := startBacklog(t, bin, api, n)
	t.Logf("empty log: ready after %s, peak RSS %.1f MiB", empty.ready.Round(time.Millisecond), empty.hwm/(1<<20))
	t.Logf("%d waiting events (filled in %s, %.1f MiB in the stream): ready after %s, peak RSS %.1f MiB",
		n, full.fill.Round(time.Millisecond), full.stored/(1<<20), full.ready.Round(time.Millisecond), full.hwm/(1<<20))
	if full.ready > 2*time.Second {
		t.Errorf("ready after %s with %d waiting events, want within 2s", full.ready, n)
	}
	if full.hwm > 100<<20 {
		t.Errorf("peak RSS %.1f MiB with %d waiting events, want at most 100 MiB", full.hwm/(1<<20), n)
	}

	// The same log in process: the heap serve adds.
	cfg, err := app.LoadConfig(full.cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		t.Fatal(err)
	}
	before := liveHeap()
	defer serveInProcess(t, cfg, io.Discard, ln)()
	waitFor(t, "ready", 30*time.Second, func() bool { return ready("http://" + cfg.ListenAddress) })
	time.Sleep(5 * time.Second) // the applier takes its windows and retries them
	after := liveHeap()
	per := (float64(after) - float64(before)) / float64(n)
	t.Logf("in process: live heap %.1f MiB before serve, %.1f MiB with serve running: %.0f bytes per waiting event",
		float64(before)/(1<<20), float64(after)/(1<<20), per)
	if per > 300 {
		t.Errorf("%.0f bytes of heap per waiting event, want at most 300", per)
	}
	if depth := metric("http://"+cfg.ListenAddress, "imagestream_bridge_queue_depth"); depth != float64(n) {
		t.Errorf("queue depth %v, want the %d waiting events (nothing applies)", depth, n)
	}
}

func liveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

type backlogRun struct {
	cfgFile     string
	fill, ready time.Duration
	hwm, stored float64
}

// startBacklog fills a fresh data directory with n events of one registry
// (down: nothing applies), starts the binary's serve on it, measures it and
// stops it (the events stay in the log).
func startBacklog(t *testing.T, bin string, api *sandbox.API, n int) backlogRun {
	t.Helper()
	var r backlogRun
	dir := t.TempDir()
	kc, err := api.WriteKubeconfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	queue := max(n, 10000)
	if n > 0 {
		start := time.Now()
		l, err := eventlog.Open(t.Context(), eventlog.Options{DataDir: data, MaxPending: queue})
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < n; i += 1000 {
			batch := make([]*bridge.Job, 0, 1000)
			for k := i; k < min(i+1000, n); k++ {
				batch = append(batch, &bridge.Job{ID: fmt.Sprintf("e%d", k), Registry: "main", Repository: "team/app",
					Namespace: "team", Stream: "app", Tag: fmt.Sprintf("t%d", k),
					Digest: fmt.Sprintf("sha256:%064x", k), Source: "notification", PushedAt: time.Now()})
			}
			if err := l.Append(t.Context(), batch); err != nil {
				t.Fatal(err)
			}
		}
		r.stored = float64(l.Bytes(t.Context()))
		l.Close()
		r.fill = time.Since(start)
	}
	addr, _ := sandbox.FreeAddr()
	r.cfgFile = filepath.Join(dir, "config.yaml")
	mustWrite(t, filepath.Join(dir, "token"), []byte("tok\n"), 0o600)
	mustWrite(t, r.cfgFile, []byte(fmt.Sprintf(`
listenAddress: %q
dataDir: %q
queueSize: %d
resyncInterval: 0s
shutdownDelay: 0s
registries: [{name: main, url: "http://127.0.0.1:1", webhookTokenFile: %q}]
openshift: {kubeconfig: %q}
`, addr, data, queue, filepath.Join(dir, "token"), kc)), 0o600)
	cmd := exec.Command(bin, "serve", "--config", r.cfgFile)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "ready", 30*time.Second, func() bool { return ready("http://" + addr) })
	r.ready = time.Since(start)
	time.Sleep(5 * time.Second) // the applier takes its windows and retries them
	r.hwm = procStatus(t, cmd.Process.Pid, "VmHWM")
	if depth := metric("http://"+addr, "imagestream_bridge_queue_depth"); depth != float64(n) {
		t.Errorf("queue depth %v, want the %d waiting events (nothing applies)\n%s", depth, n, logs.String())
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%s", err, logs.String())
	}
	return r
}

// procStatus is a size field of /proc/PID/status, in bytes.
func procStatus(t *testing.T, pid int, field string) float64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb * 1024
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
