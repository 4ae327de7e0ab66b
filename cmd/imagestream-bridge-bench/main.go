// Command imagestream-bridge-bench measures the bridge against the bare HTTP
// work it cannot avoid.
//
// It starts a distribution v3 registry in this process (notifications off)
// pre-filled with M images, and for every run a fresh image-API emulator and
// a fresh bridge (app.Serve: the real HTTP server and the real settings, on a
// loopback listener). It then posts K envelopes shaped like the registry's
// from C concurrent senders (or paced, open loop) and waits until the
// emulator has a mapping for every event. The floor is a bare loop doing the
// same HTTP work (GET manifest, GET config, POST a prebuilt mapping) against
// the same servers with the same concurrency. The burst and the steady-state
// soak run the bridge alone in a child process (this binary, re-executed) so
// that its peak RSS, CPU and allocations are its own. -journal picks the
// bridge's event log per run: memory (dataDir unset), embedded (dataDir set)
// or cluster (nats.url of a 3-node JetStream cluster run on loopback, R3).
//
//	imagestream-bridge-bench            the full matrix (make bench)
//	imagestream-bridge-bench -quick     a small smoke run
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// workloads are the runs -workloads can pick, in the order they run.
var workloads = []string{"cold", "warm", "defaults", "twocluster", "paced", "burst"}

