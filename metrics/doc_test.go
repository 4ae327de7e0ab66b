package metrics

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// TestDocumentedMetricsMatch checks docs/metrics.md against what /metrics serves.
func TestDocumentedMetricsMatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, "test", testLabels("main"))
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	standard := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		// The Go and process collectors keep their standard names, which the usual Go/process
		// dashboards and alerts query; every metric of ours carries the prefix.
		if strings.HasPrefix(name, "go_") || strings.HasPrefix(name, "process_") {
			standard[name] = true
			continue
		}
		if !strings.HasPrefix(name, Namespace+"_") {
			t.Errorf("metric %s lacks the %s_ prefix", name, Namespace)
		}
		served[name] = true
	}
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if !standard[name] {
			t.Errorf("standard metric %s is not served", name)
		}
	}
	doc, err := os.ReadFile("../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(imagestream_bridge_[a-z0-9_]+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	if diff := cmp.Diff(keys(documented), keys(served)); diff != "" {
		t.Errorf("docs/metrics.md (-) and /metrics (+) differ:\n%s", diff)
	}
	for _, fam := range []string{"go_*", "process_*"} {
		if !strings.Contains(string(doc), "`"+fam+"`") {
			t.Errorf("docs/metrics.md does not mention %s", fam)
		}
	}
}

// TestSeriesExistAtZero checks that per-registry series are pre-created.
func TestSeriesExistAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, "test", testLabels("main", "edge"))
	families, _ := reg.Gather()
	count := map[string]int{}
	for _, f := range families {
		count[f.GetName()] = len(f.GetMetric())
	}
	// 2 registries x 6 actions x 4 outcomes
	if count["imagestream_bridge_events_total"] != 48 {
		t.Errorf("events_total has %d series, want 48", count["imagestream_bridge_events_total"])
	}
	if count["imagestream_bridge_registry_info"] != 2 {
		t.Errorf("registry_info has %d series, want 2", count["imagestream_bridge_registry_info"])
	}
	if count["imagestream_bridge_permanent_failures_total"] != 2*len(bridge.FailureReasons()) {
		t.Errorf("permanent_failures_total has %d series", count["imagestream_bridge_permanent_failures_total"])
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// testLabels are the label sets app passes, from the bridge's own lists.
func testLabels(registries ...string) Labels {
	senders := map[string]string{}
	for _, r := range registries {
		senders[r] = "distribution"
	}
	return Labels{Registries: registries, Senders: senders, SkipReasons: bridge.SkipReasons(), FailureReasons: bridge.FailureReasons(),
		RetryReasons: bridge.RetryReasons(), Stages: bridge.Stages(), DerivedResults: bridge.DerivedResults()}
}
