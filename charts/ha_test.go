package charts

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	policyv1 "k8s.io/api/policy/v1"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// haValues is the high-availability install of docs/operations.md: three replicas on an
// external JetStream cluster whose URL, credentials and CA come from a Secret.
const haValues = `
replicaCount: 3
nats:
  existingSecret: bridge-nats
  urlKey: url
  credsKey: bridge.creds
  caKey: ca.crt
config:
  leaderElection:
    enabled: true
`

// TestHighAvailability: every replica takes webhooks, so a rollout keeps them all (RollingUpdate
// with maxUnavailable 0), a stopping pod leaves the Service before it stops listening (the
// bridge's shutdownDelay, within the grace period), replicas spread over zones, a drain keeps one (PDB minAvailable 1), and the NATS material comes
// from the Secret as files the rendered config names.
func TestHighAvailability(t *testing.T) {
	m := render(t, haValues)
	d := typed[appsv1.Deployment](t, m.mustFind(t, "Deployment", fullname))
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil ||
		d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 || d.Spec.Strategy.RollingUpdate.MaxSurge.IntValue() != 1 {
		t.Errorf("strategy %+v, want RollingUpdate maxSurge 1 maxUnavailable 0", d.Spec.Strategy)
	}
	pod := d.Spec.Template.Spec
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].TopologyKey != "topology.kubernetes.io/zone" ||
		pod.TopologySpreadConstraints[0].LabelSelector == nil ||
		pod.TopologySpreadConstraints[0].LabelSelector.MatchLabels["app.kubernetes.io/instance"] != releaseName {
		t.Errorf("topology spread %+v, want one by zone selecting the release's pods", pod.TopologySpreadConstraints)
	}
	pdb := typed[policyv1.PodDisruptionBudget](t, m.mustFind(t, "PodDisruptionBudget", fullname))
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("pdb %+v, want minAvailable 1 (made without podDisruptionBudget.enabled)", pdb.Spec)
	}

	var natsVol bool
	for _, v := range pod.Volumes {
		if v.Name != "nats" {
			continue
		}
		natsVol = true
		if v.Secret == nil || v.Secret.SecretName != "bridge-nats" || len(v.Secret.Items) != 3 {
			t.Errorf("nats volume %+v, want the three named keys of bridge-nats", v)
		}
	}
	if !natsVol {
		t.Error("no nats volume")
	}
	cfg := renderedConfig(t, m)
	if cfg.NATS.Embedded() || !strings.HasSuffix(cfg.NATS.URLFile, "/nats/url") ||
		!strings.HasSuffix(cfg.NATS.CredsFile, "/nats/nats.creds") || !strings.HasSuffix(cfg.NATS.TLS.CAFile, "/nats/ca.crt") ||
		cfg.NATS.TLS.CertFile != "" || cfg.NATS.Replicas != 3 {
		t.Errorf("rendered nats config %+v", cfg.NATS)
	}
	// shutdownDelay, not a preStop hook: one pause, and the kubelet's SIGKILL comes after both phases.
	if l := pod.Containers[0].Lifecycle; l != nil {
		t.Errorf("lifecycle %+v: the bridge's shutdownDelay is the pause, a preStop would add to it", l)
	}
	if cfg.ShutdownDelay == nil || cfg.ShutdownDelay.Duration != config.DefaultShutdownDelay {
		t.Errorf("shutdownDelay %v, want the cluster default %v", cfg.ShutdownDelay, config.DefaultShutdownDelay)
	}
	if grace := time.Duration(*pod.TerminationGracePeriodSeconds) * time.Second; cfg.ShutdownDelay.Duration+cfg.ShutdownTimeout.Duration >= grace {
		t.Errorf("shutdownDelay %v + shutdownTimeout %v reach terminationGracePeriodSeconds %v", cfg.ShutdownDelay, cfg.ShutdownTimeout, grace)
	}
	if !strings.Contains(m.notes, "Every replica takes webhooks") {
		t.Errorf("NOTES do not say every replica takes webhooks:\n%s", m.notes)
	}
}

// TestSingleReplicaDefaults: one replica gets no budget (a drain may move it), no spread, and
// the embedded log.
func TestSingleReplicaDefaults(t *testing.T) {
	m := render(t, "")
	if m.find("PodDisruptionBudget", fullname) != nil {
		t.Error("a PodDisruptionBudget for one replica: a drain could never move it")
	}
	pod := podSpec(t, m)
	if len(pod.TopologySpreadConstraints) != 0 {
		t.Errorf("topology spread with one replica: %+v", pod.TopologySpreadConstraints)
	}
	if cfg := renderedConfig(t, m); !cfg.NATS.Embedded() || cfg.NATS.Replicas != 1 {
		t.Errorf("nats %+v, want the embedded log", cfg.NATS)
	}
	if d := typed[appsv1.Deployment](t, m.mustFind(t, "Deployment", fullname)); d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %s of one replica without leader election, want RollingUpdate", d.Spec.Strategy.Type)
	}
	// The embedded log with leader election: only the leader takes webhooks and is
	// Ready, so a surge pod would wait forever for a Lease the old pod holds.
	le := render(t, "config: {leaderElection: {enabled: true}}")
	if d := typed[appsv1.Deployment](t, le.mustFind(t, "Deployment", fullname)); d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %s with leader election on the embedded log, want Recreate (a RollingUpdate never completes)", d.Spec.Strategy.Type)
	}
	m = render(t, "podDisruptionBudget: {enabled: true}")
	pdb := typed[policyv1.PodDisruptionBudget](t, m.mustFind(t, "PodDisruptionBudget", fullname))
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
		t.Errorf("pdb of one replica %+v, want maxUnavailable 1", pdb.Spec)
	}
}

