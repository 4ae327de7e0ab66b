package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

const (
	registryName = "bench"
	webhookToken = "bench-token"
)

// target is a running bridge: in this process, or in a child process.
type target interface {
	// url is the bridge's base URL.
	url() string
	// stats snapshots the process that runs the bridge.
	stats(gc, light bool) (procStats, error)
	// stop shuts the bridge down and waits for it.
	stop() error
}

// bridgeConfig builds the bridge's configuration with its event log in st.
// qps <= 0 keeps the defaults of openshift.qps and openshift.burst.
func bridgeConfig(registryURL, kubeconfig string, st logStore, qps int) (*config.Config, error) {
	c := &config.Config{
		ListenAddress: "127.0.0.1:0",
		Registries:    []config.Registry{{Name: registryName, URL: registryURL, WebhookToken: webhookToken}},
		OpenShift:     config.OpenShift{Kubeconfig: kubeconfig},
	}
	st.apply(c)
	if qps > 0 {
		c.OpenShift.QPS, c.OpenShift.Burst = float32(qps), qps
	}
	return c, c.Complete()
}

// benchLogger logs at info in JSON, as serve does by default, into io.Discard:
// the bridge formats every line, nothing is written.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// inProcess runs the bridge (app.Serve) in this process on a loopback listener.
type inProcess struct{ b *loopback.Bridge }

// startInProcess starts it with the configuration of bridgeConfig.
func startInProcess(ctx context.Context, registryURL, kubeconfig string, st logStore, qps int) (*inProcess, error) {
	cfg, err := bridgeConfig(registryURL, kubeconfig, st, qps)
	if err != nil {
		return nil, err
	}
	b, err := loopback.ServeBridge(ctx, cfg, benchLogger(), nil, "", nil)
	if err != nil {
		return nil, err
	}
	return &inProcess{b: b}, nil
}

func (p *inProcess) url() string { return p.b.URL }

func (p *inProcess) stats(gc, light bool) (procStats, error) { return readProcStats(gc, light), nil }

func (p *inProcess) stop() error { return p.b.Close() }

// child runs the bridge alone in a child process (this binary with
// -child-bridge), so that its peak RSS, CPU and allocations are its own.
type child struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	base  string
	stat  string
	done  chan error
}

func startChild(ctx context.Context, dir string, cfg *config.Config, cpuprofile, memLimit string) (*child, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cfgYAML, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(cfgFile, cfgYAML, 0o600); err != nil {
		return nil, err
	}
	args := []string{"-child-bridge", cfgFile}
	if cpuprofile != "" {
		args = append(args, "-child-cpuprofile", cpuprofile)
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	if memLimit != "" {
		cmd.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	exited := make(chan struct{})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
		c.done <- cmd.Wait()
		close(exited)
	}()
	select {
	case line, ok := <-lines:
		f := strings.Fields(line)
		if !ok || len(f) != 3 || f[0] != "READY" {
			_ = stdin.Close()
			return nil, fmt.Errorf("child bridge did not start (%q)", line)
		}
		c.base, c.stat = "http://"+f[1], "http://"+f[2]
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
		return nil, errors.New("child bridge did not start within 30s")
	}
	if err := loopback.WaitReady(ctx, nil, c.base, exited); err != nil {
		_ = c.stop()
		return nil, err
	}
	return c, nil
}

func (c *child) url() string { return c.base }

func (c *child) stats(gc, light bool) (procStats, error) {
	var s procStats
	resp, err := http.Get(fmt.Sprintf("%s/stats?gc=%t&light=%t", c.stat, gc, light))
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	return s, json.NewDecoder(resp.Body).Decode(&s)
}

// heapProfile saves the child's heap profile (after a GC) to file.
func (c *child) heapProfile(file string) error {
	resp, err := http.Get(c.stat + "/heap")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// stop closes the child's stdin (its signal to shut down) and waits.
func (c *child) stop() error {
	_ = c.stdin.Close()
	select {
	case err := <-c.done:
		return err
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		return errors.New("child bridge did not stop within 60s; killed")
	}
}

// runChild is the child process: serve the bridge from cfgFile, print
// "READY BRIDGEADDR STATSADDR", answer /stats, stop when stdin closes.
func runChild(cfgFile, cpuprofile string) error {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.ListenAddress)
	if err != nil {
		return err
	}
	sl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		s := readProcStats(r.URL.Query().Get("gc") == "true", r.URL.Query().Get("light") == "true")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s)
	})
	go func() { _ = http.Serve(sl, mux) }()
	if cpuprofile != "" {
		f, err := os.Create(cpuprofile)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Printf("READY %s %s\n", ln.Addr(), sl.Addr())
	return app.Serve(ctx, cfg, benchLogger(), ln)
}
