package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// query is one PromQL expression of the dashboard or the rule file.
type query struct {
	// Source names where it comes from: `panel "Title" A`, `variable namespace`, `alert Name`.
	Source string
	// Panel is the dashboard panel's title ("" for variables and alerts).
	Panel string
	// Raw is the expression as written; Expr is what Prometheus evaluates.
	Raw, Expr string
	// Activity means the query must return a positive value while images are pushed.
	Activity bool
}

var (
	labelValuesRE = regexp.MustCompile(`^\s*label_values\((.*),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)
	variableRE    = regexp.MustCompile(`\$\{[a-zA-Z_][a-zA-Z0-9_]*(:[a-z]+)?\}|\$[a-zA-Z_][a-zA-Z0-9_]*`)
	metricNameRE  = regexp.MustCompile(`\b(?:imagestream_bridge|go|process)_[a-zA-Z0-9_:]*`)
)

// grafanaToPromQL substitutes Grafana's variables the way a dashboard with "All" selected would.
func grafanaToPromQL(expr string) string {
	for _, r := range []struct{ from, to string }{
		{"$__rate_interval", "1m"}, {"${__rate_interval}", "1m"},
		{"$__interval", "15s"}, {"${__interval}", "15s"},
		{"$__range", "5m"}, {"${__range}", "5m"},
	} {
		expr = strings.ReplaceAll(expr, r.from, r.to)
	}
	// Template variables ($namespace, $instance, ...) are used in regex matchers.
	return variableRE.ReplaceAllString(expr, ".*")
}

func loadQueries(dashboardFile, rulesFile string) ([]query, error) {
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		return nil, err
	}
	var d struct {
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name       string `json:"name"`
				Type       string `json:"type"`
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", dashboardFile, err)
	}
	activity := map[string]bool{}
	for _, t := range activityPanels {
		activity[t] = true
	}
	var out []query
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		// label_values(SELECTOR, LABEL) is Grafana's, not PromQL: evaluate the selector grouped by the label.
		m := labelValuesRE.FindStringSubmatch(v.Definition)
		if m == nil {
			return nil, fmt.Errorf("variable %s: cannot check %q", v.Name, v.Definition)
		}
		out = append(out, query{Source: "variable " + v.Name, Raw: v.Definition,
			Expr: fmt.Sprintf("count by (%s) (%s)", m[2], grafanaToPromQL(m[1])), Activity: true})
	}
	for _, p := range flattenPanels(d.Panels) {
		for _, t := range p.Targets {
			out = append(out, query{Source: fmt.Sprintf("panel %q %s", p.Title, t.RefID), Panel: p.Title,
				Raw: t.Expr, Expr: grafanaToPromQL(t.Expr), Activity: activity[p.Title]})
		}
	}

	b, err = os.ReadFile(rulesFile)
	if err != nil {
		return nil, err
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert  string `json:"alert"`
				Record string `json:"record"`
				Expr   string `json:"expr"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		return nil, fmt.Errorf("%s: %w", rulesFile, err)
	}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			out = append(out, query{Source: "alert " + r.Alert + r.Record, Raw: r.Expr, Expr: r.Expr})
		}
	}
	return out, nil
}

type dashPanel struct {
	Title   string `json:"title"`
	Targets []struct {
		Expr  string `json:"expr"`
		RefID string `json:"refId"`
	} `json:"targets"`
	Panels []dashPanel `json:"panels"`
}

func flattenPanels(ps []dashPanel) []dashPanel {
	var out []dashPanel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flattenPanels(p.Panels)...)
	}
	return out
}

// checkActivityTitles fails when an activity panel was renamed or removed.
func checkActivityTitles(qs []query) error {
	have := map[string]bool{}
	for _, q := range qs {
		have[q.Panel] = true
	}
	for _, t := range activityPanels {
		if !have[t] {
			return fmt.Errorf("activity panel %q is not in the dashboard (renamed? update activityPanels)", t)
		}
	}
	return nil
}

