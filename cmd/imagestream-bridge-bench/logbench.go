package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/eventlog"
	"github.com/imagestream-bridge/imagestream-bridge/journal"
)

// The log workload compares the stores an acknowledgement waits for, alone
// (no webhook, no bridge): the durable journal (journal.log), the embedded
// JetStream log (file store, one fsync per group of concurrent appends) and
// a 3-node JetStream cluster on loopback (R3). Each store runs in a child
// process of its own, so that its peak RSS is its own; the cluster's nodes
// run in the parent.

// logModes are the stores of the log workload.
var logModes = []string{"journal", "embedded", "cluster"}

type logResult struct {
	Mode      string        `json:"mode"`
	Rate      float64       `json:"rate"`
	Paced     int           `json:"paced"`
	PacedP50  time.Duration `json:"pacedP50"`
	PacedP99  time.Duration `json:"pacedP99"`
	Burst     int           `json:"burst"`
	BurstC    int           `json:"burstC"`
	BurstTime time.Duration `json:"burstTime"`
	BurstP99  time.Duration `json:"burstP99"`
	PeakRSS   uint64        `json:"peakRSS"`
	Err       string        `json:"err,omitempty"`
}

// logRuns runs every mode in a child and collects the rows.
func (b *bench) logRuns(ctx context.Context) []logResult {
	var out []logResult
	for _, mode := range logModes {
		r := logResult{Mode: mode}
		url := ""
		if mode == "cluster" {
			stop, u, err := startLoopbackCluster(b.tmp)
			if err != nil {
				r.Err = err.Error()
				out = append(out, r)
				continue
			}
			url = u
			r = b.logChild(ctx, mode, url)
			stop()
		} else {
			r = b.logChild(ctx, mode, "")
		}
		logf("log %s: paced %.0f/s p50 %s p99 %s; burst %d in %s (p99 %s), peak RSS %s MiB %s", mode, r.Rate,
			fmtDur(r.PacedP50), fmtDur(r.PacedP99), r.Burst, r.BurstTime.Round(time.Millisecond), fmtDur(r.BurstP99), mib(r.PeakRSS), r.Err)
		out = append(out, r)
	}
	return out
}

func (b *bench) logChild(ctx context.Context, mode, natsURL string) logResult {
	dir, err := os.MkdirTemp(b.opts.dataRoot, "log-")
	if err != nil {
		return logResult{Mode: mode, Err: err.Error()}
	}
	defer os.RemoveAll(dir)
	paced := int(b.opts.logRate * b.opts.paced.Seconds())
	cmd := exec.CommandContext(ctx, os.Args[0], "-child-log", mode, "-child-log-dir", dir, "-child-log-url", natsURL,
		"-child-log-paced", fmt.Sprint(paced), "-log-rate", fmt.Sprint(b.opts.logRate), "-burst", fmt.Sprint(b.opts.burst))
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	var r logResult
	if jerr := json.Unmarshal(outb, &r); jerr != nil {
		return logResult{Mode: mode, Err: fmt.Sprintf("child: %v %v", err, jerr)}
	}
	return r
}

