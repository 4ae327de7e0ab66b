package charts

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The rules of grafana's dashboard-linter (github.com/grafana/dashboard-linter, run with
// --strict) that apply to this dashboard, encoded here because the linter cannot be
// installed with `go install` on a fresh machine, plus the issue's own (item 11).

// lintDashboard is the part of the dashboard model the rules read.
type lintDashboard struct {
	Title      string      `json:"title"`
	Editable   *bool       `json:"editable"`
	Panels     []lintPanel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
			IncludeAll bool   `json:"includeAll"`
			Multi      bool   `json:"multi"`
			AllValue   string `json:"allValue"`
		} `json:"list"`
	} `json:"templating"`
}

type lintPanel struct {
	Type        string `json:"type"`
	Title       string `json:"title"`
	FieldConfig struct {
		Defaults struct {
			Unit       string `json:"unit"`
			NoValue    string `json:"noValue"`
			Thresholds *struct {
				Steps []struct {
					Color string   `json:"color"`
					Value *float64 `json:"value"`
				} `json:"steps"`
			} `json:"thresholds"`
			Mappings []struct {
				Type    string `json:"type"`
				Options struct {
					Match  string `json:"match"`
					Result struct {
						Text string `json:"text"`
					} `json:"result"`
				} `json:"options"`
			} `json:"mappings"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []lintPanel `json:"panels"`
}

func flattenLint(ps []lintPanel) []lintPanel {
	var out []lintPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flattenLint(p.Panels)...)
	}
	return out
}

var (
	// selectorRE finds a vector selector with matchers: metric{...}.
	selectorRE = regexp.MustCompile(`\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\}`)
	// bareMetricRE finds a metric name not followed by matchers (outside a function call).
	bareMetricRE     = regexp.MustCompile(`\b((?:imagestream_bridge|go|process)_[a-zA-Z0-9_:]*)\b([^{a-zA-Z0-9_:]|$)`)
	increaseRateIntv = regexp.MustCompile(`increase\([^()]*\[\$__rate_interval\]\)`)
	// rangeRE finds a range-vector function over a selector and its range: rate(x{...}[5m]).
	rangeRE = regexp.MustCompile(`\b(rate|irate|increase)\(([^()]|\([^()]*\))*\[([^\]]+)\]\)`)
)

// lintConfig is the part of dashboard-linter's `.lint` file (read from the dashboard's
// directory) the test honours: per-rule exclusions, each with its reason.
type lintConfig struct {
	Exclusions map[string]struct {
		Reason  string `yaml:"reason"`
		Entries []struct {
			Reason    string `yaml:"reason"`
			Dashboard string `yaml:"dashboard"`
			Panel     string `yaml:"panel"`
		} `yaml:"entries"`
	} `yaml:"exclusions"`
}

// loadLintConfig reads the `.lint` beside the dashboard, strictly: a key the test does
// not understand would be an exclusion it silently ignores.
func loadLintConfig(t *testing.T, dir string) lintConfig {
	t.Helper()
	var c lintConfig
	b, err := os.ReadFile(filepath.Join(dir, ".lint"))
	if errors.Is(err, os.ErrNotExist) {
		return c
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		t.Fatalf("decode .lint: %v", err)
	}
	for rule, ex := range c.Exclusions {
		if len(ex.Entries) == 0 {
			t.Errorf(".lint: %s is excluded for every panel: name the panels (entries), as upstream advises", rule)
		}
		for _, e := range ex.Entries {
			if ex.Reason == "" && e.Reason == "" {
				t.Errorf(".lint: %s exclusion of panel %q has no reason", rule, e.Panel)
			}
		}
	}
	return c
}

// excluded reports whether .lint excludes rule for the panel, matching as the linter
// does (an empty field matches anything); used records the match so a stale entry shows.
func (c lintConfig) excluded(rule, dashboard, panel string, used map[string]bool) bool {
	for _, e := range c.Exclusions[rule].Entries {
		if (e.Dashboard == "" || e.Dashboard == dashboard) && (e.Panel == "" || e.Panel == panel) {
			used[rule+"/"+e.Panel] = true
			return true
		}
	}
	return false
}

func TestDashboardLint(t *testing.T) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d lintDashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	// template-datasource-rule, template-job-rule, template-instance-rule.
	if d.Editable == nil || *d.Editable {
		t.Error("editable must be false: a provisioned dashboard's edits are lost on the next sync")
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type == "query" && v.IncludeAll && v.AllValue != ".+" {
			t.Errorf("variable %s: allValue %q, want \".+\" (\".*\" also matches series without the label)", v.Name, v.AllValue)
		}
		if v.Name == "job" && (v.Type != "query" || !v.IncludeAll || !v.Multi) {
			t.Errorf("variable job must be a multi-value query with All")
		}
	}
	for _, want := range []string{"datasource", "job", "namespace", "instance"} {
		if !vars[want] {
			t.Errorf("no %s template variable", want)
		}
	}
	for _, v := range d.Templating.List {
		if v.Name == "namespace" || v.Name == "instance" {
			if !strings.Contains(v.Definition, `job=~"$job"`) {
				t.Errorf("variable %s does not follow $job: %s", v.Name, v.Definition)
			}
		}
	}

	lintCfg := loadLintConfig(t, filepath.Dir(dashboardFile))
	usedExclusions := map[string]bool{}
	for _, p := range flattenLint(d.Panels) {
		if p.Type == "row" {
			continue
		}
		// panel-units-rule: every value panel says what it shows.
		if p.FieldConfig.Defaults.Unit == "" {
			t.Errorf("panel %q has no unit", p.Title)
		}
		for _, tg := range p.Targets {
			e := tg.Expr
			// target-job-rule and target-instance-rule: every selector is scoped by the variables.
			for _, m := range selectorRE.FindAllStringSubmatch(e, -1) {
				if !strings.Contains(m[2], `job=~"$job"`) || !strings.Contains(m[2], `instance=~"$instance"`) {
					t.Errorf("panel %q: selector %s lacks job=~\"$job\" or instance=~\"$instance\"", p.Title, m[0])
				}
			}
			for _, m := range bareMetricRE.FindAllStringSubmatch(e, -1) {
				t.Errorf("panel %q: %s has no matchers (job, instance)", p.Title, m[1])
			}
			// target-rate-interval-rule: upstream's code refuses rate and irate over any
			// range but $__rate_interval; its rule doc names increase too, and so does this
			// test. A subquery ([1h:5m]) is not a range selector: upstream skips it.
			for _, m := range rangeRE.FindAllStringSubmatch(e, -1) {
				if m[3] == "$__rate_interval" || strings.Contains(m[3], ":") ||
					lintCfg.excluded("target-rate-interval-rule", d.Title, p.Title, usedExclusions) {
					continue
				}
				fix := "use [$__rate_interval]"
				if m[1] == "increase" {
					fix = "use rate over [$__rate_interval]" // increase over it changes with the zoom
				}
				t.Errorf("panel %q: %s over [%s]: %s, or exclude the panel from "+
					"target-rate-interval-rule in dashboards/.lint with the reason", p.Title, m[1], m[3], fix)
			}
			// increase over $__rate_interval changes with the zoom level: a fixed window or rate.
			if increaseRateIntv.MatchString(e) {
				t.Errorf("panel %q: %s: increase over $__rate_interval depends on the zoom; use a fixed window or rate", p.Title, e)
			}
		}
	}

	for rule, ex := range lintCfg.Exclusions {
		for _, e := range ex.Entries {
			if !usedExclusions[rule+"/"+e.Panel] {
				t.Errorf(".lint: %s exclusion of panel %q excuses nothing: drop it", rule, e.Panel)
			}
		}
	}

	byTitle := map[string]lintPanel{}
	for _, p := range flattenLint(d.Panels) {
		byTitle[p.Title] = p
	}
	if u := byTitle["CPU"].FieldConfig.Defaults.Unit; u == "none" || u == "short" || u == "" {
		t.Errorf("CPU panel unit %q: cores need a unit (percentunit: 1 = one core)", u)
	}
	// "Since last reconciliation": never green when no run ever succeeded.
	since := byTitle["Since last reconciliation"]
	if len(since.Targets) != 1 || !strings.Contains(since.Targets[0].Expr, "> 0") {
		t.Errorf("Since last reconciliation: %v: the timestamp is 0 until a run succeeds, and time() - 0 is 57 years; filter it (> 0)", since.Targets)
	}
	never := since.FieldConfig.Defaults.NoValue == "never"
	for _, m := range since.FieldConfig.Defaults.Mappings {
		never = never || m.Type == "special" && (m.Options.Match == "null" || m.Options.Match == "null+nan") && m.Options.Result.Text == "never"
	}
	if !never {
		t.Error(`Since last reconciliation does not show "never" when no run succeeded (noValue or a null mapping)`)
	}
	if th := since.FieldConfig.Defaults.Thresholds; th == nil || len(th.Steps) < 2 || th.Steps[0].Color != "green" || th.Steps[len(th.Steps)-1].Color != "red" {
		t.Errorf("Since last reconciliation thresholds %+v: want green, then red when runs are overdue", th)
	}
}
