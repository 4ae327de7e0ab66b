package charts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

func nested[T any](t *testing.T, u *unstructured.Unstructured, path ...string) T {
	t.Helper()
	v, ok, err := unstructured.NestedFieldNoCopy(u.Object, path...)
	if err != nil || !ok {
		t.Fatalf("%s: no %s", objKey(u), strings.Join(path, "."))
	}
	out, ok := v.(T)
	if !ok {
		t.Fatalf("%s: %s is %T", objKey(u), strings.Join(path, "."), v)
	}
	return out
}

// checkPrometheusRule compares the PrometheusRule with the plain rule file it ships.
func checkPrometheusRule(t *testing.T, m manifests, extraLabels map[string]string) {
	t.Helper()
	pr := m.mustFind(t, "PrometheusRule", fullname)
	b, err := os.ReadFile(filepath.Join(chartDir, "alerts", "imagestream-bridge.rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []map[string]any `json:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for _, g := range file.Groups {
		for _, r := range g["rules"].([]any) {
			labels := r.(map[string]any)["labels"].(map[string]any)
			for k, v := range extraLabels {
				labels[k] = v
			}
		}
	}
	want, _ := json.Marshal(file.Groups)
	got, _ := json.Marshal(nested[[]any](t, pr, "spec", "groups"))
	if diff := cmp.Diff(jsonValue(t, want), jsonValue(t, got)); diff != "" {
		t.Errorf("PrometheusRule groups differ from the rule file (-file +rendered):\n%s", diff)
	}
}

func jsonValue(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func checkDashboards(t *testing.T, m manifests) {
	t.Helper()
	cm := typed[corev1.ConfigMap](t, m.mustFind(t, "ConfigMap", fullname+"-dashboards"))
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("dashboards ConfigMap labels %v: want grafana_dashboard: \"1\"", cm.Labels)
	}
	files, err := filepath.Glob(filepath.Join(chartDir, "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards: %v", err)
	}
	if len(cm.Data) != len(files) {
		t.Errorf("ConfigMap has %d dashboards, dashboards/ %d", len(cm.Data), len(files))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := cm.Data[filepath.Base(f)]
		if !ok {
			t.Errorf("dashboard %s missing from the ConfigMap", filepath.Base(f))
			continue
		}
		if diff := cmp.Diff(jsonValue(t, b), jsonValue(t, []byte(got))); diff != "" {
			t.Errorf("dashboard %s differs in the ConfigMap:\n%s", filepath.Base(f), diff)
		}
	}
}

// checkNotes asserts the registry configuration snippet NOTES.txt prints for each registry.
func checkNotes(t *testing.T, notes, scheme string, registries []string) {
	t.Helper()
	for _, want := range []string{
		"notifications:\n  events:\n    includereferences: true\n  endpoints:\n    - name: " + fullname + "\n",
		"      headers:\n        Authorization: [Bearer TOKEN]\n      timeout: 2s\n      threshold: 5\n      backoff: 1s\n" +
			"      ignoredmediatypes: [application/octet-stream]\n      ignore:\n        actions: [pull, mount]\n",
	} {
		if strings.Count(notes, want) != len(registries) {
			t.Errorf("NOTES.txt has %q %d times, want %d:\n%s", want, strings.Count(notes, want), len(registries), notes)
		}
	}
	for _, r := range registries {
		url := "      url: " + scheme + "://" + fullname + "." + releaseNS + ".svc:8080/notifications/" + r + "\n"
		if !strings.Contains(notes, url) {
			t.Errorf("NOTES.txt lacks %q:\n%s", url, notes)
		}
		if !strings.Contains(notes, "jsonpath='{.data."+r+"-webhook-token}'") {
			t.Errorf("NOTES.txt does not say how to read the token of %s", r)
		}
	}
	// The snippet must be YAML the registry can load.
	for _, part := range strings.Split(notes, "# registry ")[1:] {
		snippet := part[strings.Index(part, "\n")+1 : strings.Index(part, "\nTOKEN for")]
		var v struct {
			Notifications struct {
				Endpoints []struct {
					URL     string              `json:"url"`
					Headers map[string][]string `json:"headers"`
				} `json:"endpoints"`
			} `json:"notifications"`
		}
		if err := yaml.Unmarshal([]byte(snippet), &v); err != nil || len(v.Notifications.Endpoints) != 1 ||
			v.Notifications.Endpoints[0].Headers["Authorization"][0] != "Bearer TOKEN" {
			t.Errorf("snippet is not the expected YAML (%v):\n%s", err, snippet)
		}
	}
}
