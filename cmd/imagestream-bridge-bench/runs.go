package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

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
	line := fmt.Sprintf("%d images pushed in %s (bench process live heap after GC: %s MiB)",
		n-from, time.Since(t0).Round(time.Millisecond), mib(readProcStats(true, false).HeapAlloc))
	logf("%s", line)
	b.pushed = append(b.pushed, line)
	return nil
}

// newAPIs starts n fresh emulators (so that no run finds another run's
// state) with the image streams created, and writes a kubeconfig for each.
func (b *bench) newAPIs(n int) ([]*sandbox.API, []string, error) {
	var apis []*sandbox.API
	var kubeconfigs []string
	for range n {
		api := sandbox.StartAPI()
		apis = append(apis, api)
		kc, err := b.prepareAPI(api)
		if err != nil {
			closeAPIs(apis)
			return nil, nil, err
		}
		kubeconfigs = append(kubeconfigs, kc)
	}
	return apis, kubeconfigs, nil
}

func closeAPIs(apis []*sandbox.API) {
	for _, a := range apis {
		a.Close()
	}
}

// prepareAPI creates the image streams in api and writes its kubeconfig.
func (b *bench) prepareAPI(api *sandbox.API) (string, error) {
	for i := range repos {
		_, stream := repoName(i)
		body := fmt.Sprintf(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":%q}}`, stream)
		code, _, err := call(context.Background(), http.DefaultClient, http.MethodPost,
			api.URL+"/apis/image.openshift.io/v1/namespaces/"+namespace+"/imagestreams", []byte(body), "Content-Type", "application/json")
		if err == nil && code != http.StatusCreated {
			err = fmt.Errorf("create image stream %s: %d", stream, code)
		}
		if err != nil {
			return "", err
		}
	}
	dir, err := os.MkdirTemp(b.tmp, "api-")
	if err != nil {
		return "", err
	}
	return api.WriteKubeconfig(dir)
}

// plan builds n events with tags unique to this run; event i is of image i%distinct.
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

// settle collects garbage and returns memory to the OS between runs.
func settle() {
	runtime.GC()
	debug.FreeOSMemory()
	time.Sleep(200 * time.Millisecond)
}

// profile starts a CPU profile of this process named label (with -profile)
// and returns what stops it.
func (b *bench) profile(label string) func() {
	if b.opts.profileDir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(b.opts.profileDir, label+".pprof"))
	if err == nil {
		if err = pprof.StartCPUProfile(f); err != nil {
			f.Close()
		}
	}
	if err != nil {
		logf("profile: %v", err)
		return func() {}
	}
	return func() { pprof.StopCPUProfile(); f.Close() }
}

func (b *bench) floorRun(ctx context.Context, workload string, distinct, c int) result {
	settle()
	logf("floor   %-12s C=%-3d %d events", workload, c, b.opts.events)
	r := result{kind: "floor", workload: workload, c: c}
	apis, _, err := b.newAPIs(1)
	if err == nil {
		defer closeAPIs(apis)
		var evs []*event
		if evs, err = b.plan(b.opts.events, distinct); err == nil {
			stopProf := b.profile(fmt.Sprintf("floor-%s-c%d", workload, c))
			r = floor(ctx, b.fx, apis[0], evs, c)
			stopProf()
			r.workload = workload
		}
	}
	r.err = cmp.Or(r.err, err)
	logRun(&r)
	return r
}

// runSpec is one run of a bridge.
type runSpec struct {
	workload string // the row's label
	distinct int    // distinct images among the events
	events   int
	c        int     // closed-loop senders; 0 with perSec
	perSec   float64 // open-loop rate of a paced run
	log      bridgeLog
	qps      int // openshift.qps and burst; 0 keeps the defaults
	clusters int // emulated clusters every event is mapped into
}

