package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

func (b *bench) report(machineLine string, total time.Duration, parent procStats) {
	w := b.out
	o := b.opts
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	fmt.Fprintf(w, "## imagestream-bridge-bench\n\n")
	fmt.Fprintf(w, "- command: `%s`\n", strings.Join(args, " "))
	fmt.Fprintf(w, "- machine: %s\n", machineLine)
	fmt.Fprintf(w, "- disk: fdatasync after a 4 KiB write in the data directory: %s at the start, %s at the end\n", b.fsync[0], b.fsync[1])
	fmt.Fprintf(w, "- registry: distribution v3 in process (in-memory storage, notifications off), %d images (one shared 512-byte layer, distinct configs) spread over %d repositories: %s\n",
		len(b.fx.images), repos, strings.Join(b.pushed, "; then, before the burst, "))
	fmt.Fprintf(w, "- code: %s\n", revision())
	d := configDefaults()
	fmt.Fprintf(w, "- bridge: app.Serve with the default settings (workers %d, queueSize %d, resyncInterval %s, info logs formatted as JSON into io.Discard) except openshift.qps/burst %d (row `defaults`: the default qps %g, burst %d); event log (column `log`): memory = dataDir unset (the embedded server in memory), embedded = dataDir set (the embedded server's file store, one fsync per group of appends), cluster = nats.url of a 3-node JetStream cluster on loopback started for the run in the bench process (R3, shutdownDelay 0); webhook connections: %s\n",
		d.Workers, d.QueueSize, d.ResyncInterval.Duration, o.qps, d.OpenShift.QPS, d.OpenShift.Burst,
		map[bool]string{true: "kept alive", false: "a new connection per event, as distribution's sink does"}[o.keepalive])
	fmt.Fprintf(w, "- events per cold/warm run K=%d, warm = %d distinct digests under K distinct tags; every run has a fresh emulator and a fresh bridge\n", o.events, o.warm)
	fmt.Fprintf(w, "- total time %s; load average at the end %s\n", total.Round(time.Second), loadavg())
	fmt.Fprintf(w, "- \"other processes' CPU\" is the share of the machine's CPU that processes other than the bench used during the run (from /proc/stat): when it is not near 0%%, the run competed with other work\n\n")

	floors := map[string]*result{}
	for i := range b.cold {
		if r := &b.cold[i]; r.kind == "floor" {
			floors[fmt.Sprintf("%s/%d", r.workload, r.c)] = r
		}
	}
	floorOf := func(r *result) *result {
		wl := r.workload
		if wl == "defaults" {
			wl = "cold"
		}
		return floors[fmt.Sprintf("%s/%d", wl, r.c)]
	}

	if len(b.cold) > 0 {
		fmt.Fprintf(w, "### Throughput against the floor (everything in one process)\n\n")
		fmt.Fprintln(w, "| workload | C | log | events | acked/s | mapped/s | floor/s | mapped ÷ floor | ack p50 | ack p99 | push→mapping p50 | push→mapping p99 | CPU s / 1k | Δ CPU s / 1k vs floor | allocs / mapping | Δ allocs vs floor | RSS max MiB | other processes' CPU |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for i := range b.cold {
			r := &b.cold[i]
			fl := floorOf(r)
			if r.kind == "floor" {
				fmt.Fprintf(w, "| %s | %d | **floor** | %d | - | %.0f | %.0f | 1.00 | - | - | %s | %s | %.2f | - | %.0f | - | %s | %.0f%% |%s\n",
					r.workload, r.c, r.events, r.mapRate(), r.mapRate(), fmtDur(pct(r.p2m, 0.5)), fmtDur(pct(r.p2m, 0.99)),
					r.cpuPer1000(), r.allocsPer(), mib(r.peakRSS), 100*r.foreign, errNote(r))
				continue
			}
			ratio, dcpu, dalloc, floorRate := "-", "-", "-", "-"
			if fl != nil && fl.err == nil && fl.mapRate() > 0 {
				floorRate = fmt.Sprintf("%.0f", fl.mapRate())
				ratio = fmt.Sprintf("%.2f", r.mapRate()/fl.mapRate())
				dcpu = fmt.Sprintf("%+.2f", r.cpuPer1000()-fl.cpuPer1000())
				dalloc = fmt.Sprintf("%+.0f", r.allocsPer()-fl.allocsPer())
			}
			fmt.Fprintf(w, "| %s | %d | %s | %d | %.0f | %.0f | %s | %s | %s | %s | %s | %s | %.2f | %s | %.0f | %s | %s | %.0f%% |%s\n",
				r.workload, r.c, r.journal, r.events, r.ackRate(), r.mapRate(), floorRate, ratio,
				fmtDur(pct(r.ack, 0.5)), fmtDur(pct(r.ack, 0.99)), fmtDur(pct(r.p2m, 0.5)), fmtDur(pct(r.p2m, 0.99)),
				r.cpuPer1000(), dcpu, r.allocsPer(), dalloc, mib(r.peakRSS), 100*r.foreign, errNote(r))
		}
		fmt.Fprintln(w, "\nFloor rows: mapped/s is events/s of the bare loop and the push→mapping columns are its per-event latency (3 requests).")
		fmt.Fprintln(w, "CPU, allocations and RSS are of the whole bench process (registry, emulator, senders or floor loop, bridge); the Δ columns subtract the floor run at the same C.")
		fmt.Fprintln(w)
	}

	if len(b.paced) > 0 || len(b.bursts) > 0 {
		fmt.Fprintf(w, "### Acknowledgement latency, paced open-loop sender at %.0f events/s\n\n", o.rate)
		fmt.Fprintln(w, "| workload | bridge runs | log | events | send rate/s | ack p50 | ack p99 | ack max | ack p99 from send | ack p99 in the handler | 503 answers | mapped/s | push→mapping p50 | push→mapping p99 | CPU s / 1k | other processes' CPU |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		row := func(r *result, where, cpuScope string) {
			fmt.Fprintf(w, "| %s | %s | %s | %d | %.0f | %s | %s | %s | %s | %s | %d | %.0f | %s | %s | %.2f %s | %.0f%% |%s\n",
				r.workload, where, r.journal, r.events, r.sendRate, fmtDur(pct(r.ack, 0.5)), fmtDur(pct(r.ack, 0.99)), fmtDur(pct(r.ack, 1)),
				fmtDur(pct(r.ackSend, 0.99)), r.serverAck, r.rejected, r.mapRate(), fmtDur(pct(r.p2m, 0.5)), fmtDur(pct(r.p2m, 0.99)), r.cpuPer1000(), cpuScope, 100*r.foreign, errNote(r))
		}
		for i := range b.paced {
			row(&b.paced[i], "in process", "(process)")
		}
		for i := range b.bursts {
			for j := range b.bursts[i].soak {
				row(&b.bursts[i].soak[j], "child process", "(bridge)")
			}
		}
		fmt.Fprintln(w, "\nAck latency counts from when each event was due, not from when it was sent (so a late sender cannot hide a slow answer);")
		fmt.Fprintln(w, "\"ack p99 from send\" counts from the start of the accepted POST: the gap between the two is the sending process falling behind.")
		fmt.Fprintln(w, "\"ack p99 in the handler\" is the bucket of the bridge's own imagestream_bridge_ack_duration_seconds histogram that holds its p99 (decode, event log append, answer; not accept, scheduling or the network). `paced warm`: 32 digests under distinct tags;")
		fmt.Fprintf(w, "`paced cold`: distinct digests; `soak N`: the child bridge after the burst, with the %d warm digests.\n", o.warm)
		fmt.Fprintln(w)
	}

	if len(b.bursts) > 0 {
		limit := "no GOMEMLIMIT"
		if o.childMemLimit != "" {
			limit = "GOMEMLIMIT=" + o.childMemLimit
		}
		fmt.Fprintf(w, "### %d-event burst, bridge alone in a child process (%s)\n\n", o.burst, limit)
		fmt.Fprintln(w, "| log | events | C | 503 answers | acked/s | mapped/s | ack p50 | ack p99 | push→mapping p50 | push→mapping p99 | bridge CPU s / 1k | bridge allocs / mapping | bridge KiB allocated / mapping | bridge peak RSS (VmHWM) MiB | of which anonymous (largest sample) MiB | other processes' CPU |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
		for i := range b.bursts {
			br := &b.bursts[i]
			r := &br.burst
			fmt.Fprintf(w, "| %s | %d | %d | %d | %.0f | %.0f | %s | %s | %s | %s | %.2f | %.0f | %.1f | %s | %s | %.0f%% |%s\n",
				r.journal, r.events, r.c, r.rejected, r.ackRate(), r.mapRate(), fmtDur(pct(r.ack, 0.5)), fmtDur(pct(r.ack, 0.99)),
				fmtDur(pct(r.p2m, 0.5)), fmtDur(pct(r.p2m, 0.99)), r.cpuPer1000(), r.allocsPer(),
				float64(r.allocBytes)/1024/float64(max(r.events, 1)), mib(r.hwm), mib(r.peakAnon), 100*r.foreign, errNote(r))
		}
		fmt.Fprintf(w, "\nThe sender retries a 503 after its Retry-After (capped at 1 s), as the registry retries; push→mapping includes that wait.\n")
		fmt.Fprintln(w)

		fmt.Fprintf(w, "### Steady state after the burst (child bridge; paced %.0f/s soak windows of %s, %d warm digests under new tags)\n\n", o.rate, o.soak, o.warm)
		fmt.Fprintln(w, "| log | when | goroutines | live heap MiB (after GC) | RSS MiB | anonymous RSS MiB | soak ack p99 | soak push→mapping p99 |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for i := range b.bursts {
			br := &b.bursts[i]
			for j, p := range br.steady {
				ack, p2m := "-", "-"
				if j >= 2 && j-2 < len(br.soak) {
					ack, p2m = fmtDur(pct(br.soak[j-2].ack, 0.99)), fmtDur(pct(br.soak[j-2].p2m, 0.99))
				}
				fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", br.journal, p.when, p.stats.Goroutines, mib(p.stats.HeapAlloc), mib(p.stats.VmRSS), mib(p.stats.RssAnon), ack, p2m)
			}
			if br.err != nil {
				fmt.Fprintf(w, "| %s | ERROR: %s | | | | | | |\n", br.journal, oneLine(br.err.Error()))
			}
		}
		fmt.Fprintln(w)
	}

	b.reportLog(w)
	b.targets(w, floorOf)
	fmt.Fprintf(w, "\nBench process (registry, emulator, senders, in-process bridges of every run): VmHWM %s MiB over the whole run.\n", mib(parent.VmHWM))
}

func (b *bench) targets(w io.Writer, floorOf func(*result) *result) {
	fmt.Fprintf(w, "### Targets\n\n| target | measured | met |\n|---|---|---|\n")
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	for i := range b.cold {
		r := &b.cold[i]
		fl := floorOf(r)
		if r.kind != "bridge" || fl == nil || fl.mapRate() == 0 {
			continue
		}
		ratio := r.mapRate() / fl.mapRate()
		switch r.workload {
		case "cold":
			fmt.Fprintf(w, "| cold mapped/s ≥ 0.8 × floor (C=%d, log %s) | %.2f × | %s |\n", r.c, r.journal, ratio, yes(ratio >= 0.8 && r.err == nil))
		case "warm":
			fmt.Fprintf(w, "| warm mapped/s > floor (C=%d, log %s) | %.2f × | %s |\n", r.c, r.journal, ratio, yes(ratio > 1 && r.err == nil))
		case "defaults":
			d := configDefaults()
			fmt.Fprintf(w, "| (information) cold with the default openshift.qps %g / burst %d (C=%d) | %.2f × | - |\n", d.OpenShift.QPS, d.OpenShift.Burst, r.c, ratio)
		}
	}
	ackTarget := func(r *result, where string) {
		p99 := pct(r.ack, 0.99)
		fmt.Fprintf(w, "| ack p99 ≤ 10 ms at %.0f events/s (%s, %s, log %s) | %s | %s |\n", b.opts.rate, r.workload, where, r.journal, fmtDur(p99), yes(p99 <= 10*time.Millisecond && r.err == nil))
	}
	for i := range b.paced {
		ackTarget(&b.paced[i], "in process")
	}
	for i := range b.bursts {
		for j := range b.bursts[i].soak {
			ackTarget(&b.bursts[i].soak[j], "child process")
		}
	}
	for i := range b.bursts {
		br := &b.bursts[i]
		fmt.Fprintf(w, "| bridge peak RSS ≤ 100 MiB through the %d-event burst (log %s) | %s MiB | %s |\n",
			br.burst.events, br.journal, mib(br.burst.hwm), yes(br.burst.hwm > 0 && br.burst.hwm <= 100<<20 && br.burst.err == nil))
		if n := len(br.steady); n >= 4 {
			a, z := br.steady[n-2].stats, br.steady[n-1].stats
			dg := z.Goroutines - a.Goroutines
			dh := int64(z.HeapAlloc) - int64(a.HeapAlloc)
			fmt.Fprintf(w, "| no growth of goroutines or live heap between the soak windows (log %s; rule: goroutines +≤2, heap +≤2 MiB) | goroutines %+d, heap %+.2f MiB | %s |\n",
				br.journal, dg, float64(dh)/(1<<20), yes(dg <= 2 && dh <= 2<<20))
		}
	}
}

// configDefaults is what a minimal configuration defaults to.
func configDefaults() *config.Config {
	c, err := config.Parse([]byte("registries: [{name: x, url: 'http://x', webhookToken: x}]\n"))
	if err != nil {
		return &config.Config{}
	}
	return c
}

// buildCommit is set by make bench (-ldflags -X) when VCS stamping is off.
var buildCommit string

// revision is the VCS revision the binary was built from.
func revision() string {
	if buildCommit != "" {
		return buildCommit + " (git describe --always --dirty)"
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "unknown", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
			if len(rev) > 12 {
				rev = rev[:12]
			}
		case "vcs.modified":
			if s.Value == "true" {
				dirty = " (with uncommitted changes)"
			}
		}
	}
	return "commit " + rev + dirty
}

func errNote(r *result) string {
	if r.err == nil {
		return ""
	}
	return " ERROR: " + oneLine(r.err.Error())
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", " ") }
