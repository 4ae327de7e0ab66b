// Package emulator is an OpenShift image API server in miniature, for the
// demo, the tests and the benchmark. It is not a mock: it enforces the real
// server's rules for ImageStreamMappings, no stricter and no looser
// (validation incl. list children and name limits, the 201 Status answer, the
// 404 details of a missing stream or namespace, the image strategy's metadata
// and layer order, existing Images kept and managed ones re-referenced to the
// stream's status.dockerImageRepository, tag history prepended and collapsed
// as AddTagEventToImageStream does, tracking tags, allowedRegistriesForImport
// at the stream update as the server's whitelister matches it, the image
// LimitRange admission), serves image stream lists, ImageStreamTags (get, which
// re-runs the metadata pass and fails with it, list, and delete as the
// server's REST does it), Images (each also as the Table kubectl get asks
// for, with the server's printer columns) and
// coordination.k8s.io Leases, and can inject faults. Each New emulator is one
// cluster and shares no state with another: run one per cluster.
package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultInternalRegistry is the integrated registry's service address on OpenShift 4.
const DefaultInternalRegistry = "image-registry.openshift-image-registry.svc:5000"

// Emulator holds the state of the emulated API server.
type Emulator struct {
	mu         sync.Mutex
	namespaces map[string]bool  // nil: every namespace exists
	allowed    []hostPort       // allowedRegistriesForImport entries; empty: any
	imageLimit map[string]int64 // namespace: max storage of an openshift.io/Image LimitRange
	quota      map[string]string
	streams    map[string]*imagev1.ImageStream
	images     map[string]*imagev1.Image
	leases     map[string]*coordinationv1.Lease
	mappings   []Mapping
	faults     []*Fault
	rv         int64
	mux        *http.ServeMux
	now        func() time.Time

	// MappingCount counts mapping requests answered 201.
	MappingCount atomic.Int64

	// internalRegistry is the integrated registry's host[:port]: streams'
	// status.dockerImageRepository, always allowed. Default DefaultInternalRegistry.
	internalRegistry string
}

// Mapping is one accepted ImageStreamMapping, with when it arrived.
type Mapping struct {
	imagev1.ImageStreamMapping
	Received time.Time
}

// New returns an empty emulator in which every namespace exists.
func New() *Emulator {
	e := &Emulator{
		streams: map[string]*imagev1.ImageStream{},
		images:  map[string]*imagev1.Image{},
		leases:  map[string]*coordinationv1.Lease{},
		quota:   map[string]string{},

		imageLimit: map[string]int64{},
		now:        time.Now,

		internalRegistry: DefaultInternalRegistry,
	}
	const img = "/apis/image.openshift.io/v1"
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+img+"/namespaces/{ns}/imagestreammappings", e.createMapping)
	mux.HandleFunc("POST "+img+"/namespaces/{ns}/imagestreams", e.createStream)
	mux.HandleFunc("GET "+img+"/namespaces/{ns}/imagestreams", e.listStreams)
	mux.HandleFunc("GET "+img+"/imagestreams", e.listStreams)
	mux.HandleFunc("GET "+img+"/namespaces/{ns}/imagestreams/{name}", e.getStream)
	mux.HandleFunc("POST "+img+"/images", e.createImage)
	mux.HandleFunc("GET "+img+"/images/{name}", e.getImage)
	const coord = "/apis/coordination.k8s.io/v1/namespaces/{ns}/leases"
	mux.HandleFunc("GET "+coord+"/{name}", e.getLease)
	mux.HandleFunc("POST "+coord, e.createLease)
	mux.HandleFunc("PUT "+coord+"/{name}", e.updateLease)
	e.registerTags(mux)
	e.registerDiscovery(mux)
	e.mux = mux
	return e
}

// SetNamespaces makes only these namespaces exist (nil: all exist).
func (e *Emulator) SetNamespaces(ns ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.namespaces = map[string]bool{}
	for _, n := range ns {
		e.namespaces[n] = true
	}
}

// SetInternalRegistry sets the integrated registry's host[:port] ("" : none, then
// status.dockerImageRepository is spec.dockerImageRepository).
func (e *Emulator) SetInternalRegistry(host string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.internalRegistry = host
}

// SetQuotaExceeded makes mappings in ns fail with the server's 403 quota message.
func (e *Emulator) SetQuotaExceeded(ns string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.quota[ns] = "exceeded quota: openshift-object-counts, requested: openshift.io/imagestreams=1, used: openshift.io/imagestreams=10, limited: openshift.io/imagestreams=10"
}

// ServeHTTP applies faults, then serves the API.
func (e *Emulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if e.fault(w, r) {
		return
	}
	e.mux.ServeHTTP(w, r)
}

// Stream returns a copy of an image stream, or nil.
func (e *Emulator) Stream(ns, name string) *imagev1.ImageStream {
	e.mu.Lock()
	defer e.mu.Unlock()
	s, ok := e.streams[ns+"/"+name]
	if !ok {
		return nil
	}
	out := s.DeepCopy()
	e.decorate(out)
	return out
}

// Image returns a copy of an Image, or nil.
func (e *Emulator) Image(name string) *imagev1.Image {
	e.mu.Lock()
	defer e.mu.Unlock()
	i, ok := e.images[name]
	if !ok {
		return nil
	}
	return i.DeepCopy()
}

// Mappings returns every accepted mapping in arrival order.
func (e *Emulator) Mappings() []Mapping {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Mapping(nil), e.mappings...)
}

// TagHistory returns the image digests of a tag's history, newest first.
func (e *Emulator) TagHistory(ns, stream, tag string) []string {
	s := e.Stream(ns, stream)
	if s == nil {
		return nil
	}
	for _, t := range s.Status.Tags {
		if t.Tag == tag {
			out := make([]string, len(t.Items))
			for i, it := range t.Items {
				out[i] = it.Image
			}
			return out
		}
	}
	return nil
}

// Streams returns copies of all streams sorted by namespace/name.
func (e *Emulator) Streams() []imagev1.ImageStream {
	e.mu.Lock()
	defer e.mu.Unlock()
	keys := make([]string, 0, len(e.streams))
	for k := range e.streams {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]imagev1.ImageStream, 0, len(keys))
	for _, k := range keys {
		s := e.streams[k].DeepCopy()
		e.decorate(s)
		out = append(out, *s)
	}
	return out
}

func (e *Emulator) nextRV() string {
	e.rv++
	return strconv.FormatInt(e.rv, 10)
}

func (e *Emulator) namespaceExists(ns string) bool {
	return e.namespaces == nil || e.namespaces[ns]
}

// writeJSON writes obj with status.
func writeJSON(w http.ResponseWriter, status int, obj any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(obj)
}

// writeError writes an API error as the server does: a v1 Status.
func writeError(w http.ResponseWriter, err error) {
	st, ok := err.(apierrors.APIStatus)
	if !ok {
		st = apierrors.NewInternalError(err)
	}
	s := st.Status()
	s.TypeMeta = metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}
	if s.Details != nil && s.Details.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(s.Details.RetryAfterSeconds)))
	}
	writeJSON(w, int(s.Code), s)
}

// success is the answer to a created mapping.
func success() metav1.Status {
	return metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess, Code: http.StatusCreated}
}

func decode(r *http.Request, into any) error {
	if err := json.NewDecoder(http.MaxBytesReader(nil, r.Body, 64<<20)).Decode(into); err != nil {
		return apierrors.NewBadRequest(fmt.Sprintf("decode body: %v", err))
	}
	return nil
}
