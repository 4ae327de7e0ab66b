package config

import (
	"slices"
	"strings"
	"testing"
	"time"
)

const twoClusters = `
openshift: {kubeconfig: /k/default, qps: 50}
clusters:
  - name: stage
    kubeconfig: /k/stage
    namespaces: [team-*]
  - name: prod
    kubeconfig: /k/prod
    createImageStreams: false
    createChildImages: true
    managedImages: true
    qps: 10
    burst: 20
    timeout: 3s
registries:
  - {name: main, url: 'http://r', webhookToken: t}
  - {name: prodonly, url: 'http://p', webhookToken: t, clusters: [prod], deleteTags: true}
  - {name: both, url: 'http://b', webhookToken: t, clusters: [prod, default]}
`

// TestClusters: every key of openshift: per cluster with the same defaults,
// the default cluster first, and each registry's targets.
func TestClusters(t *testing.T) {
	c, err := Parse([]byte(twoClusters))
	if err != nil {
		t.Fatal(err)
	}
	all := c.Clusters()
	if len(all) != 3 || all[0].Name != DefaultCluster || all[1].Name != "stage" || all[2].Name != "prod" {
		t.Fatalf("clusters %+v", all)
	}
	def, stage, prod := all[0], all[1], all[2]
	if def.Kubeconfig != "/k/default" || def.QPS != 50 || def.Burst != 600 || len(def.Namespaces) != 0 {
		t.Errorf("default cluster %+v", def)
	}
	// stage: the defaults of openshift:.
	if stage.Kubeconfig != "/k/stage" || !stage.CreateStreams() || stage.CreateChildImages || stage.ManagedImages ||
		stage.QPS != 300 || stage.Burst != 600 || stage.Timeout.Duration != 10*time.Second {
		t.Errorf("stage %+v", stage)
	}
	if prod.CreateStreams() || !prod.CreateChildImages || !prod.ManagedImages || prod.QPS != 10 || prod.Burst != 20 || prod.Timeout.Duration != 3*time.Second {
		t.Errorf("prod %+v", prod)
	}
	if !stage.AllowsNamespace("team-a") || stage.AllowsNamespace("other") || !prod.AllowsNamespace("anything") {
		t.Error("namespaces allow-list")
	}
	for i, want := range [][]string{{"default", "stage", "prod"}, {"prod"}, {"default", "prod"}} {
		if got := c.Registries[i].Targets(all); !slices.Equal(got, want) {
			t.Errorf("registries[%d].Targets = %v, want %v", i, got, want)
		}
	}
	if c.Registries[0].DeleteTags || !c.Registries[1].DeleteTags {
		t.Error("deleteTags: default false, set true")
	}
	if c.Registries[0].DeleteTagsMaxShare != 0.5 {
		t.Errorf("deleteTagsMaxShare default %v, want 0.5", c.Registries[0].DeleteTagsMaxShare)
	}
	if r := c.Registries[0].Resync; r.RequestsPerSecond != 1000 || r.Concurrency != 8 || r.IdleTagAfter.Duration != 24*time.Hour || r.IdleTagEvery != 4 {
		t.Errorf("resync defaults %+v, want 1000/s, concurrency 8, idle after 24h, every 4th pass", r)
	}
}

// TestOneCluster: without clusters: the default cluster is the only one.
func TestOneCluster(t *testing.T) {
	c, err := Parse([]byte("registries: [{name: main, url: 'http://r', webhookToken: t}]"))
	if err != nil {
		t.Fatal(err)
	}
	all := c.Clusters()
	if len(all) != 1 || all[0].Name != DefaultCluster || !all[0].CreateStreams() || all[0].QPS != 300 {
		t.Fatalf("clusters %+v", all)
	}
	if got := c.Registries[0].Targets(all); !slices.Equal(got, []string{"default"}) {
		t.Errorf("targets %v", got)
	}
}

