package emulator

import (
	"net/http"
	"runtime"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	{"imagestreamtags", "ImageStreamTag", true, []string{"get", "list"}, []string{"istag"}},
}

var coordinationResources = []resource{
	{"leases", "Lease", true, []string{"create", "get", "update"}, nil},
}

func (e *Emulator) registerDiscovery(mux *http.ServeMux) {
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, version.Info{
			Major: "1", Minor: "34", GitVersion: "v1.34.0-emulator", Platform: runtime.GOOS + "/" + runtime.GOARCH,
			GoVersion: runtime.Version(), Compiler: runtime.Compiler,
		})
	})
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
		writeJSON(w, http.StatusOK, resourceList("v1", nil))
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