// evaluate runs every query and reports those that fail to evaluate, and activity
// queries without a positive value.
func evaluate(ctx context.Context, p *prometheus, qs []query) []string {
	var failed []string
	fmt.Printf("%-6s %-8s %-60s %s\n", "RESULT", "SERIES", "SOURCE", "VALUE")
	for _, q := range qs {
		res, err := p.Query(ctx, q.Expr)
		status, value := "ok", ""
		switch {
		case err != nil:
			status = "ERROR"
			failed = append(failed, fmt.Sprintf("%s does not evaluate: %v\n      %s", q.Source, err, q.Expr))
		case len(res) == 0 && q.Activity:
			status = "EMPTY"
			failed = append(failed, fmt.Sprintf("%s returns no data while images are pushed\n      %s", q.Source, q.Expr))
		case q.Activity && !anyPositive(res):
			status = "ZERO"
			failed = append(failed, fmt.Sprintf("%s has no positive value while images are pushed: %v\n      %s", q.Source, values(res), q.Expr))
		case len(res) == 0:
			status = "empty"
		}
		if err == nil && len(res) > 0 {
			value = fmt.Sprint(values(res))
		}
		fmt.Printf("%-6s %-8d %-60s %s\n", status, len(res), trunc(q.Source, 60), trunc(value, 60))
	}
	return failed
}

func anyPositive(res []sample) bool {
	for _, s := range res {
		if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) && s.Value > 0 {
			return true
		}
	}
	return false
}

// values lists up to three sample values, largest first (NaN last).
func values(res []sample) []string {
	vs := make([]float64, 0, len(res))
	for _, s := range res {
		vs = append(vs, s.Value)
	}
	sort.Slice(vs, func(i, j int) bool { return vs[i] > vs[j] || math.IsNaN(vs[j]) && !math.IsNaN(vs[i]) })
	var out []string
	for _, v := range vs {
		out = append(out, fmt.Sprintf("%.4g", v))
	}
	if len(out) > 3 {
		out = append(out[:3], fmt.Sprintf("(+%d)", len(out)-3))
	}
	return out
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// checkSeries asserts every imagestream_bridge_, go_ and process_ name used by a query has series in
// Prometheus, so that a misspelt metric cannot hide behind an alert that never fires.
func checkSeries(ctx context.Context, p *prometheus, qs []query) []string {
	names := map[string][]string{}
	for _, q := range qs {
		for _, n := range metricNameRE.FindAllString(q.Raw, -1) {
			names[n] = append(names[n], q.Source)
		}
	}
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	var failed []string
	for _, n := range sorted {
		res, err := p.Query(ctx, fmt.Sprintf(`count({__name__=%q})`, n))
		if err != nil || len(res) == 0 {
			failed = append(failed, fmt.Sprintf("metric %s has no series in Prometheus (used by %s)", n, strings.Join(names[n], ", ")))
		}
	}
	fmt.Printf("%d metric names used, %d without series\n", len(sorted), len(failed))
	return failed
}

// checkRules asserts Prometheus loaded every alert rule and evaluated it without error.
func checkRules(ctx context.Context, p *prometheus) []string {
	var rules []rule
	deadline := time.Now().Add(10 * time.Second)
	for {
		var err error
		rules, err = p.Rules(ctx)
		if err != nil {
			return []string{fmt.Sprintf("list rules: %v", err)}
		}
		evaluated := len(rules) > 0
		for _, r := range rules {
			evaluated = evaluated && !r.LastEvaluation.IsZero()
		}
		if evaluated || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(rules) == 0 {
		return []string{"prometheus loaded no rules"}
	}
	var failed []string
	for _, r := range rules {
		if r.Health != "ok" {
			failed = append(failed, fmt.Sprintf("rule %s is %q: %s", r.Name, r.Health, r.LastError))
		}
	}
	fmt.Printf("%d rules loaded, %d unhealthy\n", len(rules), len(failed))
	return failed
}
