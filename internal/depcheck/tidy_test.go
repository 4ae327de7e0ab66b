package depcheck

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// modules are the repository's Go modules: the service, and the chart's tests
// (charts/go.mod: Helm and prometheus-operator stay out of the service's graph).
var modules = []struct{ name, dir string }{{"service", "../.."}, {"charts", "../../charts"}}

// TestModTidy keeps each module's go.mod and go.sum as `go mod tidy` leaves them:
// a dependency used directly is listed as direct, none is left that nothing imports.
// It runs offline (GOPROXY=off): it needs the module cache CI fills with `go mod
// download`, and skips when a module is missing from it rather than reach the network.
func TestModTidy(t *testing.T) {
	for _, m := range modules {
		t.Run(m.name, func(t *testing.T) {
			cmd := exec.Command("go", "mod", "tidy", "-diff")
			cmd.Dir = m.dir
			cmd.Env = append(os.Environ(), "GOPROXY=off")
			out, err := cmd.CombinedOutput()
			if err == nil {
				return
			}
			if s := string(out); strings.Contains(s, "GOPROXY=off") || strings.Contains(s, "module lookup disabled") {
				t.Skipf("go mod tidy needs modules missing from the cache (run go mod download):\n%s", out)
			}
			t.Errorf("%s: go.mod or go.sum is not tidy (run go mod tidy in %s): %v\n%s", m.name, m.dir, err, out)
		})
	}
}

// TestServiceModuleLeavesOutChartTools: Helm and prometheus-operator are the
// chart tests' (charts/go.mod), not in the service's module graph.
func TestServiceModuleLeavesOutChartTools(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "all").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -m all: %v\n%s", err, out)
	}
	for _, mod := range strings.Fields(string(out)) {
		if mod == "helm.sh/helm/v3" || strings.HasPrefix(mod, "github.com/prometheus-operator/") {
			t.Errorf("the service's module graph has %s: keep it in charts/go.mod", mod)
		}
	}
}