type options struct {
	images, events, burst, warm, qps int
	concurrency                      []int
	rate                             float64
	paced, soak                      time.Duration
	keepalive, quick                 bool
	workloads                        map[string]bool
	logs                             []bridgeLog
	profileDir, dataRoot, memLimit   string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imagestream-bridge-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var conc, wls, logs, childCfg, childStats, childProf string
	flag.IntVar(&o.images, "images", 0, "images M pre-pushed to the registry (default: max(events, burst) capped at 20000; -quick: 600)")
	flag.IntVar(&o.events, "events", 0, "events K per cold and warm run (default 2000; -quick 300)")
	flag.IntVar(&o.burst, "burst", 0, "events of the burst (default 20000; -quick 2000)")
	flag.StringVar(&conc, "concurrency", "1,4,16", "concurrent senders C, comma-separated")
	flag.Float64Var(&o.rate, "rate", 500, "events per second of the paced (open-loop) runs and the soak")
	flag.DurationVar(&o.paced, "paced", 0, "duration of each paced run (default 10s; -quick 2s)")
	flag.DurationVar(&o.soak, "soak", 0, "duration of each of the two soak windows after the burst (default 10s; -quick 2s)")
	flag.IntVar(&o.warm, "warm-digests", 32, "distinct digests of the warm workload")
	flag.IntVar(&o.qps, "qps", 100000, "openshift.qps and openshift.burst of the bridge in every run but 'defaults' (the default client-side limiter caps mappings/s)")
	flag.BoolVar(&o.keepalive, "keepalive", false, "reuse webhook connections (distribution's sink opens a new connection per event)")
	flag.StringVar(&wls, "workloads", strings.Join(workloads, ","), "workloads to run (twocluster: cold, embedded log, every event mapped into two emulated clusters)")
	flag.StringVar(&logs, "journal", "memory,embedded", "the bridge's event log: memory, embedded (dataDir), cluster (3-node JetStream cluster on loopback, R3), comma-separated")
	flag.StringVar(&o.profileDir, "profile", "", "write a CPU profile of every run, and the child bridge's heap profiles, into this directory")
	flag.StringVar(&o.dataRoot, "datadir", "", "where the data directories (and the cluster's stores) are created (default: the system temp dir)")
	flag.BoolVar(&o.quick, "quick", false, "small sizes for a smoke run")
	flag.StringVar(&o.memLimit, "child-gomemlimit", "", "GOMEMLIMIT of the child bridge of the burst (default: none, as serve runs without one)")
	flag.StringVar(&childCfg, "child-bridge", "", "internal: run only the bridge with this config file")
	flag.StringVar(&childStats, "child-stats", "", "internal: the child bridge's address for /stats and /heap")
	flag.StringVar(&childProf, "child-cpuprofile", "", "internal: CPU profile of the child bridge")
	flag.Parse()
	if childCfg != "" {
		return runChild(childCfg, childStats, childProf)
	}
	setDefault(&o.events, 2000, 300, o.quick)
	setDefault(&o.burst, 20000, 2000, o.quick)
	setDefault(&o.images, min(max(o.events, o.burst), 20000), 600, o.quick)
	setDefault(&o.paced, 10*time.Second, 2*time.Second, o.quick)
	setDefault(&o.soak, 10*time.Second, 2*time.Second, o.quick)
	for _, s := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("parse -concurrency %q: want positive integers", conc)
		}
		o.concurrency = append(o.concurrency, n)
	}
	o.workloads = map[string]bool{}
	for _, w := range strings.Split(wls, ",") {
		if w = strings.TrimSpace(w); !slices.Contains(workloads, w) {
			return fmt.Errorf("parse -workloads: unknown workload %q (%s)", w, strings.Join(workloads, ", "))
		}
		o.workloads[w] = true
	}
	for _, s := range strings.Split(logs, ",") {
		l, err := parseBridgeLog(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		o.logs = append(o.logs, l)
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return fmt.Errorf("create profile directory: %w", err)
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	b := &bench{opts: o, out: os.Stdout}
	return b.run(ctx)
}

type bench struct {
	opts   options
	out    *os.File
	fx     *fixture
	runN   int
	tmp    string
	pushed []string // how the registry was filled
	cold   []result // bridge and floor runs of the closed-loop workloads
	paced  []result
	bursts []burstResult
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func (b *bench) run(ctx context.Context) error {
	o := &b.opts
	began := time.Now()
	var err error
	if b.tmp, err = os.MkdirTemp("", "imagestream-bridge-bench-"); err != nil {
		return fmt.Errorf("create temp directory: %w", err)
	}
	defer os.RemoveAll(b.tmp)
	o.dataRoot = cmp.Or(o.dataRoot, b.tmp)
	machineLine := machine()
	logf("machine: %s", machineLine)
	reg, err := sandbox.StartRegistry(ctx, sandbox.Notify{})
	if err != nil {
		return err
	}
	defer reg.Close()
	if b.fx, err = newFixture(reg); err != nil {
		return err
	}
	// The in-process runs need only as many distinct images as their events;
	// the rest, for the burst, is pushed later, so that the registry's heap
	// (it shares this process with the in-process bridges) stays small until then.
	if err := b.push(ctx, min(o.images, max(o.events, int(o.rate*o.paced.Seconds())))); err != nil {
		return err
	}
	maxC := slices.Max(o.concurrency)
	all := len(b.fx.images)
	for _, w := range []string{"cold", "warm"} {
		if !o.workloads[w] {
			continue
		}
		distinct := map[string]int{"cold": all, "warm": o.warm}[w]
		for _, c := range o.concurrency {
			b.cold = append(b.cold, b.floorRun(ctx, w, distinct, c))
			for _, l := range o.logs {
				b.cold = append(b.cold, b.bridgeRun(ctx, runSpec{workload: w, distinct: distinct, events: o.events, c: c, log: l, qps: o.qps, clusters: 1}))
			}
		}
	}
	if o.workloads["defaults"] {
		b.cold = append(b.cold, b.bridgeRun(ctx, runSpec{workload: "defaults", distinct: all, events: min(o.events, 1000), c: maxC, log: logMemory, clusters: 1}))
	}
	if o.workloads["twocluster"] {
		b.cold = append(b.cold, b.bridgeRun(ctx, runSpec{workload: "twocluster", distinct: all, events: o.events, c: maxC, log: logEmbedded, qps: o.qps, clusters: 2}))
	}
	if o.workloads["paced"] {
		for _, w := range []string{"warm", "cold"} {
			for _, l := range o.logs {
				b.paced = append(b.paced, b.bridgeRun(ctx, runSpec{workload: "paced " + w, distinct: map[string]int{"cold": all, "warm": o.warm}[w],
					events: int(o.rate * o.paced.Seconds()), perSec: o.rate, log: l, qps: o.qps, clusters: 1}))
			}
		}
	}
	if o.workloads["burst"] {
		if err := b.push(ctx, o.images); err != nil {
			return err
		}
		for _, l := range o.logs {
			b.bursts = append(b.bursts, b.burstRun(ctx, l, maxC))
		}
	}
	parent := readProcStats(false, true)
	b.report(machineLine, time.Since(began), parent)
	return ctx.Err()
}

// setDefault sets an unset flag's value to full, or quick with -quick.
func setDefault[T comparable](v *T, full, quick T, isQuick bool) {
	var unset T
	if *v == unset {
		*v = full
		if isQuick {
			*v = quick
		}
	}
}
