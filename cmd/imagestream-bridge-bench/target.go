package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"sigs.k8s.io/yaml"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

const (
	registryName = "bench"
	webhookToken = "bench-token"
)

// bridgeLog is where the bridge under test keeps its event log (-journal);
// its string labels the rows.
type bridgeLog string

const (
	// logMemory leaves dataDir unset: the embedded server keeps the log in memory.
	logMemory bridgeLog = "memory"
	// logEmbedded sets dataDir: the embedded server's file store, one fsync per group of appends.
	logEmbedded bridgeLog = "embedded"
	// logCluster sets nats.url to a 3-node JetStream cluster that the bench
	// runs on loopback for the run (R3, the nodes in the bench process).
	logCluster bridgeLog = "cluster"
)

func parseBridgeLog(s string) (bridgeLog, error) {
	switch l := bridgeLog(s); l {
	case logMemory, logEmbedded, logCluster:
		return l, nil
	}
	return "", fmt.Errorf("parse -journal: unknown event log %q (memory, embedded, cluster)", s)
}

// logStore is what the bridge's configuration gets for its event log.
type logStore struct{ dataDir, natsURL string }

// logStore makes a fresh data directory (embedded) or starts a fresh 3-node
// cluster (cluster) for one run; cleanup removes it.
func (b *bench) logStore(mode bridgeLog) (logStore, func(), error) {
	if mode == logMemory {
		return logStore{}, func() {}, nil
	}
	dir, err := os.MkdirTemp(b.opts.dataRoot, "log-")
	if err != nil {
		return logStore{}, nil, fmt.Errorf("create data directory: %w", err)
	}
	if mode == logEmbedded {
		return logStore{dataDir: dir}, func() { os.RemoveAll(dir) }, nil
	}
	c, err := sandbox.StartNATSCluster(dir, 3)
	if err == nil {
		if err = c.WaitLeader(30 * time.Second); err != nil {
			c.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return logStore{}, nil, fmt.Errorf("start nats cluster: %w", err)
	}
	return logStore{natsURL: c.URL()}, func() { c.Close(); os.RemoveAll(dir) }, nil
}

// waitApplier returns once the bridge consumes its cluster log: one of the
// applier's durable consumers has a pull waiting. An event appended before
// that is backlog to the applier and arrives with Verify set, which
// re-resolves the tag in the registry; the bench's tags exist only in its
// events (the images are pushed by digest), so such an event would be
// skipped as stale. A no-op for the embedded log, whose webhook is not ready
// before the applier runs.
func (s logStore) waitApplier(ctx context.Context) error {
	if s.natsURL == "" {
		return nil
	}
	nc, err := nats.Connect(s.natsURL)
	if err != nil {
		return fmt.Errorf("connect to nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a loaded 2-core machine took more than 30s once
	defer cancel()
	for {
		if str, err := js.Stream(ctx, config.DefaultStream); err == nil {
			for info := range str.ListConsumers(ctx).Info() {
				if info.NumWaiting > 0 {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the applier's consumers: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// bridgeConfig builds the bridge's configuration: its event log in st, the
// first kubeconfig its cluster, every further one another cluster. qps <= 0
// keeps the defaults of openshift.qps and openshift.burst.
func bridgeConfig(registryURL string, kubeconfigs []string, st logStore, qps int) (*config.Config, error) {
	c := &config.Config{
		ListenAddress: "127.0.0.1:0",
		Registries:    []config.Registry{{Name: registryName, URL: registryURL, WebhookToken: webhookToken}},
		OpenShift:     config.OpenShift{Kubeconfig: kubeconfigs[0]},
		DataDir:       st.dataDir,
	}
	if st.natsURL != "" { // 3 replicas; no load balancer to drain, so no shutdownDelay
		c.NATS.URL, c.NATS.Replicas = st.natsURL, 3
		c.ShutdownDelay = &config.Duration{}
	}
	if qps > 0 {
		c.OpenShift.QPS, c.OpenShift.Burst = float32(qps), qps
	}
	for i, kc := range kubeconfigs[1:] {
		o := c.OpenShift
		o.Kubeconfig = kc
		c.OtherClusters = append(c.OtherClusters, config.Cluster{Name: fmt.Sprintf("c%d", i+2), OpenShift: o})
	}
	return c, c.Complete()
}

// benchLogger logs at info in JSON, as serve does by default, into io.Discard:
// the bridge formats every line, nothing is written.
func benchLogger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

// target is a running bridge: in this process, or in a child process.
type target interface {
	url() string
	// stats snapshots the process that runs the bridge.
	stats(gc, light bool) (procStats, error)
	stop() error
}

// inProcess runs the bridge (app.Serve) in this process on a loopback listener.
type inProcess struct{ b *loopback.Bridge }

func (p *inProcess) url() string                             { return p.b.URL }
func (p *inProcess) stats(gc, light bool) (procStats, error) { return readProcStats(gc, light), nil }
func (p *inProcess) stop() error                             { return p.b.Close() }

// child runs the bridge alone in a child process (this binary with
// -child-bridge), so that its peak RSS, CPU and allocations are its own.
type child struct {
	cmd        *exec.Cmd
	base, stat string
	done       chan error
}

func startChild(ctx context.Context, dir string, cfg *config.Config, cpuprofile, memLimit string) (*child, error) {
	addr, err := sandbox.FreeAddr()
	if err != nil {
		return nil, err
	}
	statAddr, err := sandbox.FreeAddr()
	if err != nil {
		return nil, err
	}
	cfg.ListenAddress = addr
	cfgYAML, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cfgFile := filepath.Join(dir, "bridge.yaml")
	if err := os.WriteFile(cfgFile, cfgYAML, 0o600); err != nil {
		return nil, err
	}
	cmd := exec.Command(os.Args[0], "-child-bridge", cfgFile, "-child-stats", statAddr, "-child-cpuprofile", cpuprofile)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if memLimit != "" {
		cmd.Env = append(os.Environ(), "GOMEMLIMIT="+memLimit)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start child bridge: %w", err)
	}
	c := &child{cmd: cmd, base: "http://" + addr, stat: "http://" + statAddr, done: make(chan error, 1)}
	exited := make(chan struct{})
	go func() { c.done <- cmd.Wait(); close(exited) }()
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

// stop interrupts the child (serve's shutdown) and waits for it.
func (c *child) stop() error {
	_ = c.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-c.done:
		return err
	case <-time.After(60 * time.Second):
		_ = c.cmd.Process.Kill()
		return errors.New("child bridge did not stop within 60s; killed")
	}
}

// runChild is the child process: serve the bridge from cfgFile, answer
// /stats and /heap on statAddr, stop on an interrupt.
func runChild(cfgFile, statAddr, cpuprofile string) error {
	cfg, err := config.Load(cfgFile)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /heap", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC() // a heap profile is as of the last collection
		_ = pprof.Lookup("heap").WriteTo(w, 0)
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		_ = json.NewEncoder(w).Encode(readProcStats(q.Get("gc") == "true", q.Get("light") == "true"))
	})
	go func() { _ = http.ListenAndServe(statAddr, mux) }()
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
	return app.Serve(ctx, cfg, benchLogger(), nil)
}