// TestNATSFromSecret: every key of nats.* becomes one file of the Secret volume and the
// config.nats key the bridge reads it from, mutual TLS included; a Secret key that YAML
// would read as another type stays a string.
func TestNATSFromSecret(t *testing.T) {
	m := render(t, haValues+`  nats:
    replicas: 5
    stream: images-prod
`+"nats: {existingSecret: bridge-nats, urlKey: url, credsKey: 'true', caKey: ca.crt, certKey: client.crt, keyKey: client.key}\n")
	pod := podSpec(t, m)
	var items map[string]string
	for _, v := range pod.Volumes {
		if v.Name == "nats" && v.Secret != nil {
			items = map[string]string{}
			for _, it := range v.Secret.Items {
				items[it.Path] = it.Key
			}
		}
	}
	want := map[string]string{"url": "url", "nats.creds": "true", "ca.crt": "ca.crt", "tls.crt": "client.crt", "tls.key": "client.key"}
	if !cmp.Equal(items, want) {
		t.Errorf("nats volume items (path: key) %v, want %v", items, want)
	}
	cfg := renderedConfig(t, m)
	n := cfg.NATS
	if n.URL != "" || !strings.HasSuffix(n.URLFile, "/nats/url") || !strings.HasSuffix(n.CredsFile, "/nats/nats.creds") ||
		!strings.HasSuffix(n.TLS.CAFile, "/nats/ca.crt") || !strings.HasSuffix(n.TLS.CertFile, "/nats/tls.crt") ||
		!strings.HasSuffix(n.TLS.KeyFile, "/nats/tls.key") || n.Replicas != 5 || n.Stream != "images-prod" {
		t.Errorf("rendered nats config %+v", n)
	}
}

// TestHighAvailabilityRenderFails: combinations the bridge would refuse at start, or that
// would lose events, fail the render with a message that says why.
func TestHighAvailabilityRenderFails(t *testing.T) {
	const secret = "nats: {existingSecret: bridge-nats, "
	checkRenderFails(t, []renderFailure{
		{name: "replicas without a NATS cluster", values: "replicaCount: 2\nconfig: {leaderElection: {enabled: true}}",
			want: "more than one replica needs an external NATS JetStream cluster: set config.nats.url, or nats.existingSecret and nats.urlKey (docs/operations.md, High availability). With the embedded log each replica holds its own, so only the leader is Ready"},
		{name: "replicas without a NATS cluster, no schema", values: "replicaCount: 2\nconfig: {leaderElection: {enabled: true}}", skipSchema: true, want: "nats.urlKey"},
		{name: "replicas with only credentials", values: "replicaCount: 2\nconfig: {leaderElection: {enabled: true}}\n" + secret + "credsKey: creds}", want: "needs an external NATS JetStream cluster"},
		{name: "key without secret", values: "nats: {credsKey: creds}", want: "nats.credsKey needs nats.existingSecret"},
		{name: "secret without keys", values: "nats: {existingSecret: bridge-nats}", want: "nats.existingSecret is set but names no key"},
		{name: "url twice", values: secret + "urlKey: url}\nconfig: {nats: {url: 'nats://n:4222'}}", want: "nats.urlKey and config.nats.url (or urlFile) are both set: choose one"},
		{name: "url and urlFile", values: secret + "urlKey: url}\nconfig: {nats: {urlFile: /etc/nats-url}}", want: "nats.urlKey and config.nats.url (or urlFile)"},
		{name: "creds twice", values: secret + "urlKey: url, credsKey: creds}\nconfig: {nats: {credsFile: /etc/creds}}", want: "nats.credsKey and config.nats.credsFile are both set"},
		{name: "ca twice", values: secret + "urlKey: url, caKey: ca.crt}\nconfig: {nats: {tls: {caFile: /etc/ca.crt}}}", want: "nats.caKey and config.nats.tls.caFile are both set"},
		{name: "cert without key", values: secret + "urlKey: url, certKey: tls.crt}", want: "nats.certKey and nats.keyKey: set both"},
		{name: "credentials for the embedded server", values: secret + "credsKey: creds}", want: "nats.credsKey is only for an external NATS cluster"},
		{name: "tls for the embedded server", values: secret + "caKey: ca.crt}", want: "nats.caKey is only for an external NATS cluster"},
		{name: "password in the url", values: "config: {nats: {url: 'nats://bridge:s3cret@nats.nats.svc:4222'}}", want: "config.nats.url carries credentials"},
		{name: "replicas of the embedded stream", values: "config: {nats: {replicas: 3}}", want: "config.nats.replicas is 3, but the embedded NATS server"},
		{name: "replicas over the JetStream limit", values: "config: {nats: {url: 'nats://n:4222', replicas: 7}}", want: "replicas"},
	})
}
