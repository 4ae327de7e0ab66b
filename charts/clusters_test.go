package charts

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
)

const tagsDelete = "image.openshift.io/imagestreamtags:delete"

const twoClusters = `
clusters:
  - name: stage
    kubeconfig: "apiVersion: v1\nkind: Config\n"
    namespaces: ["team-*"]
  - name: prod
    kubeconfigSecret: {name: prod-kubeconfig, key: config}
    createImageStreams: false
    qps: 10
    timeout: 3s
config:
  registries:
    - {name: main, url: http://registry.registry.svc:5000, deleteTags: true, clusters: [default, prod]}
    - {name: other, url: http://other.registry.svc:5000, clusters: [stage]}
`

// TestClustersRendered: each clusters entry becomes a config.clusters entry whose
// kubeconfig is the file of a read-only Secret volume, and the bridge accepts it.
func TestClustersRendered(t *testing.T) {
	m := render(t, twoClusters)
	c := renderedConfig(t, m)
	all := c.Clusters()
	if len(all) != 3 || all[1].Name != "stage" || all[2].Name != "prod" {
		t.Fatalf("clusters %+v", all)
	}
	stage, prod := all[1], all[2]
	if !slices.Equal(stage.Namespaces, []string{"team-*"}) || !stage.CreateStreams() || stage.QPS != 300 {
		t.Errorf("stage %+v", stage)
	}
	if prod.CreateStreams() || prod.QPS != 10 || prod.Timeout.String() != "3s" {
		t.Errorf("prod %+v", prod)
	}
	for _, cl := range all[1:] {
		if _, err := os.Stat(cl.Kubeconfig); err != nil || !strings.HasSuffix(cl.Kubeconfig, "/clusters/"+cl.Name+"/kubeconfig") {
			t.Errorf("cluster %s kubeconfig %q: %v", cl.Name, cl.Kubeconfig, err)
		}
	}
	if got := c.Registries[0].Targets(all); !slices.Equal(got, []string{"default", "prod"}) || !c.Registries[0].DeleteTags {
		t.Errorf("main targets %v deleteTags %v", got, c.Registries[0].DeleteTags)
	}

	// An inline kubeconfig gets a chart Secret; kubeconfigSecret names an existing one.
	sec := typed[corev1.Secret](t, m.mustFind(t, "Secret", fullname+"-kubeconfig-stage"))
	if string(sec.Data["kubeconfig"]) != "apiVersion: v1\nkind: Config\n" {
		t.Errorf("stage Secret %q", sec.Data)
	}
	if m.find("Secret", "prod-kubeconfig") != nil {
		t.Error("the chart renders the existing Secret prod-kubeconfig")
	}
	pod := podSpec(t, m)
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	want := map[string][2]string{fullname + "-kubeconfig-stage": {"kubeconfig", "/etc/imagestream-bridge/clusters/stage"},
		"prod-kubeconfig": {"config", "/etc/imagestream-bridge/clusters/prod"}}
	for _, vm := range pod.Containers[0].VolumeMounts {
		v := vols[vm.Name]
		if v.Secret == nil {
			continue
		}
		w, ok := want[v.Secret.SecretName]
		if !ok {
			continue
		}
		delete(want, v.Secret.SecretName)
		items := []corev1.KeyToPath{{Key: w[0], Path: "kubeconfig"}}
		if !vm.ReadOnly || vm.MountPath != w[1] || !cmp.Equal(items, v.Secret.Items) {
			t.Errorf("kubeconfig volume %+v mounted %+v", v, vm)
		}
	}
	if len(want) != 0 {
		t.Errorf("kubeconfig Secrets not mounted: %v", want)
	}
}

// TestDeleteTagsRBAC: delete on imagestreamtags only when a registry deletes tags in
// the default cluster (the chart's RBAC is for that cluster only).
func TestDeleteTagsRBAC(t *testing.T) {
	sorted := func(s ...string) []string { slices.Sort(s); return s }
	for _, tc := range []struct {
		name, values string
		want         grants
	}{
		{"off by default", "config: {registries: [{name: main, url: 'http://r:5000'}]}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate)}},
		{"deleteTags false", "config: {registries: [{name: main, url: 'http://r:5000', deleteTags: false}]}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate)}},
		{"deleteTags", "config: {registries: [{name: main, url: 'http://r:5000'}, {name: b, url: 'http://b:5000', deleteTags: true}]}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate, tagsDelete)}},
		{"deleteTags, namespaced", "rbac: {namespaces: [team-a]}\nconfig: {registries: [{name: main, url: 'http://r:5000', deleteTags: true}]}", grants{
			"Role/team-a": sorted(mappingsCreate, streamsList, streamsCreate, tagsDelete)}},
		{"deleteTags in default and prod", twoClusters, grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate, tagsDelete)}},
		{"deleteTags in a remote cluster only", "clusters: [{name: prod, kubeconfigSecret: {name: k}}]\n" +
			"config: {registries: [{name: main, url: 'http://r:5000', deleteTags: true, clusters: [prod]}]}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, granted(t, render(t, tc.values))); diff != "" {
				t.Errorf("permissions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestClustersValidation(t *testing.T) {
	for _, tc := range []struct{ name, values, want string }{
		{"default", "clusters: [{name: default, kubeconfig: x}]", `/clusters/0/name`},
		{"default without schema", "clusters: [{name: default, kubeconfig: x}]", `clusters[0].name: "default" is the cluster of config.openshift`},
		{"twice", "clusters: [{name: a, kubeconfig: x}, {name: a, kubeconfig: z}]", `clusters[1].name: duplicate cluster name "a"`},
		{"no kubeconfig", "clusters: [{name: a}]", `clusters[0] (a): set exactly one of kubeconfig (inline) and kubeconfigSecret.name`},
		{"both kubeconfigs", "clusters: [{name: a, kubeconfig: x, kubeconfigSecret: {name: s}}]", `set exactly one`},
		{"unknown key", "clusters: [{name: a, kubeconfig: x, kubeConfig: y}]", `kubeConfig`},
		{"unknown target", "config: {registries: [{name: main, url: 'http://r:5000', clusters: [prod]}]}",
			`config.registries[0].clusters[0]: no cluster "prod"`},
		{"config.clusters", "config: {clusters: [{name: a, kubeconfig: /k}]}", `clusters`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderErr(t, values(t, tc.values), strings.HasSuffix(tc.name, "without schema"))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v, want it to mention %s", err, tc.want)
			}
		})
	}
}