// withBridge starts s's emulators, event log and bridge (in this process, or
// alone in a child process), calls fn with them and stops them again.
func (b *bench) withBridge(ctx context.Context, s runSpec, inChild bool, fn func(t target, apis []*sandbox.API) error) error {
	apis, kcs, err := b.newAPIs(s.clusters)
	if err != nil {
		return err
	}
	defer closeAPIs(apis)
	st, cleanup, err := b.logStore(s.log)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg, err := bridgeConfig(b.fx.reg.URL, kcs, st, s.qps)
	if err != nil {
		return err
	}
	var t target
	if inChild {
		prof := ""
		if b.opts.profileDir != "" {
			prof, _ = filepath.Abs(filepath.Join(b.opts.profileDir, "burst-child-log-"+string(s.log)+".pprof"))
		}
		t, err = startChild(ctx, b.tmp, cfg, prof, b.opts.memLimit)
	} else {
		var lb *loopback.Bridge
		lb, err = loopback.ServeBridge(ctx, cfg, benchLogger(), nil, "", nil)
		t = &inProcess{b: lb}
	}
	if err != nil {
		return fmt.Errorf("start bridge: %w", err)
	}
	if err = st.waitApplier(ctx); err == nil {
		err = fn(t, apis)
	}
	if serr := t.stop(); serr != nil && err == nil {
		err = fmt.Errorf("stop bridge: %w", serr)
	}
	return err
}

// bridgeRun sends s's events to a bridge in this process.
func (b *bench) bridgeRun(ctx context.Context, s runSpec) result {
	settle()
	logf("bridge  %-12s C=%-3d log=%-8s %d events, %d cluster(s), %.0f/s", s.workload, s.c, s.log, s.events, s.clusters, s.perSec)
	var r result
	err := b.withBridge(ctx, s, false, func(t target, apis []*sandbox.API) error {
		evs, err := b.plan(s.events, s.distinct)
		if err != nil {
			return err
		}
		defer b.profile(fmt.Sprintf("bridge-%s-c%d-log-%s", s.workload, s.c, s.log))()
		r = drive(ctx, t, apis, evs, s.c, s.perSec, b.opts.keepalive)
		return nil
	})
	r.kind, r.workload, r.c, r.journal, r.err = "bridge", s.workload, s.c, string(s.log), cmp.Or(r.err, err)
	logRun(&r)
	return r
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

// burstRun runs the bridge alone in a child process: a burst of events from
// c senders, then two paced soak windows, with the child's goroutines and
// live heap (after a GC) read between them.
func (b *bench) burstRun(ctx context.Context, l bridgeLog, c int) burstResult {
	settle()
	br := burstResult{journal: string(l)}
	s := runSpec{workload: "burst", distinct: len(b.fx.images), events: b.opts.burst, c: c, log: l, qps: b.opts.qps, clusters: 1}
	br.err = b.withBridge(ctx, s, true, func(t target, apis []*sandbox.API) error {
		ch := t.(*child)
		point := func(when string) error {
			st, err := ch.stats(true, false)
			br.steady = append(br.steady, steadyPoint{when: when, stats: st})
			if b.opts.profileDir != "" && err == nil {
				err = ch.heapProfile(filepath.Join(b.opts.profileDir, fmt.Sprintf("burst-child-heap-log-%s-%d.pprof", l, len(br.steady))))
			}
			return err
		}
		evs, err := b.plan(s.events, s.distinct)
		if err == nil {
			err = point("started, idle")
		}
		if err != nil {
			return err
		}
		logf("burst   %d events C=%d log=%s (bridge in a child process)", len(evs), c, l)
		br.burst = drive(ctx, t, apis, evs, c, 0, b.opts.keepalive)
		br.burst.kind, br.burst.workload, br.burst.journal = "bridge", "burst", br.journal
		logRun(&br.burst)
		if err := point("after the burst"); err != nil {
			return err
		}
		for i := range 2 {
			soakEvs, err := b.plan(int(b.opts.rate*b.opts.soak.Seconds()), b.opts.warm)
			if err != nil {
				return err
			}
			logf("soak    %d/2: %.0f/s for %s", i+1, b.opts.rate, b.opts.soak)
			r := drive(ctx, t, apis, soakEvs, 0, b.opts.rate, b.opts.keepalive)
			r.kind, r.workload, r.journal = "bridge", fmt.Sprintf("soak %d", i+1), br.journal
			logRun(&r)
			br.soak = append(br.soak, r)
			if err := point(fmt.Sprintf("after soak %d (+%d events)", i+1, len(soakEvs))); err != nil {
				return err
			}
		}
		return nil
	})
	return br
}

func logRun(r *result) {
	if r.err != nil {
		logf("  ERROR: %v", r.err)
	}
	logf("  %.0f acked/s, %.0f mapped/s, ack p99 %s, push-to-mapping p99 %s, %.2f CPU s/1k, %.0f allocs/event, 503s %d",
		r.ackRate(), r.mapRate(), fmtDur(pct(r.ack, 0.99)), fmtDur(pct(r.p2m, 0.99)), r.cpuPer1000(), r.allocsPer(), r.rejected)
}
