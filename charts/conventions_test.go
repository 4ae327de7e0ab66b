package charts

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	"helm.sh/helm/v3/pkg/chart/loader"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

const openshiftAPI = "security.openshift.io/v1"

// Item 1: maxUnavailable 0 is a value, not "unset".
func TestPDBMaxUnavailableZero(t *testing.T) {
	m := render(t, "podDisruptionBudget: {enabled: true, maxUnavailable: 0}")
	pdb := typed[policyv1.PodDisruptionBudget](t, m.mustFind(t, "PodDisruptionBudget", fullname))
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 0 || pdb.Spec.MaxUnavailable.String() != "0" {
		t.Errorf("maxUnavailable %v, want 0", pdb.Spec.MaxUnavailable)
	}
	m = render(t, "podDisruptionBudget: {enabled: true, maxUnavailable: 50%}")
	pdb = typed[policyv1.PodDisruptionBudget](t, m.mustFind(t, "PodDisruptionBudget", fullname))
	if pdb.Spec.MaxUnavailable.String() != "50%" {
		t.Errorf("maxUnavailable %v, want 50%%", pdb.Spec.MaxUnavailable)
	}
}

// Item 2: a render without cluster access (helm template, Argo CD) must not produce a
// new token each time: with generateWebhookTokens=false it refuses, naming the fix;
// with the tokens given it is byte-for-byte stable.
func TestWebhookTokenStableUnderTemplate(t *testing.T) {
	_, err := renderErr(t, values(t, "generateWebhookTokens: false"), false)
	if err == nil || !strings.Contains(err.Error(), "webhookTokens.main") || !strings.Contains(err.Error(), "existingSecret") {
		t.Fatalf("render without tokens and generation off: err %v; want one naming webhookTokens.main and existingSecret", err)
	}
	for _, vals := range []string{
		"generateWebhookTokens: false\nwebhookTokens: {main: a-token-from-sops}",
		"generateWebhookTokens: false\nexistingSecret: bridge-secrets",
	} {
		a, err := renderErr(t, values(t, vals), false)
		if err != nil {
			t.Fatalf("%s: %v", vals, err)
		}
		b, _ := renderErr(t, values(t, vals), false)
		for name := range a {
			if a[name] != b[name] {
				t.Errorf("%s: %s differs between two renders:\n%s\n---\n%s", vals, name, a[name], b[name])
			}
		}
	}
}

// Item 3: the schema refuses what the API server or Prometheus would.
func TestSchemaRefusesWhatTheClusterRefuses(t *testing.T) {
	for _, tc := range []struct{ name, values, want string }{
		{"numeric pod annotation", "podAnnotations: {foo: 1}", "podAnnotations"},
		{"numeric pod label", "podLabels: {foo: true}", "podLabels"},
		{"numeric service annotation", "service: {annotations: {foo: 1}}", "annotations"},
		{"numeric common label", "commonLabels: {foo: 1}", "commonLabels"},
		{"scrape interval", "serviceMonitor: {enabled: true, interval: abc}", "interval"},
		{"scrape timeout", "serviceMonitor: {enabled: true, scrapeTimeout: 10}", "scrapeTimeout"},
		{"minAvailable percent", "podDisruptionBudget: {enabled: true, minAvailable: 150%}", "minAvailable"},
		{"maxUnavailable percent", "podDisruptionBudget: {enabled: true, maxUnavailable: 101%}", "maxUnavailable"},
		{"volume size", "persistence: {enabled: true, size: lots}", "size"},
		{"global pull secrets", "global: {imagePullSecrets: pull}", "imagePullSecrets"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderErr(t, values(t, tc.values), false)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v; want a schema error naming %s", err, tc.want)
			}
		})
	}
	// global.imagePullSecrets is honoured, not ignored.
	m := render(t, "global: {imagePullSecrets: [{name: from-parent}]}\nimagePullSecrets: [{name: own}]")
	var got []string
	for _, s := range podSpec(t, m).ImagePullSecrets {
		got = append(got, s.Name)
	}
	if !slices.Equal(got, []string{"own", "from-parent"}) {
		t.Errorf("imagePullSecrets %v, want [own from-parent]", got)
	}
}

