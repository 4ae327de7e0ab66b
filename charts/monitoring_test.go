package charts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"sigs.k8s.io/yaml"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
)

var (
	dashboardFile = filepath.Join(chartDir, "dashboards", "imagestream-bridge.json")
	rulesFile     = filepath.Join(chartDir, "alerts", "imagestream-bridge.rules.yaml")
	metricNameRE  = regexp.MustCompile(`\b(?:imagestream_bridge|go|process)_[a-zA-Z0-9_:]*`)
)

// exposedMetrics is every series name the bridge exposes: the families of a registry on
// which metrics.New registered everything, with _bucket/_sum/_count for histograms and
// _sum/_count for summaries.
func exposedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	reg := prometheus.NewRegistry()
	metrics.New(reg, "test", metrics.Labels{Registries: []string{"main"}, SkipReasons: bridge.SkipReasons(),
		FailureReasons: bridge.FailureReasons(), RetryReasons: bridge.RetryReasons(), Stages: bridge.Stages(),
		DerivedResults: bridge.DerivedResults()})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, f := range families {
		name := f.GetName()
		out[name] = true
		switch f.GetType() {
		case dto.MetricType_HISTOGRAM, dto.MetricType_GAUGE_HISTOGRAM:
			out[name+"_bucket"], out[name+"_sum"], out[name+"_count"] = true, true, true
		case dto.MetricType_SUMMARY:
			out[name+"_sum"], out[name+"_count"] = true, true
		}
	}
	return out
}

// checkMetricNames fails for every imagestream_bridge_, go_ and process_ name in exprs the bridge does not expose.
func checkMetricNames(t *testing.T, where string, exprs []string) map[string]bool {
	t.Helper()
	exposed := exposedMetrics(t)
	used := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricNameRE.FindAllString(e, -1) {
			used[name] = true
			if !exposed[name] {
				t.Errorf("%s uses %s, which the bridge does not expose (expression: %s)", where, name, e)
			}
		}
	}
	if len(used) == 0 {
		t.Errorf("%s uses no imagestream_bridge_ metric at all", where)
	}
	return used
}

