package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// buildCommit is set by make bench (-ldflags -X).
var buildCommit = "unknown"

func (b *bench) report(machineLine string, total time.Duration, parent procStats) {
	w, o, d := b.out, b.opts, configDefaults()
	args := append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...)
	conns := "a new connection per event, as distribution's sink does"
	if o.keepalive {
		conns = "kept alive"
	}
	fmt.Fprintf(w, "## imagestream-bridge-bench\n\n- command: `%s`\n- machine: %s\n", strings.Join(args, " "), machineLine)
	fmt.Fprintf(w, "- registry: distribution v3 in process (in-memory storage, notifications off), %d images (one shared 512-byte layer, distinct configs) spread over %d repositories: %s\n",
		len(b.fx.images), repos, strings.Join(b.pushed, "; then, before the burst, "))
	fmt.Fprintf(w, "- code: %s (git describe --always --dirty)\n", buildCommit)
	fmt.Fprintf(w, "- bridge: app.Serve with the default settings (workers %d, queueSize %d, resyncInterval %s, info logs formatted as JSON into io.Discard) except openshift.qps/burst %d (row `defaults`: the default qps %g, burst %d); event log (column `log`): memory = dataDir unset (the embedded server in memory), embedded = dataDir set (the embedded server's file store, one fsync per group of appends), cluster = nats.url of a 3-node JetStream cluster on loopback started for the run in the bench process (R3, shutdownDelay 0); webhook connections: %s\n",
		d.Workers, d.QueueSize, d.ResyncInterval.Duration, o.qps, d.OpenShift.QPS, d.OpenShift.Burst, conns)
	fmt.Fprintf(w, "- events per cold/warm run K=%d, warm = %d distinct digests under K distinct tags; every run has a fresh emulator and a fresh bridge\n", o.events, o.warm)
	fmt.Fprintf(w, "- total time %s; load average at the end %s\n", total.Round(time.Second), loadavg())
	fmt.Fprintf(w, "- \"other processes' CPU\" is the share of the machine's CPU that processes other than the bench used during the run (from /proc/stat): when it is not near 0%%, the run competed with other work\n\n")

	floors := map[string]*result{}
	for i := range b.cold {
		if r := &b.cold[i]; r.kind == "floor" {
			floors[fmt.Sprint(r.workload, r.c)] = r
		}
	}
	floorOf := func(r *result) *result { // defaults and twocluster are cold runs
		if wl := r.workload; wl == "warm" || wl == "cold" {
			return floors[fmt.Sprint(wl, r.c)]
		}
		return floors[fmt.Sprint("cold", r.c)]
	}
	if len(b.cold) > 0 {
		table(w, "Throughput against the floor (everything in one process)", "workload", "C", "log", "events", "acked/s", "mapped/s", "floor/s", "mapped ÷ floor",
			"ack p50", "ack p99", "push→mapping p50", "push→mapping p99", "CPU s / 1k", "Δ CPU s / 1k vs floor", "allocs / mapping", "Δ allocs vs floor", "RSS max MiB", "other processes' CPU")
		for i := range b.cold {
			r := &b.cold[i]
			fl, acked, log, ratio, floorRate, dcpu, dalloc := floorOf(r), fmt.Sprintf("%.0f", r.ackRate()), r.journal, "-", "-", "-", "-"
			if r.kind == "floor" {
				acked, log = "-", "**floor**"
			}
			if fl != nil && fl.err == nil && fl.mapRate() > 0 {
				floorRate, ratio = fmt.Sprintf("%.0f", fl.mapRate()), fmt.Sprintf("%.2f", r.mapRate()/fl.mapRate())
				if r.kind != "floor" {
					dcpu, dalloc = fmt.Sprintf("%+.2f", r.cpuPer1000()-fl.cpuPer1000()), fmt.Sprintf("%+.0f", r.allocsPer()-fl.allocsPer())
				}
			}
			row(w, r, r.workload, r.c, log, r.events, acked, fmt.Sprintf("%.0f", r.mapRate()), floorRate, ratio, fmtDur(pct(r.ack, 0.5)), fmtDur(pct(r.ack, 0.99)),
				fmtDur(pct(r.p2m, 0.5)), fmtDur(pct(r.p2m, 0.99)), fmt.Sprintf("%.2f", r.cpuPer1000()), dcpu, fmt.Sprintf("%.0f", r.allocsPer()), dalloc, mib(r.peakRSS))
		}
		fmt.Fprintln(w, "\nFloor rows: mapped/s is events/s of the bare loop and the push→mapping columns are its per-event latency (3 requests).")
		fmt.Fprintf(w, "CPU, allocations and RSS are of the whole bench process (registry, emulator, senders or floor loop, bridge); the Δ columns subtract the floor run at the same C.\n\n")
	}

	if len(b.paced) > 0 || len(b.bursts) > 0 {
		table(w, fmt.Sprintf("Acknowledgement latency, paced open-loop sender at %.0f events/s", o.rate), "workload", "bridge runs", "log", "events", "send rate/s",
			"ack p50", "ack p99", "ack p99 from send", "503 answers", "mapped/s", "push→mapping p50", "push→mapping p99", "CPU s / 1k", "other processes' CPU")
		paced := func(r *result, where, scope string) {
			row(w, r, r.workload, where, r.journal, r.events, fmt.Sprintf("%.0f", r.sendRate), fmtDur(pct(r.ack, 0.5)), fmtDur(pct(r.ack, 0.99)), fmtDur(pct(r.ackSend, 0.99)),
				r.rejected, fmt.Sprintf("%.0f", r.mapRate()), fmtDur(pct(r.p2m, 0.5)), fmtDur(pct(r.p2m, 0.99)), fmt.Sprintf("%.2f (%s)", r.cpuPer1000(), scope))
		}
		for i := range b.paced {
			paced(&b.paced[i], "in process", "process")
		}
		for i := range b.bursts {
			for j := range b.bursts[i].soak {
				paced(&b.bursts[i].soak[j], "child process", "bridge")
			}
		}
		fmt.Fprintln(w, "\nAck latency counts from when each event was due, not from when it was sent (so a late sender cannot hide a slow answer);")
		fmt.Fprintln(w, "\"ack p99 from send\" counts from the start of the accepted POST: the gap between the two is the sending process falling behind.")
		fmt.Fprintf(w, "`paced warm`: %d digests under distinct tags; `paced cold`: distinct digests; `soak N`: the child bridge after the burst, with the warm digests.\n\n", o.warm)
	}

	if len(b.bursts) > 0 {
		limit := "no GOMEMLIMIT"
		if o.memLimit != "" {
			limit = "GOMEMLIMIT=" + o.memLimit
		}
		table(w, fmt.Sprintf("%d-event burst, bridge alone in a child process (%s)", o.burst, limit), "log", "events", "C", "503 answers", "acked/s", "mapped/s",
			"ack p50", "ack p99", "push→mapping p50", "push→mapping p99", "bridge CPU s / 1k", "bridge allocs / mapping", "bridge KiB allocated / mapping",
			"bridge peak RSS (VmHWM) MiB", "of which anonymous (largest sample) MiB", "other processes' CPU")
		for i := range b.bursts {
			r := &b.bursts[i].burst
			row(w, r, b.bursts[i].journal, r.events, r.c, r.rejected, fmt.Sprintf("%.0f", r.ackRate()), fmt.Sprintf("%.0f", r.mapRate()), fmtDur(pct(r.ack, 0.5)),
				fmtDur(pct(r.ack, 0.99)), fmtDur(pct(r.p2m, 0.5)), fmtDur(pct(r.p2m, 0.99)), fmt.Sprintf("%.2f", r.cpuPer1000()), fmt.Sprintf("%.0f", r.allocsPer()),
				fmt.Sprintf("%.1f", float64(r.allocBytes)/1024/float64(max(r.events, 1))), mib(r.hwm), mib(r.peakAnon))
		}
		fmt.Fprintf(w, "\nThe sender retries a 503 after its Retry-After (capped at 1 s), as the registry retries; push→mapping includes that wait.\n\n")

		table(w, fmt.Sprintf("Steady state after the burst (child bridge; paced %.0f/s soak windows of %s, %d warm digests under new tags)", o.rate, o.soak, o.warm),
			"log", "when", "goroutines", "live heap MiB (after GC)", "RSS MiB", "anonymous RSS MiB", "soak ack p99", "soak push→mapping p99")
		for _, br := range b.bursts {
			for j, p := range br.steady {
				ack, p2m := "-", "-"
				if j >= 2 && j-2 < len(br.soak) {
					ack, p2m = fmtDur(pct(br.soak[j-2].ack, 0.99)), fmtDur(pct(br.soak[j-2].p2m, 0.99))
				}
				fmt.Fprintf(w, "| %s | %s | %d | %s | %s | %s | %s | %s |\n", br.journal, p.when, p.stats.Goroutines, mib(p.stats.HeapAlloc), mib(p.stats.VmRSS), mib(p.stats.RssAnon), ack, p2m)
			}
			if br.err != nil {
				fmt.Fprintf(w, "| %s | ERROR: %s | | | | | | |\n", br.journal, oneLine(br.err))
			}
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nBench process (registry, emulator, senders, in-process bridges of every run): VmHWM %s MiB over the whole run.\n", mib(parent.VmHWM))
}

// table writes a heading and a markdown table's header.
func table(w io.Writer, heading string, cols ...string) {
	fmt.Fprintf(w, "### %s\n\n| %s |\n|%s\n", heading, strings.Join(cols, " | "), strings.Repeat("---|", len(cols)))
}

// row writes one row of r: cells, then the other processes' CPU and r's error.
func row(w io.Writer, r *result, cells ...any) {
	for _, c := range cells {
		fmt.Fprintf(w, "| %v ", c)
	}
	note := ""
	if r.err != nil {
		note = " ERROR: " + oneLine(r.err)
	}
	fmt.Fprintf(w, "| %.0f%% |%s\n", 100*r.foreign, note)
}

// configDefaults is what a minimal configuration defaults to.
func configDefaults() *config.Config {
	c, err := config.Parse([]byte("registries: [{name: x, url: 'http://x', webhookToken: x}]\n"))
	if err != nil {
		return &config.Config{}
	}
	return c
}

func oneLine(err error) string { return strings.ReplaceAll(err.Error(), "\n", " ") }
