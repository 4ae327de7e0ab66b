package depcheck

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/imagestream-bridge/imagestream-bridge"

// graph maps an import path to the paths it imports, for every package the
// module's packages depend on (tests excluded: they may cross the lines).
type graph map[string][]string

func loadGraph(t *testing.T) graph {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}{{range .Imports}} {{.}}{{end}}", module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	g := graph{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		g[f[0]] = f[1:]
	}
	return g
}

// path returns an import chain from pkg to a dependency for which bad is
// true, or nil when there is none.
func (g graph) path(pkg string, bad func(string) bool) []string {
	from := map[string]string{pkg: ""}
	queue := []string{pkg}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, imp := range g[p] {
			if _, ok := from[imp]; ok {
				continue
			}
			from[imp] = p
			if bad(imp) {
				chain := []string{imp}
				for q := p; q != ""; q = from[q] {
					chain = append([]string{q}, chain...)
				}
				return chain
			}
			queue = append(queue, imp)
		}
	}
	return nil
}

func ours(p string) (string, bool) {
	if p == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(p, module+"/")
	return rel, ok
}

// TestImports pins the graph, transitively: each package may reach only the
// packages of ours listed for it, and never the banned outside ones.
func TestImports(t *testing.T) {
	g := loadGraph(t)
	for _, rule := range []struct {
		pkg string
		// may lists the packages of ours pkg may depend on; nil means any not in mayNot.
		may    []string
		mayNot []string
		// banned are outside import path prefixes.
		banned []string
	}{
		// The leaves import nothing of ours.
		{pkg: "event", may: []string{}},
		{pkg: "reload", may: []string{}},
		// config is below the webhook: it validates a registry's sender against event's closed
		// list (event.Senders), which webhook/sender's table is keyed by; it never reaches webhook/...
		{pkg: "config", may: []string{"event"}},
		{pkg: "webhook/sender", may: []string{"event"}},
		{pkg: "queue", may: []string{}},
		// The retired journal takes the default cluster's name from config (the one declaration).
		// The retired journal reads its records as the domain's jobs, to be imported once.
		{pkg: "journal", may: []string{"bridge", "bridge/mapping", "config", "event", "queue", "reload"}},
		// The event log implements the domain's Log in NATS JetStream; it never reaches the server.
		// The log implements the domain's Log; it reads the retired journal only to import it.
		{pkg: "eventlog", may: []string{"bridge", "bridge/mapping", "config", "event", "journal", "queue", "reload"},
			banned: []string{"github.com/prometheus/", "github.com/labstack/echo"}},
		{pkg: "metrics", may: []string{}},
		{pkg: "openshift", may: []string{}},
		{pkg: "bridge/mapping", may: []string{}},
		// The registry client implements the domain's Fetcher: it returns bridge.Content and
		// wraps the bridge's errors, and checks names with event's grammar; its per-sender tag
		// listing APIs are keyed by event.Sender, not by the webhook's package.
		{pkg: "registry", may: []string{"bridge", "bridge/mapping", "config", "event", "queue", "reload"},
			banned: []string{"github.com/prometheus/", "github.com/labstack/echo"}},
		// The webhook decodes and answers; it never touches the queue, the journal or the clients.
		{pkg: "webhook", may: []string{"config", "event", "reload", "webhook/sender"}},
		// The domain reports through its Observer, so it never reaches Prometheus.
		// The domain owns its types (job, log, fetcher, fetched content, fetch errors): it never
		// reaches the log's engine, the retired journal or the registry client, which implement them.
		{pkg: "bridge", may: []string{"bridge/mapping", "config", "event", "queue", "reload"},
			banned: []string{"github.com/prometheus/", "github.com/labstack/echo"}},
		// The serving binary carries no test double.
		{pkg: "app", mayNot: []string{"emulator", "sandbox", "sandbox/loopback"},
			banned: []string{"github.com/distribution/distribution/v3/registry"}},
		{pkg: "cmd/imagestream-bridge", mayNot: []string{"emulator", "sandbox", "sandbox/loopback"},
			banned: []string{"github.com/distribution/distribution/v3/registry"}},
	} {
		pkg := module + "/" + rule.pkg
		if _, ok := g[pkg]; !ok {
			t.Errorf("%s: not in the module", rule.pkg)
			continue
		}
		bad := func(p string) bool {
			if rel, ok := ours(p); ok {
				if rule.may != nil {
					return !slices.Contains(rule.may, rel)
				}
				return slices.Contains(rule.mayNot, rel)
			}
			for _, b := range rule.banned {
				if p == strings.TrimSuffix(b, "/") || strings.HasPrefix(p, b) || strings.HasPrefix(p, b+"/") {
					return true
				}
			}
			return false
		}
		if chain := g.path(pkg, bad); chain != nil {
			t.Errorf("%s must not depend on %s:\n\t%s", rule.pkg, chain[len(chain)-1], strings.Join(chain, "\n\t"))
		}
	}
}