// Item 4: no silent binding of the ClusterRole to the namespace's default ServiceAccount.
func TestRBACNeedsANamedServiceAccount(t *testing.T) {
	_, err := renderErr(t, values(t, "serviceAccount: {create: false}"), false)
	if err == nil || !strings.Contains(err.Error(), "serviceAccount.name") {
		t.Fatalf("err %v; want a refusal naming serviceAccount.name", err)
	}
	m := render(t, "serviceAccount: {create: false, name: bridge}")
	crb := m.mustFind(t, "ClusterRoleBinding", fullname+"-"+releaseNS)
	if s := nested[[]any](t, crb, "subjects")[0].(map[string]any); s["name"] != "bridge" {
		t.Errorf("binding subject %v", s)
	}
}

// Item 5 and 6: the StatefulSet's governing Service is headless; the journal volume is
// writable on plain Kubernetes (fsGroup), and OpenShift's SCC is left to choose one.
func TestPersistenceHeadlessServiceAndFSGroup(t *testing.T) {
	m := render(t, allFeaturesPersistent)
	s := typed[appsv1.StatefulSet](t, m.mustFind(t, "StatefulSet", fullname))
	h := typed[corev1.Service](t, m.mustFind(t, "Service", s.Spec.ServiceName))
	if h.Spec.ClusterIP != corev1.ClusterIPNone || !h.Spec.PublishNotReadyAddresses {
		t.Errorf("StatefulSet serviceName %q: clusterIP %q, publishNotReadyAddresses %v; want a headless Service",
			s.Spec.ServiceName, h.Spec.ClusterIP, h.Spec.PublishNotReadyAddresses)
	}
	sc := s.Spec.Template.Spec.SecurityContext
	if sc.FSGroup == nil || *sc.FSGroup != 65532 || sc.FSGroupChangePolicy == nil ||
		*sc.FSGroupChangePolicy != corev1.FSGroupChangeOnRootMismatch {
		t.Errorf("pod securityContext %+v: want fsGroup 65532 (OnRootMismatch) on plain Kubernetes", sc)
	}
	m = render(t, allFeaturesPersistent, openshiftAPI)
	s = typed[appsv1.StatefulSet](t, m.mustFind(t, "StatefulSet", fullname))
	if sc := s.Spec.Template.Spec.SecurityContext; sc.FSGroup != nil {
		t.Errorf("fsGroup %d set on OpenShift: the restricted SCC assigns one from the namespace's range", *sc.FSGroup)
	}
	m = render(t, allFeaturesPersistent+"podSecurityContext: {fsGroup: 2000}")
	s = typed[appsv1.StatefulSet](t, m.mustFind(t, "StatefulSet", fullname))
	if sc := s.Spec.Template.Spec.SecurityContext; sc.FSGroup == nil || *sc.FSGroup != 2000 {
		t.Errorf("the user's fsGroup was replaced: %+v", sc)
	}
	// The ServiceMonitor scrapes each pod once: it leaves the headless Service out.
	sm := m.mustFind(t, "ServiceMonitor", fullname)
	for _, o := range m.objects {
		if o.GetKind() != "Service" {
			continue
		}
		sel := nested[map[string]any](t, sm, "spec", "selector")
		matches := true
		for k, v := range sel["matchLabels"].(map[string]any) {
			matches = matches && o.GetLabels()[k] == v
		}
		for _, e := range sel["matchExpressions"].([]any) {
			e := e.(map[string]any)
			_, has := o.GetLabels()[e["key"].(string)]
			matches = matches && e["operator"] == "DoesNotExist" && !has
		}
		if matches != (o.GetName() == fullname) {
			t.Errorf("ServiceMonitor selects Service %s: %v", o.GetName(), matches)
		}
	}
	if d := render(t, ""); d.find("Service", fullname+"-headless") != nil {
		t.Error("headless Service rendered without a StatefulSet")
	}
}

