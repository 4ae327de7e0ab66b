package main

import (
	"strings"
	"testing"
)

// TestActivityPanelsExist: every panel promcheck requires to show activity is
// in the dashboard under that title, so a renamed panel fails make test, not
// only make promcheck; and no Grafana variable survives the translation.
func TestActivityPanelsExist(t *testing.T) {
	queries, err := loadQueries("../../charts/imagestream-bridge/dashboards/imagestream-bridge.json",
		"../../charts/imagestream-bridge/alerts/imagestream-bridge.rules.yaml")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, q := range queries {
		found[q.Panel] = true
		if strings.Contains(q.Expr, "$") {
			t.Errorf("%s: a Grafana variable is left in %q", q.Source, q.Expr)
		}
	}
	for _, title := range activityPanels {
		if !found[title] {
			t.Errorf("activity panel %q is not in the dashboard (renamed? update activityPanels)", title)
		}
	}
}
