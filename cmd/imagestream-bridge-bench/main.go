// Command imagestream-bridge-bench measures the bridge against the bare HTTP
// work it cannot avoid.
//
// It starts a distribution v3 registry in this process (notifications off)
// pre-filled with M images, and for every run a fresh image-API emulator and
// a fresh bridge (app.Serve: the real HTTP server and the real settings, on a
// loopback listener). It then posts K envelopes shaped like the registry's
// from C concurrent senders and waits until the emulator has a mapping for
// every event. The floor is a bare loop doing the same HTTP work (GET
// manifest, GET config, POST a prebuilt mapping) against the same servers
// with the same concurrency. The 20,000-event burst and the steady-state soak
// run the bridge alone in a child process (this binary, re-executed) so that
// its peak RSS, CPU and allocations are its own. The twocluster workload is
// the cold one with the embedded log on disk and a second emulated cluster:
// every event is mapped into both (mapped/s counts events mapped in both clusters).
// -journal picks the bridge's event log per run: memory (dataDir unset),
// embedded (dataDir set) or cluster (nats.url of a 3-node JetStream cluster
// that this process runs on loopback for the run, R3).
//
//	imagestream-bridge-bench            the full matrix (make bench)
//	imagestream-bridge-bench -quick     a small smoke run (under a minute)
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/distribution/distribution/v3/notifications"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

type options struct {
	images        int
	events        int
	burst         int
	concurrency   []int
	rate          float64
	paced         time.Duration
	soak          time.Duration
	warm          int
	qps           int
	keepalive     bool
	workloads     map[string]bool
	journals      []bridgeLog
	profileDir    string
	dataRoot      string
	quick         bool
	showEnvelope  bool
	childMemLimit string
	logRate       float64
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imagestream-bridge-bench:", err)
		os.Exit(1)
	}
}

func run() error {
	var o options
	var conc, workloads, journals, childCfg, childProf, childLog, childLogDir, childLogURL string
	var childLogPaced int
	flag.IntVar(&o.images, "images", 0, "images M pre-pushed to the registry (default: max(events, burst) capped at 20000; -quick: 600)")
	flag.IntVar(&o.events, "events", 0, "events K per cold and warm run (default 2000; -quick 300)")
	flag.IntVar(&o.burst, "burst", 0, "events of the burst (default 20000; -quick 2000)")
	flag.StringVar(&conc, "concurrency", "1,4,16", "concurrent senders C, comma-separated")
	flag.Float64Var(&o.rate, "rate", 500, "events per second of the paced (open-loop) runs and the soak")
	flag.DurationVar(&o.paced, "paced", 0, "duration of each paced run (default 10s; -quick 2s)")
	flag.DurationVar(&o.soak, "soak", 0, "duration of each of the two steady-state soak windows after the burst (default 10s; -quick 2s)")
	flag.IntVar(&o.warm, "warm-digests", 32, "distinct digests of the warm workload")
	flag.IntVar(&o.qps, "qps", 100000, "openshift.qps and openshift.burst of the bridge in every run but 'defaults' (the default client-side limiter caps mappings/s)")
	flag.BoolVar(&o.keepalive, "keepalive", false, "reuse webhook connections (distribution's sink opens a new connection per event)")
	flag.StringVar(&workloads, "workloads", "cold,warm,defaults,twocluster,paced,burst,log", "workloads to run (twocluster: cold, embedded log on disk, every event mapped into two emulated clusters; log: the stores alone, journal vs the JetStream event log embedded and on a 3-node cluster)")
	flag.StringVar(&journals, "journal", "memory,embedded", "event log: memory, embedded (dataDir), cluster (3-node JetStream cluster on loopback, R3), comma-separated; off and on still mean memory and embedded")
	flag.StringVar(&o.profileDir, "profile", "", "write a CPU profile of every run into this directory")
	flag.StringVar(&o.dataRoot, "datadir", "", "where the data directories (and the cluster's stores) are created (default: the system temp dir)")
	flag.BoolVar(&o.quick, "quick", false, "small sizes for a smoke run")
	flag.StringVar(&o.childMemLimit, "child-gomemlimit", "", "GOMEMLIMIT of the child bridge of the burst (default: none, as serve runs without one)")
	flag.BoolVar(&o.showEnvelope, "show-envelope", false, "print one envelope as the bench sends it, and exit")
	flag.StringVar(&childCfg, "child-bridge", "", "internal: run only the bridge with this config file")
	flag.StringVar(&childProf, "child-cpuprofile", "", "internal: CPU profile of the child bridge")
	flag.Float64Var(&o.logRate, "log-rate", 400, "appends per second of the log workload's paced run")
	flag.StringVar(&childLog, "child-log", "", "internal: run only the log workload's child for this store")
	flag.StringVar(&childLogDir, "child-log-dir", "", "internal: its data directory")
	flag.StringVar(&childLogURL, "child-log-url", "", "internal: its NATS URL (cluster)")
	flag.IntVar(&childLogPaced, "child-log-paced", 0, "internal: its paced appends")
	flag.Parse()
	if childCfg != "" {
		return runChild(childCfg, childProf)
	}
	if childLog != "" {
		return runLogChild(childLog, childLogDir, childLogURL, childLogPaced, o.logRate, o.burst)
	}

	def := func(v *int, full, quick int) {
		if *v == 0 {
			*v = full
			if o.quick {
				*v = quick
			}
		}
	}
	defD := func(v *time.Duration, full, quick time.Duration) {
		if *v == 0 {
			*v = full
			if o.quick {
				*v = quick
			}
		}
	}
	def(&o.events, 2000, 300)
	def(&o.burst, 20000, 2000)
	def(&o.images, min(max(o.events, o.burst), 20000), 600)
	defD(&o.paced, 10*time.Second, 2*time.Second)
	defD(&o.soak, 10*time.Second, 2*time.Second)
	for _, s := range strings.Split(conc, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad -concurrency %q", conc)
		}
		o.concurrency = append(o.concurrency, n)
	}
	o.workloads = map[string]bool{}
	for _, w := range strings.Split(workloads, ",") {
		o.workloads[strings.TrimSpace(w)] = true
	}
	for _, j := range strings.Split(journals, ",") {
		m, err := parseBridgeLog(strings.TrimSpace(j))
		if err != nil {
			return err
		}
		o.journals = append(o.journals, m)
	}
	if o.profileDir != "" {
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
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
	fsync  [2]string // fdatasync probe at the start and the end
	pushed []string  // how the registry was filled
	cold   []result  // bridge and floor runs of the cold and warm workloads
	paced  []result
	bursts []burstResult
	logs   []logResult
}

