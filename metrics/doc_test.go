package metrics

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
)

// TestDocumentedMetricsMatch checks docs/metrics.md against what /metrics serves.
func TestDocumentedMetricsMatch(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, "test", []string{"main"})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		if !strings.HasPrefix(name, Namespace+"_") {
			t.Errorf("metric %s lacks the %s_ prefix", name, Namespace)
		}
		if strings.HasPrefix(name, Namespace+"_go_") || strings.HasPrefix(name, Namespace+"_process_") {
			continue // documented as collector families
		}
		served[name] = true
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
	for _, fam := range []string{"imagestream_bridge_go_*", "imagestream_bridge_process_*"} {
		if !strings.Contains(string(doc), "`"+fam+"`") {
			t.Errorf("docs/metrics.md does not mention %s", fam)
		}
	}
}

// TestSeriesExistAtZero checks that per-registry series are pre-created.
func TestSeriesExistAtZero(t *testing.T) {
	reg := prometheus.NewRegistry()
	New(reg, "test", []string{"main", "edge"})
	families, _ := reg.Gather()
	count := map[string]int{}
	for _, f := range families {
		count[f.GetName()] = len(f.GetMetric())
	}
	// 2 registries x 5 actions x 4 outcomes
	if count["imagestream_bridge_events_total"] != 40 {
		t.Errorf("events_total has %d series, want 40", count["imagestream_bridge_events_total"])
	}
	if count["imagestream_bridge_permanent_failures_total"] != 2*len(FailureReasons) {
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