func TestClusterValidation(t *testing.T) {
	const reg = "registries: [{name: main, url: 'http://r', webhookToken: t}]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"name default", "clusters: [{name: default, kubeconfig: /k}]\n" + reg, `clusters[0].name: "default" is the cluster of openshift:`},
		{"name not a label", "clusters: [{name: Prod_1, kubeconfig: /k}]\n" + reg, `clusters[0].name: must be a lowercase DNS label`},
		{"name missing", "clusters: [{kubeconfig: /k}]\n" + reg, `clusters[0].name: must be a lowercase DNS label (a-z, 0-9, -), got ""`},
		{"name twice", "clusters: [{name: a, kubeconfig: /k1}, {name: a, kubeconfig: /k2}]\n" + reg, `clusters[1].name: duplicate cluster name "a"`},
		{"kubeconfig missing", "clusters: [{name: a}]\n" + reg, `clusters[0].kubeconfig: required`},
		{"kubeconfig twice", "openshift: {kubeconfig: /k}\nclusters: [{name: a, kubeconfig: /k}]\n" + reg, `clusters[0].kubeconfig: /k is already the kubeconfig of openshift.kubeconfig`},
		{"bad glob", "clusters: [{name: a, kubeconfig: /k, namespaces: [ok, '[']}]\n" + reg, `clusters[0].namespaces[1]: bad glob "["`},
		{"negative qps", "clusters: [{name: a, kubeconfig: /k, qps: -1}]\n" + reg, `clusters[0].qps: must not be negative`},
		{"negative burst", "clusters: [{name: a, kubeconfig: /k, burst: -1}]\n" + reg, `clusters[0].burst: must not be negative`},
		{"negative timeout", "clusters: [{name: a, kubeconfig: /k, timeout: -1s}]\n" + reg, `clusters[0].timeout: must not be negative`},
		{"typo in a cluster", "clusters: [{name: a, kubeConfig: /k}]\n" + reg, `clusters[0].kubeConfig: unknown key (keys are case-sensitive: did you mean "kubeconfig"?)`},
		{"unknown key in a cluster", "clusters: [{name: a, kubeconfig: /k, namespace: [x]}]\n" + reg, `clusters[0].namespace: unknown key (did you mean "namespaces"?)`},
		{"bool in a cluster", "clusters: [{name: a, kubeconfig: /k, createImageStreams: no}]\n" + reg, `clusters[0].createImageStreams: must be true or false, got "no"`},
		{"namespaces on openshift", "openshift: {namespaces: [a]}\n" + reg, `openshift.namespaces: unknown key`},
		{"name on openshift", "openshift: {name: x}\n" + reg, `openshift.name: unknown key`},
		{"clusters not a list", "clusters: {name: a}\n" + reg, `clusters: must be a list, got a map`},
		{"unknown target", "clusters: [{name: stage, kubeconfig: /k}]\nregistries: [{name: main, url: 'http://r', webhookToken: t, clusters: [default, prod]}]\n",
			`registries[0].clusters[1]: no cluster "prod": must be "default" or the name of an entry of clusters: ("default", "stage")`},
		{"target twice", "registries: [{name: main, url: 'http://r', webhookToken: t, clusters: [default, default]}]\n", `registries[0].clusters[1]: cluster "default" listed twice`},
		{"target not a list", "registries: [{name: main, url: 'http://r', webhookToken: t, clusters: default}]\n", `registries[0].clusters: must be a list, got "default"`},
		{"deleteTags word", "registries: [{name: main, url: 'http://r', webhookToken: t, deleteTags: yes}]\n", `registries[0].deleteTags: must be true or false, got "yes"`},
		{"deleteTagsMaxShare above 1", "registries: [{name: main, url: 'http://r', webhookToken: t, deleteTagsMaxShare: 1.5}]\n", `registries[0].deleteTagsMaxShare: must be above 0 and at most 1, got 1.5`},
		{"deleteTagsMaxShare negative", "registries: [{name: main, url: 'http://r', webhookToken: t, deleteTagsMaxShare: -0.1}]\n", `registries[0].deleteTagsMaxShare: must be above 0 and at most 1, got -0.1`},
		{"resync rate negative", "registries: [{name: main, url: 'http://r', webhookToken: t, resync: {requestsPerSecond: -1}}]\n", `registries[0].resync.requestsPerSecond: must be above 0 and at most 100000, got -1`},
		{"resync concurrency too high", "registries: [{name: main, url: 'http://r', webhookToken: t, resync: {concurrency: 1000}}]\n", `registries[0].resync.concurrency: must be between 1 and 256, got 1000`},
		{"resync idleTagAfter too short", "registries: [{name: main, url: 'http://r', webhookToken: t, resync: {idleTagAfter: 1s}}]\n", `registries[0].resync.idleTagAfter: must be at least 1m, got 1s`},
		{"resync idleTagEvery negative", "registries: [{name: main, url: 'http://r', webhookToken: t, resync: {idleTagEvery: -2}}]\n", `registries[0].resync.idleTagEvery: must be between 1 and 1000, got -2`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v\nwant it to contain %s", err, tc.want)
			}
		})
	}
}

// TestClustersPrinted: the config dump shows each cluster's effective values
// (kubeconfig paths are not secrets and are printed as they are).
func TestClustersPrinted(t *testing.T) {
	c, err := Parse([]byte(twoClusters))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"clusters:\n", "- burst: 600", "kubeconfig: /k/stage", "name: stage", "namespaces:\n  - team-*",
		"kubeconfig: /k/prod", "timeout: 3s", "deleteTags: true", "deleteTags: false", "clusters:\n  - prod\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("dump lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "null") || strings.Contains(out, "OpenShift") {
		t.Errorf("dump has null or an unflattened key:\n%s", out)
	}
	// The dump is itself a valid config with the same clusters.
	again, err := Parse([]byte(out))
	if err != nil {
		t.Fatalf("dump does not parse: %v", err)
	}
	if len(again.Clusters()) != 3 || again.OtherClusters[1].QPS != 10 {
		t.Errorf("re-parsed %+v", again.OtherClusters)
	}
}