type burstResult struct {
	journal string
	burst   result
	steady  []steadyPoint
	soak    []result
	err     error
}

type steadyPoint struct {
	when  string
	stats procStats
}

func logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s  "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
}

func (b *bench) run(ctx context.Context) error {
	o := b.opts
	began := time.Now()
	var err error
	if b.tmp, err = os.MkdirTemp("", "imagestream-bridge-bench-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	if b.opts.dataRoot == "" {
		b.opts.dataRoot = b.tmp
	}
	machineLine := machine()
	logf("machine: %s", machineLine)
	fsyncStart := fsyncProbe(b.opts.dataRoot)
	logf("fdatasync of 4 KiB in the data directory: %s", fsyncStart)
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
	first := min(o.images, max(o.events, int(o.rate*o.paced.Seconds())))
	if err := b.push(ctx, first); err != nil {
		return err
	}

	if o.showEnvelope {
		evs, err := b.plan(1, 1)
		if err != nil {
			return err
		}
		evs[0].stamp(time.Now())
		fmt.Fprintf(b.out, "POST /notifications/%s\nContent-Type: %s\nAuthorization: Bearer %s\n\n%s\n",
			registryName, notifications.EventsMediaType, webhookToken, evs[0].body)
		return nil
	}
	maxC := slices.Max(o.concurrency)
	for _, w := range []string{"cold", "warm"} {
		if !o.workloads[w] {
			continue
		}
		for _, c := range o.concurrency {
			fl := b.floorRun(ctx, w, c)
			b.cold = append(b.cold, fl)
			for _, j := range o.journals {
				b.cold = append(b.cold, b.bridgeRun(ctx, w, c, j, o.qps))
			}
		}
	}
	if o.workloads["defaults"] {
		b.cold = append(b.cold, b.bridgeRun(ctx, "defaults", maxC, logMemory, 0))
	}
	if o.workloads["twocluster"] {
		b.cold = append(b.cold, b.twoClusterRun(ctx, maxC))
	}
	if o.workloads["paced"] {
		for _, w := range []string{"warm", "cold"} {
			for _, j := range o.journals {
				b.paced = append(b.paced, b.pacedRun(ctx, w, j))
			}
		}
	}
	if o.workloads["burst"] {
		if err := b.push(ctx, o.images); err != nil {
			return err
		}
		for _, j := range o.journals {
			b.bursts = append(b.bursts, b.burstRun(ctx, j, maxC))
		}
	}
	if o.workloads["log"] {
		b.logs = b.logRuns(ctx)
	}
	parent := readProcStats(false, true)
	b.fsync = [2]string{fsyncStart, fsyncProbe(b.opts.dataRoot)}
	b.report(machineLine, time.Since(began), parent)
	return ctx.Err()
}

