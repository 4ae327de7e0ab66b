package emulator

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
)

// Discovery: the legacy (non-aggregated) documents a real API server serves,
// so that kubectl, oc and client-go's discovery client find the resources
// the emulator answers. Only those resources and verbs are advertised; a
// client asking for aggregated discovery gets these plain documents, which it
// accepts as a server without aggregated discovery.

// resource is one advertised API resource.
type resource struct {
	name, kind string
	namespaced bool
	verbs      []string
	short      []string
}

// imageResources are the image.openshift.io/v1 resources the emulator serves,
// with the real server's kinds and short names.
var imageResources = []resource{
	{"images", "Image", false, []string{"create", "get"}, nil},
	{"imagestreammappings", "ImageStreamMapping", true, []string{"create"}, nil},
	{"imagestreams", "ImageStream", true, []string{"create", "get", "list"}, []string{"is"}},
	{"imagestreamtags", "ImageStreamTag", true, []string{"delete", "get", "list"}, []string{"istag"}},
}

var coreResources = []resource{
	{"namespaces", "Namespace", false, []string{"get", "list"}, []string{"ns"}},
}

var coordinationResources = []resource{
	{"leases", "Lease", true, []string{"create", "get", "update"}, nil},
}

func (e *Emulator) registerDiscovery(mux *http.ServeMux) {
	major, minor := kubeVersion()
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, version.Info{
			Major: major, Minor: minor, GitVersion: "v" + major + "." + minor + ".0-emulator",
			Platform: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version(), Compiler: runtime.Compiler,
		})
	})
	mux.HandleFunc("GET /api/v1/namespaces", e.listNamespaces)
	mux.HandleFunc("GET /api/v1/namespaces/{name}", e.getNamespace)
	mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, metav1.APIVersions{
			TypeMeta: metav1.TypeMeta{Kind: "APIVersions"},
			Versions: []string{"v1"},
			ServerAddressByClientCIDRs: []metav1.ServerAddressByClientCIDR{
				{ClientCIDR: "0.0.0.0/0", ServerAddress: r.Host},
			},
		})
	})
	mux.HandleFunc("GET /api/v1", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, resourceList("v1", coreResources))
	})
	groups := []struct {
		name      string
		resources []resource
	}{{group, imageResources}, {"coordination.k8s.io", coordinationResources}}
	list := metav1.APIGroupList{TypeMeta: metav1.TypeMeta{Kind: "APIGroupList", APIVersion: "v1"}}
	for _, g := range groups {
		gv := metav1.GroupVersionForDiscovery{GroupVersion: g.name + "/v1", Version: "v1"}
		ag := metav1.APIGroup{
			TypeMeta: metav1.TypeMeta{Kind: "APIGroup", APIVersion: "v1"},
			Name:     g.name, Versions: []metav1.GroupVersionForDiscovery{gv}, PreferredVersion: gv,
		}
		list.Groups = append(list.Groups, ag)
		rl := resourceList(g.name+"/v1", g.resources)
		mux.HandleFunc("GET /apis/"+g.name, func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, ag) })
		mux.HandleFunc("GET /apis/"+g.name+"/v1", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, rl) })
	}
	mux.HandleFunc("GET /apis", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, list) })
}

// kubeVersion is the Kubernetes minor the emulator's API types come from
// (client-go v0.N is Kubernetes 1.N).
func kubeVersion() (major, minor string) {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == "k8s.io/client-go" {
				parts := strings.Split(strings.TrimPrefix(m.Version, "v"), ".")
				if len(parts) >= 2 && parts[0] == "0" {
					return "1", parts[1]
				}
			}
		}
	}
	return "1", "0"
}

// namespaceNames lists the namespaces that exist: the configured set, or,
// when every namespace exists, those that hold streams or leases.
func (e *Emulator) namespaceNames() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	set := map[string]bool{}
	if e.namespaces != nil {
		set = e.namespaces
	} else {
		for k := range e.streams {
			ns, _, _ := strings.Cut(k, "/")
			set[ns] = true
		}
		for k := range e.leases {
			ns, _, _ := strings.Cut(k, "/")
			set[ns] = true
		}
	}
	out := make([]string, 0, len(set))
	for ns := range set {
		out = append(out, ns)
	}
	sort.Strings(out)
	return out
}

func namespace(name string) corev1.Namespace {
	return corev1.Namespace{
		TypeMeta:   metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"},
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
}

func (e *Emulator) listNamespaces(w http.ResponseWriter, _ *http.Request) {
	list := corev1.NamespaceList{TypeMeta: metav1.TypeMeta{Kind: "NamespaceList", APIVersion: "v1"}, Items: []corev1.Namespace{}}
	for _, ns := range e.namespaceNames() {
		n := namespace(ns)
		n.TypeMeta = metav1.TypeMeta{}
		list.Items = append(list.Items, n)
	}
	writeJSON(w, http.StatusOK, &list)
}

func (e *Emulator) getNamespace(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	e.mu.Lock()
	ok := e.namespaceExists(name)
	e.mu.Unlock()
	if !ok {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, name))
		return
	}
	writeJSON(w, http.StatusOK, namespace(name))
}

func resourceList(gv string, rs []resource) metav1.APIResourceList {
	l := metav1.APIResourceList{
		TypeMeta:     metav1.TypeMeta{Kind: "APIResourceList", APIVersion: "v1"},
		GroupVersion: gv, APIResources: []metav1.APIResource{},
	}
	for _, r := range rs {
		l.APIResources = append(l.APIResources, metav1.APIResource{
			Name: r.name, Kind: r.kind, Namespaced: r.namespaced, Verbs: r.verbs, ShortNames: r.short,
		})
	}
	return l
}