// runLogChild is the child: open the store, append paced then in a burst, print the result as JSON.
func runLogChild(mode, dir, natsURL string, paced int, rate float64, burst int) error {
	ctx := context.Background()
	r := logResult{Mode: mode, Rate: rate, Paced: paced, Burst: burst, BurstC: 16}
	var appendFn func(ctx context.Context, jobs []*bridge.Job) error
	switch mode {
	case "journal":
		s, err := journal.Open(dir, journal.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
		if err != nil {
			return err
		}
		defer s.Close()
		appendFn = s.Append
	case "embedded", "cluster":
		o := eventlog.Options{DataDir: dir, MaxPending: paced + burst + 1000, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
		if mode == "cluster" {
			o = eventlog.Options{URL: natsURL, Replicas: 3, Stream: "bench", MaxPending: paced + burst + 1000, Logger: o.Logger}
		}
		var l *eventlog.Log
		var err error
		for deadline := time.Now().Add(30 * time.Second); ; {
			if l, err = eventlog.Open(ctx, o); err == nil || time.Now().After(deadline) {
				break
			}
		}
		if err != nil {
			return err
		}
		defer l.Close()
		appendFn = l.Append
	default:
		return fmt.Errorf("unknown -child-log %q", mode)
	}
	var seq atomic.Int64
	one := func() (time.Duration, error) {
		i := seq.Add(1)
		j := &bridge.Job{ID: fmt.Sprintf("ev-%d", i), Registry: "bench", Repository: "ns/app", Namespace: "ns",
			Stream: "app", Tag: fmt.Sprintf("t%d", i), Digest: fmt.Sprintf("sha256:%064d", i), PushedAt: time.Now(), Source: "notification"}
		t0 := time.Now()
		err := appendFn(ctx, []*bridge.Job{j})
		return time.Since(t0), err
	}
	// Paced, open loop: each append starts at its scheduled time whatever the others do.
	lat := make([]time.Duration, paced)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	start := time.Now()
	for i := range paced {
		time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
		wg.Go(func() {
			d, err := one()
			if err != nil {
				firstErr.CompareAndSwap(nil, err.Error())
			}
			lat[i] = d
		})
	}
	wg.Wait()
	r.PacedP50, r.PacedP99 = pct(lat, 0.5), pct(lat, 0.99)
	// Burst, closed loop: 16 appenders.
	blat := make([]time.Duration, burst)
	var next atomic.Int64
	t0 := time.Now()
	for range r.BurstC {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= burst {
					return
				}
				d, err := one()
				if err != nil {
					firstErr.CompareAndSwap(nil, err.Error())
				}
				blat[i] = d
			}
		})
	}
	wg.Wait()
	r.BurstTime = time.Since(t0)
	r.BurstP99 = pct(blat, 0.99)
	_, hwm, _ := memStatus()
	r.PeakRSS = hwm
	if e, ok := firstErr.Load().(string); ok {
		r.Err = e
	}
	return json.NewEncoder(os.Stdout).Encode(r)
}

// startLoopbackCluster runs a 3-node JetStream cluster on loopback ports in
// this process and returns its client URL.
func startLoopbackCluster(tmp string) (stop func(), clientURL string, err error) {
	free := func() (int, error) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer ln.Close()
		return ln.Addr().(*net.TCPAddr).Port, nil
	}
	var routes []*url.URL
	var cports, ports []int
	for range 3 {
		cp, err := free()
		if err != nil {
			return nil, "", err
		}
		p, err := free()
		if err != nil {
			return nil, "", err
		}
		cports, ports = append(cports, cp), append(ports, p)
		routes = append(routes, &url.URL{Scheme: "nats", Host: fmt.Sprintf("127.0.0.1:%d", cp)})
	}
	var nodes []*server.Server
	stop = func() {
		for _, s := range nodes {
			s.Shutdown()
			s.WaitForShutdown()
		}
	}
	var urls []string
	for i := range 3 {
		dir, err := os.MkdirTemp(tmp, "nats-node-")
		if err != nil {
			stop()
			return nil, "", err
		}
		s, err := server.NewServer(&server.Options{
			ServerName: fmt.Sprintf("n%d", i), Host: "127.0.0.1", Port: ports[i], JetStream: true, StoreDir: dir, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "bench", Host: "127.0.0.1", Port: cports[i]}, Routes: routes,
		})
		if err != nil {
			stop()
			return nil, "", err
		}
		s.Start()
		nodes = append(nodes, s)
		if !s.ReadyForConnections(10 * time.Second) {
			stop()
			return nil, "", fmt.Errorf("nats node %d not ready", i)
		}
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	return stop, strings.Join(urls, ","), nil
}

func (b *bench) reportLog(w io.Writer) {
	if len(b.logs) == 0 {
		return
	}
	fmt.Fprintf(w, "### Event log: one Append as the acknowledgement waits for it (store only, no webhook; each store in a child process)\n\n")
	fmt.Fprintln(w, "journal = journal.log (one fdatasync per group commit); embedded = eventlog with an embedded nats-server (file store, group commit: one fsync per group of concurrent appends); cluster = eventlog on a 3-node JetStream cluster on loopback in the parent process (R3, JetStream's default sync). Paced: open loop, one event per Append; burst: 16 appenders in a closed loop; peak RSS: the child's VmHWM (the cluster's nodes are not in it).")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| store | paced rate | ack p50 | ack p99 | burst events | burst time | burst ack p99 | peak RSS MiB | error |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|")
	for _, r := range b.logs {
		fmt.Fprintf(w, "| %s | %.0f/s × %d | %s | %s | %d | %s | %s | %s | %s |\n", r.Mode, r.Rate, r.Paced, fmtDur(r.PacedP50), fmtDur(r.PacedP99),
			r.Burst, r.BurstTime.Round(time.Millisecond), fmtDur(r.BurstP99), mib(r.PeakRSS), oneLine(r.Err))
	}
	fmt.Fprintln(w)
}