// push grows the registry to n images and notes how long it took and how
// large the live heap of this process is afterwards.
func (b *bench) push(ctx context.Context, n int) error {
	from := len(b.fx.images)
	if n <= from {
		return nil
	}
	logf("pushing images %d..%d to %s", from, n-1, b.fx.reg.URL)
	t0 := time.Now()
	if err := b.fx.grow(ctx, n, func(d int) { logf("  %d images pushed", d) }); err != nil {
		return err
	}
	took := time.Since(t0)
	s := readProcStats(true, false)
	line := fmt.Sprintf("%d images pushed in %s (bench process live heap after GC: %s MiB)", n-from, took.Round(time.Millisecond), mib(s.HeapAlloc))
	logf("%s", line)
	b.pushed = append(b.pushed, line)
	return nil
}

// newAPI starts a fresh emulator (so that no run finds another run's state)
// with the image streams created.
func (b *bench) newAPI() (*sandbox.API, string, error) {
	api := sandbox.StartAPI()
	dir, err := os.MkdirTemp(b.tmp, "api-")
	if err != nil {
		api.Close()
		return nil, "", err
	}
	kc, err := api.WriteKubeconfig(dir)
	if err != nil {
		api.Close()
		return nil, "", err
	}
	for i := range repos {
		_, stream := repoName(i)
		body := fmt.Sprintf(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":%q}}`, stream)
		resp, err := http.Post(api.URL+"/apis/image.openshift.io/v1/namespaces/"+namespace+"/imagestreams", "application/json", bytes.NewBufferString(body))
		if err != nil {
			api.Close()
			return nil, "", err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			api.Close()
			return nil, "", fmt.Errorf("create image stream %s: %d", stream, resp.StatusCode)
		}
	}
	return api, kc, nil
}

// plan builds n events with tags unique to this run; image i%distinct.
func (b *bench) plan(n, distinct int) ([]*event, error) {
	b.runN++
	evs := make([]*event, n)
	distinct = min(distinct, len(b.fx.images))
	for i := range evs {
		id := fmt.Sprintf("%08x-%04x-4000-8000-%012x", b.runN, i>>16&0xffff, i)
		ev, err := b.fx.buildEvent(i%distinct, fmt.Sprintf("r%d-e%d", b.runN, i), id)
		if err != nil {
			return nil, err
		}
		evs[i] = ev
	}
	return evs, nil
}

func (b *bench) distinctFor(workload string) int {
	if workload == "warm" {
		return b.opts.warm
	}
	return len(b.fx.images)
}

// settle collects garbage and returns memory to the OS between runs.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
}

