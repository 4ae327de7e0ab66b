package charts

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/lint"
	"helm.sh/helm/v3/pkg/lint/support"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// allFeatures turns on every optional part with two replicas (and so an external
// NATS JetStream cluster and leader election).
const allFeatures = `
replicaCount: 2
config:
  nats:
    url: nats://nats.nats.svc:4222
  leaderElection:
    enabled: true
  openshift:
    createChildImages: true
  registries:
    - name: main
      url: https://registry.example.com
      username: puller
      namespaces: [team-a, team-b]
    - name: mirror
      url: http://mirror.registry.svc:5000
      mapping:
        stripPrefix: mirror/
        join: "-"
webhookTokens:
  main: token-of-main
registryPasswords:
  main: password-of-main
rbac:
  namespaces: [team-a, team-b]
tls:
  enabled: true
  secretName: isb-tls
serviceMonitor:
  enabled: true
  labels:
    release: kube-prometheus-stack
  tlsConfig:
    insecureSkipVerify: true
prometheusRule:
  enabled: true
  additionalRuleLabels:
    team: platform
dashboards:
  enabled: true
  annotations:
    grafana_folder: Registry
networkPolicy:
  enabled: true
  registryPeers:
    - namespaceSelector:
        matchLabels:
          kubernetes.io/metadata.name: registry
      podSelector:
        matchLabels:
          app: registry
    - ipBlock:
        cidr: 192.0.2.0/24
podDisruptionBudget:
  enabled: true
`

// allFeaturesPersistent is every optional part with a durable journal (one replica).
const allFeaturesPersistent = `
config:
  leaderElection:
    enabled: true
  openshift:
    createChildImages: true
rbac:
  namespaces: [team-a]
persistence:
  enabled: true
  size: 2Gi
serviceMonitor:
  enabled: true
prometheusRule:
  enabled: true
dashboards:
  enabled: true
networkPolicy:
  enabled: true
  registryPeers:
    - podSelector:
        matchLabels:
          app: registry
podDisruptionBudget:
  enabled: true
`

func TestLint(t *testing.T) {
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]string{
		"defaults": "", "all features": allFeatures, "persistence": allFeaturesPersistent,
		"exposure and conventions": allFeatures + `
commonLabels: {team: platform}
commonAnnotations: {owner: images}
route: {enabled: true, host: isb.apps.example.com}
startupProbe: {enabled: true}
extraArgs: [--log-level=debug]
service: {type: LoadBalancer, loadBalancerSourceRanges: [192.0.2.0/24]}
`,
		"ingress": "ingress: {enabled: true, hosts: [isb.example.com], tls: [{secretName: isb-ingress, hosts: [isb.example.com]}]}",
	} {
		t.Run(name, func(t *testing.T) {
			l := lint.AllWithKubeVersion(chartDir, values(t, vals), releaseNS, kv)
			for _, m := range l.Messages {
				t.Logf("lint: %s", m)
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				}
			}
		})
	}
}

func TestDefaults(t *testing.T) {
	m := render(t, "")
	want := []string{
		"ClusterRole//" + fullname + "-" + releaseNS,
		"ClusterRoleBinding//" + fullname + "-" + releaseNS,
		"ConfigMap/" + releaseNS + "/" + fullname,
		"Deployment/" + releaseNS + "/" + fullname,
		"Pod/" + releaseNS + "/" + fullname + "-test-readyz",
		"Secret/" + releaseNS + "/" + fullname + "-secrets",
		"Service/" + releaseNS + "/" + fullname,
		"ServiceAccount/" + releaseNS + "/" + fullname,
	}
	if diff := cmp.Diff(want, m.kinds()); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	d := typed[appsv1.Deployment](t, m.mustFind(t, "Deployment", fullname))
	if *d.Spec.Replicas != 1 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("replicas %d, strategy %s; want 1 and RollingUpdate", *d.Spec.Replicas, d.Spec.Strategy.Type)
	}
	checkPod(t, d.Spec.Template, "HTTP")
	testPod := typed[corev1.Pod](t, m.mustFind(t, "Pod", fullname+"-test-readyz"))
	for _, c := range testPod.Spec.Containers {
		checkResources(t, c)
	}

	svc := typed[corev1.Service](t, m.mustFind(t, "Service", fullname))
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Name != "http" || svc.Spec.Ports[0].Port != 8080 ||
		svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("service ports %+v; want http 8080 -> http", svc.Spec.Ports)
	}
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, svc.Spec.Selector); diff != "" {
		t.Errorf("service selector differs from the deployment's (-deploy +svc):\n%s", diff)
	}

	sec := typed[corev1.Secret](t, m.mustFind(t, "Secret", fullname+"-secrets"))
	if tok := sec.Data["main-webhook-token"]; len(tok) < 32 {
		t.Errorf("generated webhook token %q is too short", tok)
	}
	cm := typed[corev1.ConfigMap](t, m.mustFind(t, "ConfigMap", fullname))
	if strings.Contains(cm.Data["config.yaml"], "webhookToken:") {
		t.Errorf("config.yaml carries a token inline:\n%s", cm.Data["config.yaml"])
	}
}

