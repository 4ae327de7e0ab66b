package emulator

import (
	"fmt"
	"net/http"
	"path"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

const group = "image.openshift.io"

var streamNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// Media types whose layers the server reverses when the order annotation is missing.
var descendingByDefault = map[string]bool{
	"application/vnd.docker.distribution.manifest.v2+json": true,
	"application/vnd.oci.image.manifest.v1+json":           true,
}

var listTypes = map[string]bool{
	"application/vnd.docker.distribution.manifest.list.v2+json": true,
	"application/vnd.oci.image.index.v1+json":                   true,
}

func notFoundNamespace(ns string) error {
	return apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, ns)
}

// validPathSegment mirrors the API server's path segment name rule.
func validPathSegment(s string) bool {
	return s != "" && s != "." && s != ".." && !strings.ContainsAny(s, "/%")
}

// validateMapping applies ValidateImageStreamMapping's rules.
func validateMapping(m *imagev1.ImageStreamMapping) field.ErrorList {
	var errs field.ErrorList
	if !validPathSegment(m.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), m.Name, "must be a valid path segment"))
	}
	if m.Tag == "" {
		errs = append(errs, field.Required(field.NewPath("tag"), ""))
	}
	img := &m.Image
	ip := field.NewPath("image")
	if img.Name == "" {
		errs = append(errs, field.Required(ip.Child("metadata", "name"), ""))
	}
	if img.Namespace != "" {
		errs = append(errs, field.Invalid(ip.Child("metadata", "namespace"), img.Namespace, "must be empty"))
	}
	errs = append(errs, validateImage(img, ip)...)
	return errs
}

// validateImage applies ValidateImage's rules.
func validateImage(img *imagev1.Image, ip *field.Path) field.ErrorList {
	var errs field.ErrorList
	if img.DockerImageReference == "" {
		errs = append(errs, field.Required(ip.Child("dockerImageReference"), ""))
	} else if _, err := name.ParseReference(img.DockerImageReference, name.WeakValidation); err != nil {
		errs = append(errs, field.Invalid(ip.Child("dockerImageReference"), img.DockerImageReference, err.Error()))
	}
	if len(img.DockerImageManifests) > 0 {
		if len(img.DockerImageLayers) > 0 {
			errs = append(errs, field.Invalid(ip.Child("dockerImageLayers"), len(img.DockerImageLayers), "must be empty for manifest lists"))
		}
		for i, m := range img.DockerImageManifests {
			mp := ip.Child("dockerImageManifests").Index(i)
			if m.Architecture == "" {
				errs = append(errs, field.Required(mp.Child("architecture"), ""))
			}
			if m.OS == "" {
				errs = append(errs, field.Required(mp.Child("os"), ""))
			}
			if m.ManifestSize <= 0 {
				errs = append(errs, field.Invalid(mp.Child("manifestSize"), m.ManifestSize, "must be positive"))
			}
		}
	}
	return errs
}

// sameNamespace defaults an object's namespace to the URL's and answers 400 when they differ.
func sameNamespace(w http.ResponseWriter, objNS *string, urlNS string) bool {
	if *objNS == "" {
		*objNS = urlNS
		return true
	}
	if *objNS != urlNS {
		writeError(w, apierrors.NewBadRequest("the namespace of the provided object does not match the namespace sent on the request"))
		return false
	}
	return true
}

func (e *Emulator) createMapping(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	var m imagev1.ImageStreamMapping
	if err := decode(r, &m); err != nil {
		writeError(w, err)
		return
	}
	if !sameNamespace(w, &m.Namespace, ns) {
		return
	}
	gk := schema.GroupKind{Group: group, Kind: "ImageStreamMapping"}
	if errs := validateMapping(&m); len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(gk, m.Name, errs))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.namespaceExists(ns) {
		writeError(w, notFoundNamespace(ns))
		return
	}
	if msg, ok := e.quota[ns]; ok {
		writeError(w, apierrors.NewForbidden(schema.GroupResource{Group: group, Resource: "imagestreammappings"}, m.Name, fmt.Errorf("%s", msg)))
		return
	}
	stream, ok := e.streams[ns+"/"+m.Name]
	if !ok {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "imagestreammappings"}, m.Name))
		return
	}
	if !e.registryAllowed(m.Image.DockerImageReference) {
		writeError(w, apierrors.NewInvalid(gk, m.Name, field.ErrorList{field.Forbidden(field.NewPath("image", "dockerImageReference"),
			fmt.Sprintf("registry for %s is not allowed by allowedRegistriesForImport", m.Image.DockerImageReference))}))
		return
	}
	img, exists := e.images[m.Image.Name]
	if !exists {
		img = e.storeImage(&m.Image)
	}
	e.addTagEvent(stream, m.Tag, imagev1.TagEvent{
		Created:              metav1.NewTime(e.now()),
		DockerImageReference: m.Image.DockerImageReference,
		Image:                img.Name,
		Generation:           stream.Generation,
	})
	e.mappings = append(e.mappings, Mapping{ImageStreamMapping: *m.DeepCopy(), Received: e.now()})
	e.MappingCount.Add(1)
	writeJSON(w, http.StatusCreated, success())
}

