package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strconv"
	"syscall"
	"time"
)

// procStats is a snapshot of one process.
type procStats struct {
	// CPU is user plus system time since the process started.
	CPU time.Duration `json:"cpuNs"`
	// Mallocs and TotalAlloc are cumulative (runtime.MemStats).
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"totalAlloc"`
	// HeapAlloc is live heap bytes (after a GC when one was requested).
	HeapAlloc  uint64 `json:"heapAlloc"`
	Goroutines int    `json:"goroutines"`
	// VmRSS and VmHWM from /proc/self/status, in bytes.
	VmRSS uint64 `json:"vmRSS"`
	VmHWM uint64 `json:"vmHWM"`
	// RssAnon is the anonymous part of VmRSS (heap, stacks); the rest is mostly
	// the binary's pages (RssFile).
	RssAnon uint64 `json:"rssAnon"`
}

// readProcStats snapshots this process; gc runs a collection first so that
// HeapAlloc is the live heap; light skips runtime.ReadMemStats.
func readProcStats(gc, light bool) procStats {
	var s procStats
	if gc {
		runtime.GC()
	}
	s.CPU = cpuTime()
	if !light {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.Mallocs, s.TotalAlloc, s.HeapAlloc = ms.Mallocs, ms.TotalAlloc, ms.HeapAlloc
	}
	s.Goroutines = runtime.NumGoroutine()
	s.VmRSS, s.VmHWM, s.RssAnon = memStatus()
	return s
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memStatus returns VmRSS, VmHWM and RssAnon of this process in bytes.
func memStatus() (rss, hwm, anon uint64) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, 0, 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		switch {
		case bytes.HasPrefix(line, []byte("VmRSS:")):
			rss = kib(line[len("VmRSS:"):])
		case bytes.HasPrefix(line, []byte("VmHWM:")):
			hwm = kib(line[len("VmHWM:"):])
		case bytes.HasPrefix(line, []byte("RssAnon:")):
			anon = kib(line[len("RssAnon:"):])
		}
	}
	return rss, hwm, anon
}

func kib(field []byte) uint64 {
	f := bytes.Fields(field)
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseUint(string(f[0]), 10, 64)
	return v * 1024
}

// machine describes where the bench runs.
func machine() string {
	model := "unknown"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if k, v, ok := bytes.Cut(sc.Bytes(), []byte(":")); ok && string(bytes.TrimSpace(k)) == "model name" {
				model = string(bytes.TrimSpace(v))
				break
			}
		}
	}
	load := ", load average at start " + loadavg()
	return fmt.Sprintf("%d CPUs (runtime.NumCPU), %q, %s %s/%s, GOMAXPROCS %d%s",
		runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), load)
}

// pct returns the q-quantile (nearest rank) of ds; ds is sorted in place.
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := int(q*float64(len(ds))+0.5) - 1
	i = max(0, min(i, len(ds)-1))
	return ds[i]
}

func fmtDur(d time.Duration) string {
	switch {
	case d == 0:
		return "-"
	case d < time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 100*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f s", d.Seconds())
	}
}

func mib(b uint64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }

// systemBusy is the CPU time all processes used since boot (/proc/stat).
func systemBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return 0
	}
	var ticks uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} { // user nice system irq softirq steal
		v, _ := strconv.ParseUint(string(f[i]), 10, 64)
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// foreignMeter measures the CPU that other processes used while a run lasted.
type foreignMeter struct {
	sys, self time.Duration
	start     time.Time
}

func startForeign() foreignMeter {
	return foreignMeter{sys: systemBusy(), self: cpuTime(), start: time.Now()}
}

// share returns the CPU other processes used as a share of the machine's
// capacity over the run; childCPU is CPU of our child process in the run.
func (m foreignMeter) share(childCPU time.Duration) float64 {
	el := time.Since(m.start)
	if el <= 0 {
		return 0
	}
	other := systemBusy() - m.sys - (cpuTime() - m.self) - childCPU
	return max(0, float64(other)/(float64(el)*float64(runtime.NumCPU())))
}

func loadavg() string {
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := bytes.Fields(b); len(f) >= 3 {
			return fmt.Sprintf("%s %s %s", f[0], f[1], f[2])
		}
	}
	return "unknown"
}

// fsyncProbe times 50 fdatasync calls after 4 KiB writes in dir: what one
// durable journal commit costs at least on this disk right now.
func fsyncProbe(dir string) string {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return "unknown"
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var ds []time.Duration
	for i := range 50 {
		if _, err := f.WriteAt(buf, int64(i)*4096); err != nil {
			return "unknown"
		}
		t0 := time.Now()
		if err := syscall.Fdatasync(int(f.Fd())); err != nil {
			return "unknown"
		}
		ds = append(ds, time.Since(t0))
	}
	return fmt.Sprintf("p50 %s, p99 %s", fmtDur(pct(ds, 0.5)), fmtDur(pct(ds, 0.99)))
}