// Item 7: two releases in one namespace get distinct jobs; https scrapes verify the server.
func TestServiceMonitorJobAndTLS(t *testing.T) {
	m := render(t, "serviceMonitor: {enabled: true}")
	sm := m.mustFind(t, "ServiceMonitor", fullname)
	if jl, ok := sm.Object["spec"].(map[string]any)["jobLabel"]; ok {
		svc := m.mustFind(t, "Service", fullname)
		if v := svc.GetLabels()[jl.(string)]; !strings.Contains(v, releaseName) {
			t.Errorf("jobLabel %s is %q on the Service, the same for every release of the chart", jl, v)
		}
	}
	m = render(t, "serviceMonitor: {enabled: true, jobLabel: app.kubernetes.io/instance}")
	if jl := nested[string](t, m.mustFind(t, "ServiceMonitor", fullname), "spec", "jobLabel"); jl != "app.kubernetes.io/instance" {
		t.Errorf("jobLabel %q", jl)
	}

	m = render(t, "tls: {enabled: true, secretName: isb-tls}\nserviceMonitor: {enabled: true}")
	ep := nested[[]any](t, m.mustFind(t, "ServiceMonitor", fullname), "spec", "endpoints")[0].(map[string]any)
	tc, _ := ep["tlsConfig"].(map[string]any)
	ca, _ := tc["ca"].(map[string]any)
	sec, _ := ca["secret"].(map[string]any)
	if ep["scheme"] != "https" || sec["name"] != "isb-tls" || sec["key"] != "ca.crt" || tc["serverName"] != fullname+"."+releaseNS+".svc" {
		t.Errorf("https endpoint %v: want tlsConfig with the CA of tls.secretName and serverName", ep)
	}
	_, err := renderErr(t, values(t, "tls: {enabled: true, secretName: isb-tls}\nserviceMonitor: {enabled: true, namespace: monitoring}"), false)
	if err == nil || !strings.Contains(err.Error(), "serviceMonitor.tlsConfig") {
		t.Errorf("ServiceMonitor in another namespace than the TLS Secret: err %v; want one naming serviceMonitor.tlsConfig", err)
	}
}

// Item 8: conventions of well-kept charts.
func TestChartConventions(t *testing.T) {
	c, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	if c.Metadata.Icon == "" || len(c.Metadata.Maintainers) == 0 || c.Metadata.Maintainers[0].Name == "" {
		t.Errorf("Chart.yaml: icon %q, maintainers %v", c.Metadata.Icon, c.Metadata.Maintainers)
	}
	// `helm show readme` prints README.md; every top-level value is described there.
	readme, err := os.ReadFile(filepath.Join(chartDir, "README.md"))
	if err != nil {
		t.Fatalf("no chart README (helm show readme is empty): %v", err)
	}
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var vals map[string]any
	if err := yaml.Unmarshal(b, &vals); err != nil {
		t.Fatal(err)
	}
	for k := range vals {
		if !strings.Contains(string(readme), "`"+k+"`") && !strings.Contains(string(readme), "`"+k+".") {
			t.Errorf("README.md does not describe the value %s", k)
		}
	}
}