// storeImage stores an image as the server's PrepareForCreate would leave it.
func (e *Emulator) storeImage(in *imagev1.Image) *imagev1.Image {
	img := in.DeepCopy()
	img.Signatures = nil
	if len(img.DockerImageLayers) > 0 {
		order, ok := img.Annotations["image.openshift.io/dockerLayersOrder"]
		if !ok && descendingByDefault[img.DockerImageManifestMediaType] {
			order = "descending"
		}
		if order == "descending" {
			l := img.DockerImageLayers
			for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
				l[i], l[j] = l[j], l[i]
			}
		}
		if img.Annotations == nil {
			img.Annotations = map[string]string{}
		}
		img.Annotations["image.openshift.io/dockerLayersOrder"] = "ascending"
	}
	if img.Annotations["image.openshift.io/manifestBlobStored"] == "true" {
		img.DockerImageManifest, img.DockerImageConfig = "", ""
	}
	if listTypes[img.DockerImageManifestMediaType] {
		img.DockerImageLayers = nil
	}
	img.UID = types.UID(fmt.Sprintf("uid-%d", e.rv+1))
	img.ResourceVersion = e.nextRV()
	img.CreationTimestamp = metav1.NewTime(e.now())
	e.images[img.Name] = img
	return img
}

// addTagEvent follows AddTagEventToImageStream: prepend a new event unless it
// repeats items[0], collapse same-reference or same-image updates in place.
func (e *Emulator) addTagEvent(s *imagev1.ImageStream, tag string, next imagev1.TagEvent) {
	idx := -1
	for i := range s.Status.Tags {
		if s.Status.Tags[i].Tag == tag {
			idx = i
		}
	}
	if idx < 0 || len(s.Status.Tags[idx].Items) == 0 {
		if idx < 0 {
			s.Status.Tags = append(s.Status.Tags, imagev1.NamedTagEventList{Tag: tag})
			idx = len(s.Status.Tags) - 1
		}
		s.Status.Tags[idx].Items = []imagev1.TagEvent{next}
		s.ResourceVersion = e.nextRV()
		return
	}
	t := &s.Status.Tags[idx]
	prev := &t.Items[0]
	sameRef := prev.DockerImageReference == next.DockerImageReference
	sameImage := prev.Image == next.Image
	switch {
	case sameRef && sameImage && prev.Generation == next.Generation:
		return
	case sameRef && sameImage:
	case sameRef:
		prev.Image = next.Image
	case sameImage:
		prev.DockerImageReference = next.DockerImageReference
	default:
		t.Conditions = nil
		t.Items = append([]imagev1.TagEvent{next}, t.Items...)
		s.ResourceVersion = e.nextRV()
		return
	}
	prev.Generation = next.Generation
	t.Conditions = nil
	s.ResourceVersion = e.nextRV()
}

func (e *Emulator) registryAllowed(ref string) bool {
	if len(e.allowed) == 0 {
		return true
	}
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return false
	}
	host := r.Context().RegistryStr()
	for _, a := range e.allowed {
		if ok, _ := path.Match(a, host); ok {
			return true
		}
	}
	return false
}

func (e *Emulator) createStream(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	var s imagev1.ImageStream
	if err := decode(r, &s); err != nil {
		writeError(w, err)
		return
	}
	if !sameNamespace(w, &s.Namespace, ns) {
		return
	}
	if !streamNameRE.MatchString(s.Name) || len(s.Name) > 255 {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Group: group, Kind: "ImageStream"}, s.Name,
			field.ErrorList{field.Invalid(field.NewPath("metadata", "name"), s.Name, "must match "+streamNameRE.String())}))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.namespaceExists(ns) {
		writeError(w, notFoundNamespace(ns))
		return
	}
	if _, ok := e.streams[ns+"/"+s.Name]; ok {
		writeError(w, apierrors.NewAlreadyExists(schema.GroupResource{Group: group, Resource: "imagestreams"}, s.Name))
		return
	}
	s.TypeMeta = metav1.TypeMeta{Kind: "ImageStream", APIVersion: "image.openshift.io/v1"}
	s.Generation = 1
	s.UID = types.UID(fmt.Sprintf("uid-%d", e.rv+1))
	s.ResourceVersion = e.nextRV()
	s.CreationTimestamp = metav1.NewTime(e.now())
	s.Status = imagev1.ImageStreamStatus{}
	e.streams[ns+"/"+s.Name] = &s
	writeJSON(w, http.StatusCreated, &s)
}

func (e *Emulator) getStream(w http.ResponseWriter, r *http.Request) {
	s := e.Stream(r.PathValue("ns"), r.PathValue("name"))
	if s == nil {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "imagestreams"}, r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, s)
}

func (e *Emulator) listStreams(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	list := imagev1.ImageStreamList{TypeMeta: metav1.TypeMeta{Kind: "ImageStreamList", APIVersion: "image.openshift.io/v1"}}
	for _, s := range e.Streams() {
		if ns == "" || s.Namespace == ns {
			s.TypeMeta = metav1.TypeMeta{}
			list.Items = append(list.Items, s)
		}
	}
	e.mu.Lock()
	list.ResourceVersion = fmt.Sprint(e.rv)
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, &list)
}

func (e *Emulator) createImage(w http.ResponseWriter, r *http.Request) {
	var img imagev1.Image
	if err := decode(r, &img); err != nil {
		writeError(w, err)
		return
	}
	errs := validateImage(&img, field.NewPath(""))
	if img.Name == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	if len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Group: group, Kind: "Image"}, img.Name, errs))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.images[img.Name]; ok {
		writeError(w, apierrors.NewAlreadyExists(schema.GroupResource{Group: group, Resource: "images"}, img.Name))
		return
	}
	stored := e.storeImage(&img)
	writeJSON(w, http.StatusCreated, stored)
}

func (e *Emulator) getImage(w http.ResponseWriter, r *http.Request) {
	img := e.Image(r.PathValue("name"))
	if img == nil {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "images"}, r.PathValue("name")))
		return
	}
	writeJSON(w, http.StatusOK, img)
}
