package charts

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// configDir is where the pod mounts config.yaml, secrets/ and tls/.
const configDir = "/etc/imagestream-bridge/"

// renderedConfig loads the rendered config.yaml with config.Parse, as the binary would in
// the pod: the files of the pod's volumes under /etc/imagestream-bridge are written to a
// temporary directory (a chart-made Secret's keys with their contents) and the config's
// paths are moved there, so a config that names a file the pod would not have fails here.
// With an existingSecret, whose keys are unknown, the files the config names in it are made up.
func renderedConfig(t *testing.T, m manifests) *config.Config {
	t.Helper()
	cm := typed[corev1.ConfigMap](t, m.mustFind(t, "ConfigMap", fullname))
	raw, ok := cm.Data["config.yaml"]
	if !ok {
		t.Fatal("ConfigMap has no config.yaml")
	}
	pod := podSpec(t, m)
	rendered := map[string]map[string][]byte{}
	for _, o := range m.objects {
		if o.GetKind() == "Secret" {
			rendered[o.GetName()] = typed[corev1.Secret](t, o).Data
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	dir := t.TempDir()
	write := func(rel string, content []byte) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	sawConfig := false
	for _, vm := range pod.Containers[0].VolumeMounts {
		rel, under := strings.CutPrefix(vm.MountPath, configDir)
		if !under {
			continue
		}
		v := volumes[vm.Name]
		switch {
		case v.ConfigMap != nil:
			if vm.MountPath != configDir+"config.yaml" || vm.SubPath != "config.yaml" || v.ConfigMap.Name != fullname {
				t.Fatalf("config mounted as %+v from %+v", vm, v)
			}
			sawConfig = true
		case v.Secret != nil && len(v.Secret.Items) > 0:
			for _, it := range v.Secret.Items {
				content := []byte("not-a-real-secret")
				if it.Path == "url" { // the NATS URL of nats.urlKey is checked as one
					content = []byte("nats://nats.nats.svc:4222")
				}
				write(filepath.Join(rel, it.Path), content)
			}
		case v.Secret != nil:
			data, ok := rendered[v.Secret.SecretName]
			if !ok { // an existing Secret: make up the files the config expects in it
				data = map[string][]byte{}
				for _, f := range regexp.MustCompile(regexp.QuoteMeta(vm.MountPath)+`/([^\s"']+)`).FindAllStringSubmatch(raw, -1) {
					data[f[1]] = []byte("not-a-real-secret")
				}
			}
			for key, content := range data {
				write(filepath.Join(rel, key), content)
			}
		default:
			t.Fatalf("unexpected volume %+v under %s", v, configDir)
		}
	}
	if !sawConfig {
		t.Fatal("config.yaml is not mounted")
	}
	t.Setenv("POD_NAMESPACE", releaseNS)
	cfg, err := config.Parse([]byte(strings.ReplaceAll(raw, configDir, dir+"/")))
	if err != nil {
		t.Fatalf("the bridge rejects the rendered config: %v\n%s", err, raw)
	}
	return cfg
}

func podSpec(t *testing.T, m manifests) corev1.PodSpec {
	t.Helper()
	if d := m.find("Deployment", fullname); d != nil {
		return typed[appsv1.Deployment](t, d).Spec.Template.Spec
	}
	return typed[appsv1.StatefulSet](t, m.mustFind(t, "StatefulSet", fullname)).Spec.Template.Spec
}

func TestRenderedConfigLoads(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		check        func(t *testing.T, c *config.Config)
	}{
		{"defaults", "", func(t *testing.T, c *config.Config) {
			if c.ListenAddress != ":8080" || c.DataDir != "" || c.LeaderElection.Enabled || !c.OpenShift.CreateStreams() ||
				c.ResyncInterval.String() != "10m0s" {
				t.Errorf("defaults: %+v", c)
			}
			tok, err := os.ReadFile(c.Registries[0].WebhookTokenFile)
			if err != nil || len(tok) < 32 {
				t.Errorf("webhook token file: %q, %v", tok, err)
			}
		}},
		{"all features", allFeatures, func(t *testing.T, c *config.Config) {
			if !c.LeaderElection.Enabled || c.LeaderElection.LeaseName != fullname || c.LeaderElection.Namespace != releaseNS {
				t.Errorf("leader election %+v", c.LeaderElection)
			}
			if !strings.HasSuffix(c.TLS.CertFile, "/tls/tls.crt") || !strings.HasSuffix(c.TLS.KeyFile, "/tls/tls.key") {
				t.Errorf("tls %+v", c.TLS)
			}
			if len(c.Registries) != 2 || !c.OpenShift.CreateChildImages {
				t.Fatalf("config %+v", c)
			}
			main, mirror := c.Registries[0], c.Registries[1]
			if tok, _ := os.ReadFile(main.WebhookTokenFile); string(tok) != "token-of-main" {
				t.Errorf("main token file holds %q", tok)
			}
			if pw, _ := os.ReadFile(main.PasswordFile); string(pw) != "password-of-main" || main.Username != "puller" {
				t.Errorf("main password file holds %q", pw)
			}
			if mirror.PasswordFile != "" || mirror.Mapping.Join != "-" || mirror.Mapping.StripPrefix != "mirror/" {
				t.Errorf("mirror %+v", mirror)
			}
		}},
		{"persistence", allFeaturesPersistent, func(t *testing.T, c *config.Config) {
			if c.DataDir != "/var/lib/imagestream-bridge" {
				t.Errorf("dataDir %q", c.DataDir)
			}
		}},
		{"every config key", `
config:
  logLevel: debug
  logFormat: text
  maxBodyBytes: 4194304
  queueSize: 50
  workers: 2
  resyncInterval: 0s
  shutdownTimeout: 5s
  leaderElection: {enabled: true, namespace: leases, leaseName: x, leaseDuration: 30s, renewDeadline: 20s, retryPeriod: 5s}
  retry: {initialBackoff: 1s, maxBackoff: 1m}
  registries:
    - name: main
      url: https://registry.example.com:5000
      referenceHost: registry.example.com
      namespaces: ["team-*"]
      mapping: {stripPrefix: mirror/, namespace: shared, join: _}
      repositories: [a/b]
      insecureSkipTLSVerify: true
      redirectHosts: [s3.example.com]
  openshift: {kubeconfig: "", createImageStreams: false, createChildImages: false, managedImages: true, qps: 5.5, burst: 10, timeout: 3s}
`, func(t *testing.T, c *config.Config) {
			if c.QueueSize != 50 || c.OpenShift.QPS != 5.5 || c.OpenShift.CreateStreams() || c.Retry.MaxBackoff.String() != "1m0s" ||
				c.MaxBodyBytes != 4<<20 || c.Registries[0].Mapping.Namespace != "shared" {
				t.Errorf("config %+v", c)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.check(t, renderedConfig(t, render(t, tc.values)))
		})
	}
}

// chartManaged are config keys the chart sets itself and keeps out of values.
var chartManaged = map[string]bool{
	"listenAddress": true, "tls": true,
	"registries.webhookToken": true, "registries.webhookTokenFile": true,
	"registries.password": true, "registries.passwordFile": true,
	// Rendered from the top-level clusters value, which mounts each kubeconfig (TestClustersSchemaMatchesConfig).
	"clusters": true,
}

// TestSchemaMatchesConfig keeps values.schema.json's config section in step with
// config.Config: the schema must not accept a key the binary rejects, and every key of
// the binary must be settable through the chart (or be one the chart manages).
func TestSchemaMatchesConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	schemaKeys := map[string]bool{}
	walkSchema(t, schema.Properties["config"], "", schemaKeys)
	structKeys := map[string]bool{}
	walkStruct(reflect.TypeOf(config.Config{}), "", structKeys)

	var extra, missing []string
	for k := range schemaKeys {
		if !structKeys[k] {
			extra = append(extra, k)
		}
	}
	for k := range structKeys {
		if !schemaKeys[k] && !chartManaged[k] && !chartManaged[strings.SplitN(k, ".", 2)[0]] {
			missing = append(missing, k)
		}
	}
	sort.Strings(extra)
	sort.Strings(missing)
	if len(extra) > 0 {
		t.Errorf("values.schema.json allows config keys the bridge does not know: %v", extra)
	}
	if len(missing) > 0 {
		t.Errorf("config keys missing from values.schema.json (add them under properties.config): %v", missing)
	}
}

func walkSchema(t *testing.T, raw json.RawMessage, prefix string, out map[string]bool) {
	t.Helper()
	var node struct {
		Type                 string                     `json:"type"`
		Properties           map[string]json.RawMessage `json:"properties"`
		Items                json.RawMessage            `json:"items"`
		AdditionalProperties json.RawMessage            `json:"additionalProperties"`
	}
	if err := json.Unmarshal(raw, &node); err != nil {
		t.Fatal(err)
	}
	if node.Type == "array" && node.Items != nil {
		walkSchema(t, node.Items, prefix, out)
		return
	}
	if node.Type != "object" {
		return
	}
	if len(node.Properties) == 0 && strings.HasPrefix(string(node.AdditionalProperties), "{") {
		return // a map (labels, annotations): free keys, its values' schema
	}
	if string(node.AdditionalProperties) != "false" {
		t.Errorf("schema of config%s must set additionalProperties: false (the bridge rejects unknown keys)", "."+prefix)
	}
	for k, v := range node.Properties {
		key := strings.TrimPrefix(prefix+"."+k, ".")
		out[key] = true
		walkSchema(t, v, key, out)
	}
}

var durationType = reflect.TypeOf(config.Duration{})

func walkStruct(typ reflect.Type, prefix string, out map[string]bool) {
	for typ.Kind() == reflect.Pointer || typ.Kind() == reflect.Slice {
		typ = typ.Elem()
	}
	if typ.Kind() != reflect.Struct || typ == durationType {
		return
	}
	for _, f := range reflect.VisibleFields(typ) {
		name := strings.Split(f.Tag.Get("json"), ",")[0]
		if name == "" || name == "-" || !f.IsExported() {
			continue // an embedded struct's keys are its fields' (config.Cluster embeds OpenShift)
		}
		key := strings.TrimPrefix(prefix+"."+name, ".")
		out[key] = true
		walkStruct(f.Type, key, out)
	}
}

// TestClustersSchemaMatchesConfig: the top-level clusters value takes every key of a
// config.clusters entry (kubeconfig inline instead of a path) plus kubeconfigSecret.
func TestClustersSchemaMatchesConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema struct {
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(b, &schema); err != nil {
		t.Fatal(err)
	}
	schemaKeys := map[string]bool{}
	walkSchema(t, schema.Properties["clusters"], "", schemaKeys)
	want := map[string]bool{"kubeconfigSecret": true, "kubeconfigSecret.name": true, "kubeconfigSecret.key": true}
	walkStruct(reflect.TypeOf(config.Cluster{}), "", want)
	if diff := cmp.Diff(want, schemaKeys); diff != "" {
		t.Errorf("values.schema.json clusters items vs config.Cluster (-want +got):\n%s", diff)
	}
}