func TestChartConventionsRender(t *testing.T) {
	m := render(t, `
replicaCount: 2
config: {leaderElection: {enabled: true}, nats: {url: 'nats://nats.nats.svc:4222'}}
commonLabels: {team: platform}
commonAnnotations: {owner: images}
revisionHistoryLimit: 7
extraArgs: [--log-level=debug]
extraEnvFrom: [{configMapRef: {name: proxy}}]
initContainers: [{name: wait, image: busybox, command: ["true"]}]
startupProbe: {enabled: true, failureThreshold: 60}
livenessProbe: {periodSeconds: 20}
service: {type: NodePort, nodePort: 30080}
serviceMonitor: {enabled: true, targetLabels: [team], podTargetLabels: [app.kubernetes.io/version]}
prometheusRule:
  enabled: true
  additionalRules:
    - alert: MyBridgeAlert
      expr: vector(1)
      labels: {severity: info}
      annotations: {summary: s, description: d}
`)
	for _, o := range m.objects {
		if o.GetLabels()["team"] != "platform" || o.GetAnnotations()["owner"] != "images" {
			t.Errorf("%s: labels %v annotations %v lack commonLabels/commonAnnotations", objKey(o), o.GetLabels(), o.GetAnnotations())
		}
	}
	d := typed[appsv1.Deployment](t, m.mustFind(t, "Deployment", fullname))
	if d.Spec.RevisionHistoryLimit == nil || *d.Spec.RevisionHistoryLimit != 7 {
		t.Errorf("revisionHistoryLimit %v", d.Spec.RevisionHistoryLimit)
	}
	ps := d.Spec.Template.Spec
	c := ps.Containers[0]
	if !slices.Contains(c.Args, "--log-level=debug") || c.Args[0] != "serve" {
		t.Errorf("args %q: want serve ... plus extraArgs", c.Args)
	}
	if len(c.EnvFrom) != 1 || c.EnvFrom[0].ConfigMapRef.Name != "proxy" {
		t.Errorf("envFrom %+v", c.EnvFrom)
	}
	if len(ps.InitContainers) != 1 || ps.InitContainers[0].Name != "wait" {
		t.Errorf("initContainers %+v", ps.InitContainers)
	}
	if c.StartupProbe == nil || c.StartupProbe.HTTPGet == nil || c.StartupProbe.HTTPGet.Path != "/healthz" || c.StartupProbe.FailureThreshold != 60 {
		t.Errorf("startupProbe %+v", c.StartupProbe)
	}
	if c.LivenessProbe.PeriodSeconds != 20 {
		t.Errorf("livenessProbe %+v", c.LivenessProbe)
	}
	// Two replicas: spread over nodes unless affinity is set.
	if ps.Affinity == nil || ps.Affinity.PodAntiAffinity == nil ||
		len(ps.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 ||
		ps.Affinity.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution[0].PodAffinityTerm.TopologyKey != "kubernetes.io/hostname" {
		t.Errorf("affinity %+v: want preferred anti-affinity by hostname with 2 replicas", ps.Affinity)
	}
	if one := podSpec(t, render(t, "")); one.Affinity != nil {
		t.Errorf("affinity %+v with one replica", one.Affinity)
	}
	svc := typed[corev1.Service](t, m.mustFind(t, "Service", fullname))
	if svc.Spec.Ports[0].NodePort != 30080 {
		t.Errorf("nodePort %d", svc.Spec.Ports[0].NodePort)
	}
	lb := typed[corev1.Service](t, render(t, "service: {type: LoadBalancer, loadBalancerSourceRanges: [192.0.2.0/24]}").mustFind(t, "Service", fullname))
	if !slices.Equal(lb.Spec.LoadBalancerSourceRanges, []string{"192.0.2.0/24"}) {
		t.Errorf("loadBalancerSourceRanges %v", lb.Spec.LoadBalancerSourceRanges)
	}
	sm := m.mustFind(t, "ServiceMonitor", fullname)
	if tl := nested[[]any](t, sm, "spec", "targetLabels"); len(tl) != 1 || tl[0] != "team" {
		t.Errorf("targetLabels %v", tl)
	}
	if pl := nested[[]any](t, sm, "spec", "podTargetLabels"); len(pl) != 1 || pl[0] != "app.kubernetes.io/version" {
		t.Errorf("podTargetLabels %v", pl)
	}
	groups := nested[[]any](t, m.mustFind(t, "PrometheusRule", fullname), "spec", "groups")
	found := false
	for _, g := range groups {
		for _, r := range g.(map[string]any)["rules"].([]any) {
			found = found || r.(map[string]any)["alert"] == "MyBridgeAlert"
		}
	}
	if !found {
		t.Errorf("prometheusRule.additionalRules not rendered: %v", groups)
	}

	// helm test: a hook pod that checks /readyz through the Service.
	var hook *corev1.Pod
	for _, o := range m.objects {
		if o.GetKind() == "Pod" && o.GetAnnotations()["helm.sh/hook"] == "test" {
			hook = typed[corev1.Pod](t, o)
		}
	}
	if hook == nil {
		t.Fatal("no helm test hook Pod")
	}
	if cmd := strings.Join(append(hook.Spec.Containers[0].Command, hook.Spec.Containers[0].Args...), " "); !strings.Contains(cmd, "http://"+fullname+":8080/readyz") {
		t.Errorf("test pod runs %q: want a request to /readyz through the Service", cmd)
	}
	if hook.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("test pod restartPolicy %q", hook.Spec.RestartPolicy)
	}
}