// dashboard is the part of Grafana's dashboard model the tests look at.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
			Datasource *struct {
				Type string `json:"type"`
				UID  string `json:"uid"`
			} `json:"datasource"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("%s is not a dashboard: %v", dashboardFile, err)
	}
	return d
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

func TestDashboardMetricsExist(t *testing.T) {
	d := loadDashboard(t)
	var exprs []string
	for _, p := range flatten(d.Panels) {
		for _, tg := range p.Targets {
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		exprs = append(exprs, v.Definition)
	}
	used := checkMetricNames(t, dashboardFile, exprs)
	// The panels the dashboard exists for.
	for _, name := range []string{
		"imagestream_bridge_mappings_total", "imagestream_bridge_push_to_mapped_seconds_bucket",
		"imagestream_bridge_ack_duration_seconds_bucket", "imagestream_bridge_events_skipped_total",
		"imagestream_bridge_permanent_failures_total", "imagestream_bridge_queue_depth", "imagestream_bridge_queue_capacity",
		"imagestream_bridge_retries_total", "imagestream_bridge_api_request_duration_seconds_bucket",
		"imagestream_bridge_registry_fetch_duration_seconds_bucket", "imagestream_bridge_cache_requests_total",
		"imagestream_bridge_resync_drift_total", "imagestream_bridge_resync_runs_total", "imagestream_bridge_leader",
		"imagestream_bridge_journal_size_bytes", "process_resident_memory_bytes", "process_cpu_seconds_total", "go_goroutines",
	} {
		if !used[name] {
			t.Errorf("no panel shows %s", name)
		}
	}
}

func TestDashboardModel(t *testing.T) {
	d := loadDashboard(t)
	if d.UID == "" || d.Title == "" {
		t.Errorf("uid %q, title %q: both are needed for provisioning", d.UID, d.Title)
	}
	vars := map[string]string{}
	for _, v := range d.Templating.List {
		vars[v.Name] = v.Type
		if v.Type == "query" && (v.Datasource == nil || v.Datasource.UID != "${datasource}") {
			t.Errorf("variable %s does not query the $datasource", v.Name)
		}
	}
	if vars["datasource"] != "datasource" || vars["namespace"] != "query" || vars["instance"] != "query" {
		t.Errorf("template variables %v: want datasource, namespace and instance", vars)
	}
	ids := map[int]bool{}
	titles := map[string]bool{}
	for _, p := range flatten(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.GridPos == nil || p.GridPos.W == 0 || p.GridPos.H == 0 || p.GridPos.X+p.GridPos.W > 24 {
			t.Errorf("panel %q: bad gridPos %+v", p.Title, p.GridPos)
		}
		if p.Type == "row" {
			continue
		}
		if titles[p.Title] {
			t.Errorf("panel title %q used twice (promcheck finds panels by title)", p.Title)
		}
		titles[p.Title] = true
		if p.Datasource == nil || p.Datasource.Type != "prometheus" || p.Datasource.UID != "${datasource}" {
			t.Errorf("panel %q does not use the $datasource variable", p.Title)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			e := tg.Expr
			if strings.Contains(e, "imagestream_bridge_") && (!strings.Contains(e, `namespace=~"$namespace"`) || !strings.Contains(e, `instance=~"$instance"`)) {
				t.Errorf("panel %q: %s ignores the namespace or instance variable", p.Title, e)
			}
			if strings.Contains(e, "rate(") && !strings.Contains(e, "[$__rate_interval]") {
				t.Errorf("panel %q: %s: use [$__rate_interval] for rates", p.Title, e)
			}
		}
	}
}

// ruleFile is Prometheus's rule-file format.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []struct {
			Alert       string            `json:"alert"`
			Record      string            `json:"record"`
			Expr        string            `json:"expr"`
			For         string            `json:"for"`
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
		} `json:"rules"`
	} `json:"groups"`
}

func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	var exprs, names []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
			names = append(names, r.Alert)
			switch r.Labels["severity"] {
			case "info", "warning", "critical":
			default:
				t.Errorf("alert %s: severity %q, want info, warning or critical", r.Alert, r.Labels["severity"])
			}
			if r.Alert == "" || r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("rule %+v: needs alert, summary and description", r)
			}
		}
	}
	checkMetricNames(t, rulesFile, exprs)
	sort.Strings(names)
	for _, want := range []string{
		"ImagestreamBridgePermanentFailures", "ImagestreamBridgeQueueNearlyFull", "ImagestreamBridgeNoLeader",
		"ImagestreamBridgeDriftFound", "ImagestreamBridgePushToTagLatencyHigh", "ImagestreamBridgeResyncFailing",
		"ImagestreamBridgeDown", "ImagestreamBridgeAbsent",
	} {
		if i := sort.SearchStrings(names, want); i == len(names) || names[i] != want {
			t.Errorf("alert %s missing; have %v", want, names)
		}
	}
	for i := 1; i < len(names); i++ {
		if names[i] == names[i-1] {
			t.Errorf("alert %s defined twice", names[i])
		}
	}
}

// TestPrometheusRuleDisable checks prometheusRule.disabled removes exactly the named alert.
func TestPrometheusRuleDisable(t *testing.T) {
	m := render(t, "prometheusRule: {enabled: true, disabled: {ImagestreamBridgeDriftFound: true}}")
	pr := m.mustFind(t, "PrometheusRule", fullname)
	b, _ := json.Marshal(nested[[]any](t, pr, "spec", "groups"))
	if strings.Contains(string(b), "ImagestreamBridgeDriftFound") || !strings.Contains(string(b), "ImagestreamBridgeNoLeader") {
		t.Errorf("rendered groups: %s", b)
	}
}

// runbookBase is where every alert's runbook_url points by default: the troubleshooting
// page in the project's repository (Chart.yaml's home), one anchor per alert.
const runbookBase = "https://github.com/imagestream-bridge/imagestream-bridge/blob/main/docs/troubleshooting.md#"

// githubAnchor is the anchor GitHub gives a markdown heading.
func githubAnchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(strings.TrimSpace(heading)) {
		switch {
		case r == ' ':
			b.WriteRune('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
		}
	}
	return b.String()
}

// TestAlertRunbooksAndCounts checks every alert links a runbook section that exists in
// docs/troubleshooting.md, and that counts over a window print as whole numbers.
func TestAlertRunbooksAndCounts(t *testing.T) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var f ruleFile
	if err := yaml.UnmarshalStrict(b, &f); err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile(filepath.Join("..", "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for _, l := range strings.Split(string(doc), "\n") {
		if h, ok := strings.CutPrefix(l, "#"); ok {
			anchors[githubAnchor(strings.TrimLeft(h, "#"))] = true
		}
	}
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			u := r.Annotations["runbook_url"]
			anchor, ok := strings.CutPrefix(u, runbookBase)
			if !ok {
				t.Errorf("alert %s: runbook_url %q does not start with %s", r.Alert, u, runbookBase)
			} else if !anchors[anchor] {
				t.Errorf("alert %s: runbook_url anchor #%s is not a heading of docs/troubleshooting.md", r.Alert, anchor)
			}
			// increase() extrapolates (3.809 rejected notifications): print whole counts.
			if strings.Contains(r.Expr, "increase(") {
				for name, a := range r.Annotations {
					if strings.Contains(a, "$value | humanize ") || strings.Contains(a, "$value | humanize}") {
						t.Errorf("alert %s: annotation %s prints the count with humanize; use printf \"%%.0f\"", r.Alert, name)
					}
				}
			}
		}
	}
}

// TestPrometheusRuleRunbookBase checks prometheusRule.runbookBaseURL moves every runbook_url.
func TestPrometheusRuleRunbookBase(t *testing.T) {
	m := render(t, "prometheusRule: {enabled: true, runbookBaseURL: 'https://wiki.example.com/isb#'}")
	pr := m.mustFind(t, "PrometheusRule", fullname)
	n := 0
	for _, g := range nested[[]any](t, pr, "spec", "groups") {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			u, _ := r.(map[string]any)["annotations"].(map[string]any)["runbook_url"].(string)
			if !strings.HasPrefix(u, "https://wiki.example.com/isb#imagestreambridge") {
				t.Errorf("runbook_url %q", u)
			}
			n++
		}
	}
	if n == 0 {
		t.Error("no rules")
	}
}

// TestMonitoringStrictDecode checks every ServiceMonitor and PrometheusRule of the
// defaults, all-features and persistence value sets decodes strictly (unknown or
// duplicate fields fail, in render) into the prometheus-operator Go types, and that
// the typed objects scrape /metrics and carry every alert of the rule file.
func TestMonitoringStrictDecode(t *testing.T) {
	b, err := os.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `json:"alert"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	var wantAlerts []string
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			wantAlerts = append(wantAlerts, r.Alert)
		}
	}
	sort.Strings(wantAlerts)

	for _, tc := range []struct {
		name, values string
		monitoring   bool
		scheme       monitoringv1.Scheme
	}{
		{"defaults", "", false, ""},
		{"defaults with monitoring", "serviceMonitor: {enabled: true}\nprometheusRule: {enabled: true}\n", true, "http"},
		{"all features", allFeatures, true, "https"},
		{"persistence", allFeaturesPersistent, true, "http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, tc.values)
			var sms []*monitoringv1.ServiceMonitor
			var prs []*monitoringv1.PrometheusRule
			for key, obj := range m.decoded {
				switch o := obj.(type) {
				case *monitoringv1.ServiceMonitor:
					sms = append(sms, o)
				case *monitoringv1.PrometheusRule:
					prs = append(prs, o)
				default:
					if strings.HasPrefix(key, "ServiceMonitor/") || strings.HasPrefix(key, "PrometheusRule/") {
						t.Errorf("%s decoded as %T", key, obj)
					}
				}
			}
			if !tc.monitoring {
				if len(sms)+len(prs) != 0 {
					t.Errorf("%d ServiceMonitors and %d PrometheusRules rendered; want none", len(sms), len(prs))
				}
				return
			}
			if len(sms) != 1 || len(prs) != 1 {
				t.Fatalf("%d ServiceMonitors and %d PrometheusRules decoded; want one of each", len(sms), len(prs))
			}
			sm := sms[0]
			if sm.Name != fullname || len(sm.Spec.Endpoints) != 1 {
				t.Fatalf("ServiceMonitor %s: %d endpoints; want %s with one", sm.Name, len(sm.Spec.Endpoints), fullname)
			}
			ep := sm.Spec.Endpoints[0]
			if ep.Port != "http" || ep.Path != "/metrics" || ep.Scheme == nil || *ep.Scheme != tc.scheme ||
				ep.Interval == "" || ep.ScrapeTimeout == "" || (tc.scheme == "https") != (ep.TLSConfig != nil) {
				t.Errorf("ServiceMonitor endpoint %+v; want port http, path /metrics, scheme %s, an interval and timeout, tlsConfig with https", ep, tc.scheme)
			}
			var alerts []string
			for _, g := range prs[0].Spec.Groups {
				for _, r := range g.Rules {
					if r.Expr.String() == "" || r.Labels["severity"] == "" || r.Annotations["runbook_url"] == "" {
						t.Errorf("rule %q: expr %q, labels %v, annotations %v", r.Alert, r.Expr.String(), r.Labels, r.Annotations)
					}
					alerts = append(alerts, r.Alert)
				}
			}
			sort.Strings(alerts)
			if !slices.Equal(alerts, wantAlerts) {
				t.Errorf("PrometheusRule alerts %q; want the rule file's %q", alerts, wantAlerts)
			}
		})
	}
}