// checkPod asserts what every pod of the chart must have.
func checkPod(t *testing.T, pt corev1.PodTemplateSpec, scheme string) {
	t.Helper()
	ps := pt.Spec
	if ps.SecurityContext == nil || ps.SecurityContext.RunAsNonRoot == nil || !*ps.SecurityContext.RunAsNonRoot ||
		ps.SecurityContext.SeccompProfile == nil || ps.SecurityContext.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", ps.SecurityContext)
	}
	if len(ps.Containers) != 1 {
		t.Fatalf("%d containers, want 1", len(ps.Containers))
	}
	c := ps.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("container securityContext %+v is not hardened", sc)
	}
	if want := []string{"serve", "--config", "/etc/imagestream-bridge/config.yaml"}; !slices.Equal(c.Args, want) {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("ports %+v, want http 8080", c.Ports)
	}
	for _, p := range []struct {
		probe *corev1.Probe
		path  string
	}{{c.LivenessProbe, "/healthz"}, {c.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path ||
			p.probe.HTTPGet.Port.StrVal != "http" || string(p.probe.HTTPGet.Scheme) != scheme {
			t.Errorf("probe for %s: %+v", p.path, p.probe)
		}
	}
	env := map[string]string{}
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			env[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if env["POD_NAMESPACE"] != "metadata.namespace" || env["POD_NAME"] != "metadata.name" {
		t.Errorf("downward API env %v, want POD_NAMESPACE and POD_NAME", env)
	}
	checkResources(t, c)
	if pt.Annotations["checksum/config"] == "" {
		t.Error("no checksum/config annotation: config changes would not roll the pods")
	}
}

// checkResources holds a container to the chart's resource policy: a CPU request
// (kube-linter's unset-cpu-requirements) and no CPU limit (it throttles; values.yaml says
// why), a memory request and limit (unset-memory-requirements).
func checkResources(t *testing.T, c corev1.Container) {
	t.Helper()
	r := c.Resources
	if r.Requests.Cpu().IsZero() {
		t.Errorf("container %s: no CPU request (kube-linter unset-cpu-requirements)", c.Name)
	}
	if !r.Limits.Cpu().IsZero() {
		t.Errorf("container %s: CPU limit %s: the chart sets none (CFS throttling delays webhook answers)", c.Name, r.Limits.Cpu())
	}
	if r.Requests.Memory().IsZero() || r.Limits.Memory().IsZero() {
		t.Errorf("container %s: memory request %s, limit %s: want both", c.Name, r.Requests.Memory(), r.Limits.Memory())
	}
}

func TestAllFeatures(t *testing.T) {
	m := render(t, allFeatures)
	d := typed[appsv1.Deployment](t, m.mustFind(t, "Deployment", fullname))
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas %d, want 2", *d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %s: every replica is Ready, so a rollout must keep them (RollingUpdate)", d.Spec.Strategy.Type)
	}
	checkPod(t, d.Spec.Template, "HTTPS")
	if m.find("StatefulSet", fullname) != nil {
		t.Error("StatefulSet rendered without persistence")
	}

	// config.yaml is one file; secrets/ and tls/ are whole directories (no nested mounts).
	var mounts, volumes []string
	for _, vm := range d.Spec.Template.Spec.Containers[0].VolumeMounts {
		mounts = append(mounts, vm.Name+"->"+vm.MountPath+"/"+vm.SubPath)
		if !vm.ReadOnly {
			t.Errorf("volume %s mounted writable", vm.Name)
		}
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		switch {
		case v.ConfigMap != nil:
			volumes = append(volumes, v.Name+":configmap:"+v.ConfigMap.Name)
		case v.Secret != nil:
			volumes = append(volumes, v.Name+":secret:"+v.Secret.SecretName)
		default:
			volumes = append(volumes, v.Name+":other")
		}
	}
	wantMounts := []string{
		"config->/etc/imagestream-bridge/config.yaml/config.yaml",
		"secrets->/etc/imagestream-bridge/secrets/",
		"tls->/etc/imagestream-bridge/tls/",
	}
	wantVolumes := []string{"config:configmap:" + fullname, "secrets:secret:" + fullname + "-secrets", "tls:secret:isb-tls"}
	if diff := cmp.Diff(wantMounts, mounts); diff != "" {
		t.Errorf("volume mounts (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantVolumes, volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	sec := typed[corev1.Secret](t, m.mustFind(t, "Secret", fullname+"-secrets"))
	if string(sec.Data["main-webhook-token"]) != "token-of-main" || string(sec.Data["main-password"]) != "password-of-main" ||
		len(sec.Data["mirror-webhook-token"]) < 32 {
		t.Errorf("secret data %q", sec.Data)
	}

	pdb := typed[policyv1.PodDisruptionBudget](t, m.mustFind(t, "PodDisruptionBudget", fullname))
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || pdb.Spec.MaxUnavailable != nil ||
		pdb.Spec.UnhealthyPodEvictionPolicy == nil || *pdb.Spec.UnhealthyPodEvictionPolicy != policyv1.AlwaysAllow {
		t.Errorf("pdb spec %+v", pdb.Spec)
	}

	np := typed[networkingv1.NetworkPolicy](t, m.mustFind(t, "NetworkPolicy", fullname))
	if !slices.Equal(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || len(np.Spec.Ingress) != 2 {
		t.Fatalf("network policy %+v: want two ingress rules (registry, prometheus)", np.Spec)
	}
	reg := np.Spec.Ingress[0]
	if len(reg.From) != 2 || reg.From[1].IPBlock == nil || reg.From[1].IPBlock.CIDR != "192.0.2.0/24" ||
		reg.From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "registry" {
		t.Errorf("registry peers %+v", reg.From)
	}
	for _, r := range np.Spec.Ingress {
		if len(r.From) == 0 {
			t.Errorf("ingress rule %+v admits everyone", r)
		}
		if len(r.Ports) != 1 || r.Ports[0].Port.IntValue() != 8080 {
			t.Errorf("ingress rule ports %+v, want 8080 only", r.Ports)
		}
	}
	if diff := cmp.Diff(d.Spec.Selector.MatchLabels, np.Spec.PodSelector.MatchLabels); diff != "" {
		t.Errorf("network policy selects other pods (-deploy +policy):\n%s", diff)
	}

	sm := m.mustFind(t, "ServiceMonitor", fullname)
	ep := nested[[]any](t, sm, "spec", "endpoints")[0].(map[string]any)
	if ep["port"] != "http" || ep["path"] != "/metrics" || ep["scheme"] != "https" || ep["tlsConfig"] == nil {
		t.Errorf("service monitor endpoint %v", ep)
	}
	if sm.GetLabels()["release"] != "kube-prometheus-stack" {
		t.Errorf("service monitor labels %v", sm.GetLabels())
	}

	checkPrometheusRule(t, m, map[string]string{"team": "platform"})
	checkDashboards(t, m)
	checkNotes(t, m.notes, "https", []string{"main", "mirror"})
}

func TestPersistence(t *testing.T) {
	m := render(t, allFeaturesPersistent)
	if m.find("Deployment", fullname) != nil {
		t.Error("Deployment rendered with persistence")
	}
	s := typed[appsv1.StatefulSet](t, m.mustFind(t, "StatefulSet", fullname))
	if len(s.Spec.VolumeClaimTemplates) != 1 || s.Spec.VolumeClaimTemplates[0].Name != "data" ||
		s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests.Storage().String() != "2Gi" {
		t.Fatalf("volume claim templates %+v", s.Spec.VolumeClaimTemplates)
	}
	if s.Spec.ServiceName != fullname+"-headless" {
		t.Errorf("serviceName %q", s.Spec.ServiceName)
	}
	checkPod(t, s.Spec.Template, "HTTP")
	cfg := renderedConfig(t, m)
	mounted := ""
	for _, vm := range s.Spec.Template.Spec.Containers[0].VolumeMounts {
		if vm.Name == "data" {
			mounted = vm.MountPath
		}
	}
	if cfg.DataDir == "" || mounted != cfg.DataDir {
		t.Errorf("journal volume mounted at %q, config dataDir %q", mounted, cfg.DataDir)
	}
	checkPrometheusRule(t, m, nil)
	checkNotes(t, m.notes, "http", []string{"main"})
}

// renderFailure is values the chart must refuse, with a part of the message.
type renderFailure struct {
	name, values string
	// skipSchema renders as `helm template --skip-schema-validation`: the templates must still refuse.
	skipSchema bool
	want       string
}

// checkRenderFails renders each case and wants an error containing its want.
func checkRenderFails(t *testing.T, cases []renderFailure) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderErr(t, values(t, tc.values), tc.skipSchema)
			if err == nil {
				t.Fatalf("rendered; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func TestRenderFails(t *testing.T) {
	checkRenderFails(t, []renderFailure{
		{name: "replicas without leader election", values: "replicaCount: 2", want: "more than one replica needs config.leaderElection.enabled=true"},
		{name: "replicas without leader election, no schema", values: "replicaCount: 3", skipSchema: true, want: "config.leaderElection.enabled=true"},
		{name: "persistence with replicas", values: "replicaCount: 2\npersistence: {enabled: true}\nconfig: {leaderElection: {enabled: true}, nats: {url: 'nats://n:4222'}}", want: "persistence.enabled supports replicaCount=1 only"},
		{name: "inline webhook token", values: "config:\n  registries:\n    - {name: main, url: 'http://r:5000', webhookToken: abc}", want: "webhookToken"},
		{name: "inline webhook token, no schema", values: "config:\n  registries:\n    - {name: main, url: 'http://r:5000', webhookToken: abc}", skipSchema: true, want: "config.registries[0].webhookToken: secrets are not set in config"},
		{name: "inline password, no schema", values: "config:\n  registries:\n    - {name: main, url: 'http://r:5000', username: u, password: p}", skipSchema: true, want: "config.registries[0].password"},
		{name: "unknown config key", values: "config: {workerz: 3}", want: "workerz"},
		{name: "unknown top-level key", values: "replicas: 2", want: "replicas"},
		{name: "bad log level", values: "config: {logLevel: verbose}", want: "logLevel"},
		{name: "bad duration", values: "config: {resyncInterval: ten minutes}", want: "resyncInterval"},
		{name: "no registries", values: "config: {registries: []}", skipSchema: true, want: "config.registries: at least one registry is required"},
		{name: "duplicate registry", values: "config:\n  registries:\n    - {name: a, url: 'http://r:5000'}\n    - {name: a, url: 'http://s:5000'}", want: `duplicate registry name "a"`},
		{name: "username without password", values: "config:\n  registries:\n    - {name: main, url: 'http://r:5000', username: u}", want: "set registryPasswords.main or use existingSecret"},
		{name: "token for unknown registry", values: "webhookTokens: {other: x}", want: "webhookTokens.other: no registry of that name"},
		{name: "dataDir without volume", values: "config: {dataDir: /data}", want: `config.dataDir is "/data" but persistence.enabled is false`},
		{name: "network policy without registry peers", values: "networkPolicy: {enabled: true}", want: "networkPolicy.registryPeers"},
		{name: "tls without secret", values: "tls: {enabled: true}", want: "tls.secretName"},
		{name: "pdb with both bounds", values: "podDisruptionBudget: {enabled: true, minAvailable: 1, maxUnavailable: 1}", want: "not both"},
	})
}

func TestRenderVariants(t *testing.T) {
	for _, tc := range []struct{ name, values string }{
		{"existing secret", "existingSecret: bridge-secrets\nconfig:\n  registries:\n    - {name: main, url: 'http://r:5000', username: u}"},
		{"existing secret with a docker config", "existingSecret: bridge-secrets\nconfig:\n  registries:\n    - {name: main, url: 'https://r:5000', dockerConfigFile: /etc/imagestream-bridge/secrets/main-dockerconfig.json}"},
		{"dataDir on an extra volume", "config: {dataDir: /data}\nextraVolumes: [{name: data, emptyDir: {}}]\nextraVolumeMounts: [{name: data, mountPath: /data}]"},
		{"no rbac, existing service account", "rbac: {create: false}\nserviceAccount: {create: false, name: bridge}"},
		{"pdb minAvailable", "podDisruptionBudget: {enabled: true, minAvailable: 1}"},
		{"image digest", "image: {digest: 'sha256:" + strings.Repeat("ab", 32) + "'}"},
		{"leader election in another namespace", "config: {leaderElection: {enabled: true, namespace: leases, leaseName: bridge-lease}}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := render(t, tc.values)
			cfg := renderedConfig(t, m)
			switch tc.name {
			case "existing secret":
				if m.find("Secret", fullname+"-secrets") != nil {
					t.Error("chart created a Secret despite existingSecret")
				}
				if cfg.Registries[0].PasswordFile == "" {
					t.Error("no passwordFile for a registry with a username")
				}
			case "existing secret with a docker config":
				if !strings.HasSuffix(cfg.Registries[0].DockerConfigFile, "/secrets/main-dockerconfig.json") {
					t.Errorf("dockerConfigFile %q", cfg.Registries[0].DockerConfigFile)
				}
			case "image digest":
				d := typed[appsv1.Deployment](t, m.mustFind(t, "Deployment", fullname))
				if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, "@sha256:"+strings.Repeat("ab", 32)) {
					t.Errorf("image %q", img)
				}
			case "leader election in another namespace":
				r := m.mustFind(t, "Role", fullname+"-leader-election")
				if r.GetNamespace() != "leases" {
					t.Errorf("lease role in %q, want leases", r.GetNamespace())
				}
			}
		})
	}
}
