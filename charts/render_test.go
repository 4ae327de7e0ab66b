// Package charts tests the Helm chart in charts/imagestream-bridge: it lints it with
// Helm's own linter, renders it with Helm's engine for several value sets, decodes
// every object strictly, checks RBAC, the rendered config and the monitoring files.
package charts

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	routev1 "github.com/openshift/api/route/v1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "imagestream-bridge"
	releaseName = "isb"
	releaseNS   = "images"
	fullname    = "isb-imagestream-bridge"
	kubeVersion = "v1.31.0"
)

var (
	loadOnce   sync.Once
	loadedErr  error
	loadedChrt *chart.Chart
)

func loadChart(t *testing.T) *chart.Chart {
	t.Helper()
	loadOnce.Do(func() { loadedChrt, loadedErr = loader.Load(chartDir) })
	if loadedErr != nil {
		t.Fatalf("load chart: %v", loadedErr)
	}
	return loadedChrt
}

// values parses a YAML values override; "" means the chart's defaults.
func values(t *testing.T, s string) map[string]any {
	t.Helper()
	v, err := chartutil.ReadValues([]byte(s))
	if err != nil {
		t.Fatalf("parse test values: %v\n%s", err, s)
	}
	return v.AsMap()
}

// renderErr renders the chart as `helm template` would, schema validation included.
func renderErr(t *testing.T, vals map[string]any, skipSchema bool) (map[string]string, error) {
	t.Helper()
	return renderAPIs(t, vals, skipSchema)
}

// renderAPIs renders on a cluster that also serves the given API group versions
// (e.g. "route.openshift.io/v1" on OpenShift), as `helm template --api-versions` does.
func renderAPIs(t *testing.T, vals map[string]any, skipSchema bool, apiVersions ...string) (map[string]string, error) {
	t.Helper()
	c := loadChart(t)
	kv, err := chartutil.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps := chartutil.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	caps.APIVersions = append(slices.Clone(caps.APIVersions), apiVersions...)
	rv, err := chartutil.ToRenderValuesWithSchemaValidation(c, vals,
		chartutil.ReleaseOptions{Name: releaseName, Namespace: releaseNS, IsInstall: true}, caps, skipSchema)
	if err != nil {
		return nil, err
	}
	return engine.Render(c, rv)
}

// manifests is a rendered release: its objects, each also strictly decoded into its
// Go type (keyed by objKey), and its NOTES.txt.
type manifests struct {
	objects []*unstructured.Unstructured
	decoded map[string]runtime.Object
	notes   string
}

func render(t *testing.T, valuesYAML string, apiVersions ...string) manifests {
	t.Helper()
	files, err := renderAPIs(t, values(t, valuesYAML), false, apiVersions...)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	return decodeAll(t, files)
}

func init() {
	// OpenShift Routes and the prometheus-operator kinds (ServiceMonitor,
	// PrometheusRule) decode strictly too.
	if err := routev1.Install(scheme.Scheme); err != nil {
		panic(err)
	}
	if err := monitoringv1.AddToScheme(scheme.Scheme); err != nil {
		panic(err)
	}
}

// strictDecoder fails on unknown and duplicate fields of the built-in kinds, Routes
// and the monitoring.coreos.com/v1 kinds.
var strictDecoder = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()

// decodeAll splits every rendered template into documents and decodes each one: as an
// unstructured object, and strictly into its Go type (client-go, Route or
// prometheus-operator); a kind none of them knows fails the test.
func decodeAll(t *testing.T, files map[string]string) manifests {
	t.Helper()
	m := manifests{decoded: map[string]runtime.Object{}}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	seen := map[string]string{}
	for _, name := range names {
		content := files[name]
		if strings.HasSuffix(name, "NOTES.txt") {
			m.notes = content
			continue
		}
		for i, doc := range splitYAML(content) {
			where := fmt.Sprintf("%s (document %d)", name, i)
			var obj map[string]any
			if err := yaml.UnmarshalStrict([]byte(doc), &obj); err != nil {
				t.Fatalf("%s: not YAML: %v\n%s", where, err, doc)
			}
			if obj == nil {
				continue
			}
			u := &unstructured.Unstructured{Object: obj}
			if u.GetAPIVersion() == "" || u.GetKind() == "" || u.GetName() == "" {
				t.Fatalf("%s: apiVersion, kind and metadata.name are required\n%s", where, doc)
			}
			gvk := u.GroupVersionKind()
			if !scheme.Scheme.Recognizes(gvk) {
				t.Fatalf("%s: unexpected kind %s", where, gvk)
			}
			typedObj, _, err := strictDecoder.Decode([]byte(doc), nil, nil)
			if err != nil {
				t.Fatalf("%s: %s does not decode strictly: %v\n%s", where, gvk.Kind, err, doc)
			}
			key := objKey(u)
			if prev, dup := seen[key]; dup {
				t.Fatalf("%s: %s is also rendered by %s", where, key, prev)
			}
			seen[key] = where
			m.objects = append(m.objects, u)
			m.decoded[key] = typedObj
		}
	}
	return m
}

func splitYAML(s string) []string {
	var docs []string
	for _, d := range strings.Split("\n"+s, "\n---") {
		if strings.TrimSpace(stripComments(d)) != "" {
			docs = append(docs, d)
		}
	}
	return docs
}

func stripComments(s string) string {
	var b bytes.Buffer
	for _, l := range strings.Split(s, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func objKey(u *unstructured.Unstructured) string {
	return u.GetKind() + "/" + u.GetNamespace() + "/" + u.GetName()
}

// kinds lists "Kind/namespace/name" of every object, sorted.
func (m manifests) kinds() []string {
	var out []string
	for _, o := range m.objects {
		out = append(out, objKey(o))
	}
	sort.Strings(out)
	return out
}

func (m manifests) find(kind, name string) *unstructured.Unstructured {
	for _, o := range m.objects {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

func (m manifests) mustFind(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := m.find(kind, name)
	if o == nil {
		t.Fatalf("no %s %q rendered; have %v", kind, name, m.kinds())
	}
	return o
}

// typed converts an unstructured object into its client-go type.
func typed[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("convert %s: %v", objKey(u), err)
	}
	return out
}