func (b *bench) profile(label string) func() {
	if b.opts.profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(b.opts.profileDir, label+".pprof"))
	if err != nil {
		logf("profile: %v", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		logf("profile: %v", err)
		f.Close()
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func (b *bench) floorRun(ctx context.Context, workload string, c int) result {
	settle()
	r := result{kind: "floor", workload: workload, c: c, journal: "-"}
	api, _, err := b.newAPI()
	if err != nil {
		r.err = err
		return r
	}
	defer api.Close()
	evs, err := b.plan(b.opts.events, b.distinctFor(workload))
	if err != nil {
		r.err = err
		return r
	}
	logf("floor   %-8s C=%-3d %d events", workload, c, len(evs))
	stopProf := b.profile(fmt.Sprintf("floor-%s-c%d", workload, c))
	r = floor(ctx, b.fx, api, evs, c)
	stopProf()
	r.workload = workload
	logRun(&r)
	return r
}

func (b *bench) bridgeRun(ctx context.Context, workload string, c int, journal bridgeLog, qps int) result {
	settle()
	r := result{kind: "bridge", workload: workload, c: c, journal: string(journal)}
	api, kc, err := b.newAPI()
	if err != nil {
		r.err = err
		return r
	}
	defer api.Close()
	n, distinct := b.opts.events, b.distinctFor(workload)
	if workload == "defaults" {
		n = min(n, 1000)
	}
	evs, err := b.plan(n, distinct)
	if err != nil {
		r.err = err
		return r
	}
	st, cleanup, err := b.logStore(journal)
	if err != nil {
		r.err = err
		return r
	}
	defer cleanup()
	logf("bridge  %-8s C=%-3d log=%-8s %d events", workload, c, r.journal, len(evs))
	t, err := startInProcess(ctx, b.fx.reg.URL, kc, st, qps)
	if err != nil {
		r.err = err
		return r
	}
	if err := st.waitApplier(ctx); err != nil {
		_ = t.stop()
		r.err = err
		return r
	}
	stopProf := b.profile(fmt.Sprintf("bridge-%s-c%d-log-%s", workload, c, r.journal))
	res := drive(ctx, t, api, evs, c, 0, b.opts.keepalive)
	stopProf()
	if err := t.stop(); err != nil && res.err == nil {
		res.err = fmt.Errorf("bridge stopped with: %w", err)
	}
	res.kind, res.workload, res.journal = r.kind, workload, r.journal
	logRun(&res)
	return res
}

// twoClusterRun is the cold workload with the embedded log on disk, every event mapped
// into two clusters (two emulators): mapped/s counts events mapped in both.
func (b *bench) twoClusterRun(ctx context.Context, c int) result {
	settle()
	r := result{kind: "bridge", workload: "twocluster", c: c, journal: string(logEmbedded)}
	api, kc, err := b.newAPI()
	if err != nil {
		r.err = err
		return r
	}
	defer api.Close()
	apiB, kcB, err := b.newAPI()
	if err != nil {
		r.err = err
		return r
	}
	defer apiB.Close()
	evs, err := b.plan(b.opts.events, b.distinctFor("cold"))
	if err != nil {
		r.err = err
		return r
	}
	st, cleanup, err := b.logStore(logEmbedded)
	if err != nil {
		r.err = err
		return r
	}
	defer cleanup()
	cfg, err := bridgeConfig(b.fx.reg.URL, kc, st, b.opts.qps)
	if err == nil {
		second := config.Cluster{Name: "b", OpenShift: config.OpenShift{Kubeconfig: kcB}}
		second.QPS, second.Burst = cfg.OpenShift.QPS, cfg.OpenShift.Burst
		cfg.OtherClusters = []config.Cluster{second}
		err = cfg.Complete()
	}
	if err != nil {
		r.err = err
		return r
	}
	logf("bridge  %-8s C=%-3d log=%-8s %d events x 2 clusters", "twocluster", c, r.journal, len(evs))
	lb, err := loopback.ServeBridge(ctx, cfg, benchLogger(), nil, "", nil)
	if err != nil {
		r.err = err
		return r
	}
	t := &inProcess{b: lb}
	stopProf := b.profile(fmt.Sprintf("bridge-twocluster-c%d", c))
	res := drive(ctx, t, api, evs, c, 0, b.opts.keepalive, apiB)
	stopProf()
	if err := t.stop(); err != nil && res.err == nil {
		res.err = fmt.Errorf("bridge stopped with: %w", err)
	}
	res.kind, res.workload, res.journal = r.kind, r.workload, r.journal
	logRun(&res)
	return res
}

func (b *bench) pacedRun(ctx context.Context, workload string, journal bridgeLog) result {
	settle()
	r := result{kind: "bridge", workload: "paced " + workload, journal: string(journal)}
	api, kc, err := b.newAPI()
	if err != nil {
		r.err = err
		return r
	}
	defer api.Close()
	n := int(b.opts.rate * b.opts.paced.Seconds())
	evs, err := b.plan(n, b.distinctFor(workload))
	if err != nil {
		r.err = err
		return r
	}
	st, cleanup, err := b.logStore(journal)
	if err != nil {
		r.err = err
		return r
	}
	defer cleanup()
	logf("paced   %s %.0f/s for %s log=%s (%d events)", workload, b.opts.rate, b.opts.paced, r.journal, n)
	t, err := startInProcess(ctx, b.fx.reg.URL, kc, st, b.opts.qps)
	if err != nil {
		r.err = err
		return r
	}
	if err := st.waitApplier(ctx); err != nil {
		_ = t.stop()
		r.err = err
		return r
	}
	stopProf := b.profile("paced-" + workload + "-log-" + r.journal)
	res := drive(ctx, t, api, evs, 0, b.opts.rate, b.opts.keepalive)
	stopProf()
	if err := t.stop(); err != nil && res.err == nil {
		res.err = err
	}
	res.kind, res.workload, res.journal = r.kind, r.workload, r.journal
	logRun(&res)
	return res
}

// burstRun runs the bridge alone in a child process: a burst of events from
// c senders, then two paced soak windows, with the child's goroutines and
// live heap (after a GC) read between them.
func (b *bench) burstRun(ctx context.Context, journal bridgeLog, c int) burstResult {
	settle()
	br := burstResult{journal: string(journal)}
	api, kc, err := b.newAPI()
	if err != nil {
		br.err = err
		return br
	}
	defer api.Close()
	evs, err := b.plan(b.opts.burst, len(b.fx.images))
	if err != nil {
		br.err = err
		return br
	}
	st, cleanup, err := b.logStore(journal)
	if err != nil {
		br.err = err
		return br
	}
	defer cleanup()
	dir, err := os.MkdirTemp(b.tmp, "child-")
	if err != nil {
		br.err = err
		return br
	}
	prof := ""
	if b.opts.profileDir != "" {
		prof, _ = filepath.Abs(filepath.Join(b.opts.profileDir, "burst-child-log-"+br.journal+".pprof"))
	}
	cfg, err := bridgeConfig(b.fx.reg.URL, kc, st, b.opts.qps)
	if err != nil {
		br.err = err
		return br
	}
	t, err := startChild(ctx, dir, cfg, prof, b.opts.childMemLimit)
	if err != nil {
		br.err = err
		return br
	}
	if err := st.waitApplier(ctx); err != nil {
		_ = t.stop()
		br.err = err
		return br
	}
	point := func(when string) {
		s, err := t.stats(true, false)
		if err != nil && br.err == nil {
			br.err = err
		}
		br.steady = append(br.steady, steadyPoint{when: when, stats: s})
		if b.opts.profileDir != "" {
			f := filepath.Join(b.opts.profileDir, fmt.Sprintf("burst-child-heap-log-%s-%d.pprof", br.journal, len(br.steady)))
			if err := t.heapProfile(f); err != nil {
				logf("heap profile: %v", err)
			}
		}
	}
	point("started, idle")
	logf("burst   %d events C=%d log=%s (bridge in a child process)", len(evs), c, br.journal)
	br.burst = drive(ctx, t, api, evs, c, 0, b.opts.keepalive)
	br.burst.kind, br.burst.workload, br.burst.journal = "bridge", "burst", br.journal
	logRun(&br.burst)
	point("after the burst")
	for i := range 2 {
		n := int(b.opts.rate * b.opts.soak.Seconds())
		soakEvs, err := b.plan(n, b.opts.warm)
		if err != nil {
			br.err = err
			break
		}
		logf("soak    %d/2: %.0f/s for %s", i+1, b.opts.rate, b.opts.soak)
		s := drive(ctx, t, api, soakEvs, 0, b.opts.rate, b.opts.keepalive)
		s.kind, s.workload, s.journal = "bridge", fmt.Sprintf("soak %d", i+1), br.journal
		logRun(&s)
		br.soak = append(br.soak, s)
		point(fmt.Sprintf("after soak %d (+%d events)", i+1, n))
	}
	if err := t.stop(); err != nil && br.err == nil {
		br.err = fmt.Errorf("child bridge: %w", err)
	}
	return br
}

func logRun(r *result) {
	if r.err != nil {
		logf("  ERROR: %v", r.err)
	}
	logf("  %.0f acked/s, %.0f mapped/s, ack p99 %s, push-to-mapping p99 %s, %.2f CPU s/1k, %.0f allocs/event, 503s %d",
		r.ackRate(), r.mapRate(), fmtDur(pct(r.ack, 0.99)), fmtDur(pct(r.p2m, 0.99)), r.cpuPer1000(), r.allocsPer(), r.rejected)
}