// Item 9: a way in from outside the cluster, printed in NOTES.
func TestExposure(t *testing.T) {
	m := render(t, "route: {enabled: true, host: bridge.apps.example.com}")
	r := typed[routev1.Route](t, m.mustFind(t, "Route", fullname))
	if r.Spec.Host != "bridge.apps.example.com" || r.Spec.TLS == nil || r.Spec.TLS.Termination != routev1.TLSTerminationEdge ||
		r.Spec.TLS.InsecureEdgeTerminationPolicy != routev1.InsecureEdgeTerminationPolicyRedirect || r.Spec.To.Name != fullname ||
		r.Spec.Port == nil || r.Spec.Port.TargetPort.StrVal != "http" || r.Spec.Path != "/notifications" {
		t.Errorf("route spec %+v", r.Spec)
	}
	if !strings.Contains(m.notes, "      url: https://bridge.apps.example.com/notifications/main\n") {
		t.Errorf("NOTES.txt does not use the Route's URL:\n%s", m.notes)
	}
	m = render(t, "tls: {enabled: true, secretName: isb-tls}\nroute: {enabled: true, host: bridge.apps.example.com, destinationCACertificate: CA-PEM}")
	r = typed[routev1.Route](t, m.mustFind(t, "Route", fullname))
	if r.Spec.TLS.Termination != routev1.TLSTerminationReencrypt || r.Spec.TLS.DestinationCACertificate != "CA-PEM" {
		t.Errorf("route tls with tls.enabled %+v: want reencrypt to the webhook's TLS", r.Spec.TLS)
	}

	m = render(t, "ingress: {enabled: true, className: nginx, hosts: [bridge.example.com], tls: [{secretName: bridge-ingress-tls, hosts: [bridge.example.com]}]}")
	ing := typed[networkingv1.Ingress](t, m.mustFind(t, "Ingress", fullname))
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" || len(ing.Spec.Rules) != 1 ||
		ing.Spec.Rules[0].Host != "bridge.example.com" || ing.Spec.Rules[0].HTTP.Paths[0].Path != "/notifications" ||
		ing.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != fullname || len(ing.Spec.TLS) != 1 {
		t.Errorf("ingress spec %+v", ing.Spec)
	}
	if !strings.Contains(m.notes, "      url: https://bridge.example.com/notifications/main\n") {
		t.Errorf("NOTES.txt does not use the Ingress URL:\n%s", m.notes)
	}
	if d := render(t, ""); d.find("Route", fullname) != nil || d.find("Ingress", fullname) != nil {
		t.Error("Route or Ingress rendered by default")
	}
}
