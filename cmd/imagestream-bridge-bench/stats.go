package main

import (
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/prometheus/procfs"
)

// procStats is a snapshot of one process.
type procStats struct {
	// CPU is user plus system time since the process started (/proc/self/stat).
	CPU time.Duration `json:"cpuNs"`
	// Mallocs and TotalAlloc are cumulative (runtime.MemStats); HeapAlloc is
	// the live heap when a GC was asked for.
	Mallocs    uint64 `json:"mallocs"`
	TotalAlloc uint64 `json:"totalAlloc"`
	HeapAlloc  uint64 `json:"heapAlloc"`
	Goroutines int    `json:"goroutines"`
	// VmRSS, VmHWM and RssAnon (the anonymous part of VmRSS: heap, stacks) from
	// /proc/self/status, in bytes.
	VmRSS   uint64 `json:"vmRSS"`
	VmHWM   uint64 `json:"vmHWM"`
	RssAnon uint64 `json:"rssAnon"`
}

// proc is /proc (on a machine without it every read fails and the figures are 0).
var proc, _ = procfs.NewDefaultFS()

// readProcStats snapshots this process; gc collects first so that HeapAlloc
// is the live heap; light skips runtime.ReadMemStats (it stops the world).
func readProcStats(gc, light bool) procStats {
	if gc {
		runtime.GC()
	}
	s := procStats{Goroutines: runtime.NumGoroutine(), CPU: selfCPU()}
	if !light {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		s.Mallocs, s.TotalAlloc, s.HeapAlloc = ms.Mallocs, ms.TotalAlloc, ms.HeapAlloc
	}
	if p, err := proc.Self(); err == nil {
		if st, err := p.NewStatus(); err == nil {
			s.VmRSS, s.VmHWM, s.RssAnon = st.VmRSS, st.VmHWM, st.RssAnon
		}
	}
	return s
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// selfCPU is this process's user plus system time.
func selfCPU() time.Duration {
	p, err := proc.Self()
	if err != nil {
		return 0
	}
	st, err := p.Stat()
	if err != nil {
		return 0
	}
	return seconds(st.CPUTime())
}

// machineBusy is the CPU time all processes used since boot (/proc/stat).
func machineBusy() time.Duration {
	st, err := proc.Stat()
	if err != nil {
		return 0
	}
	c := st.CPUTotal
	return seconds(c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal)
}

// foreignMeter measures the CPU that other processes used while a run lasted.
type foreignMeter struct {
	busy, self time.Duration
	start      time.Time
}

func startForeign() foreignMeter {
	return foreignMeter{busy: machineBusy(), self: selfCPU(), start: time.Now()}
}

// share is the CPU other processes used as a share of the machine over the
// run; childCPU is what our child process used in it.
func (m foreignMeter) share(childCPU time.Duration) float64 {
	el := time.Since(m.start)
	other := machineBusy() - m.busy - (selfCPU() - m.self) - childCPU
	return max(0, float64(other)/(float64(el)*float64(runtime.NumCPU())))
}

// machine describes where the bench runs.
func machine() string {
	model := "unknown"
	if ci, err := proc.CPUInfo(); err == nil && len(ci) > 0 {
		model = ci[0].ModelName
	}
	return fmt.Sprintf("%d CPUs (runtime.NumCPU), %q, %s %s/%s, GOMAXPROCS %d, load average at start %s",
		runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, runtime.GOMAXPROCS(0), loadavg())
}

func loadavg() string {
	l, err := proc.LoadAvg()
	if err != nil {
		return "unknown"
	}
	return fmt.Sprintf("%.2f %.2f %.2f", l.Load1, l.Load5, l.Load15)
}

// pct returns the q-quantile (nearest rank) of ds; ds is sorted in place.
func pct(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[max(0, min(int(q*float64(len(ds))+0.5)-1, len(ds)-1))]
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
