package emulator

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
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

// namespaceRE is a DNS-1123 label, the server's namespace name rule.
var namespaceRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

// maxRepositoryName is distribution's limit on a repository name, which the
// server applies to namespace/name.
const maxRepositoryName = 255

func validNamespace(ns string) bool { return len(ns) <= 63 && namespaceRE.MatchString(ns) }

// validateMapping applies ValidateImageStreamMapping's rules.
func validateMapping(m *imagev1.ImageStreamMapping) field.ErrorList {
	var errs field.ErrorList
	if !validPathSegment(m.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), m.Name, "must be a valid path segment"))
	}
	if !validNamespace(m.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), m.Namespace, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character, at most 63 characters"))
	}
	if m.Tag == "" {
		errs = append(errs, field.Required(field.NewPath("tag"), ""))
	}
	errs = append(errs, validateImage(&m.Image, field.NewPath("image"))...)
	return errs
}

// validateImage applies ValidateImage's rules.
func validateImage(img *imagev1.Image, ip *field.Path) field.ErrorList {
	var errs field.ErrorList
	if img.Name == "" {
		errs = append(errs, field.Required(ip.Child("metadata", "name"), ""))
	} else if !validPathSegment(img.Name) {
		errs = append(errs, field.Invalid(ip.Child("metadata", "name"), img.Name, "must be a valid path segment"))
	}
	if img.Namespace != "" {
		errs = append(errs, field.Forbidden(ip.Child("metadata", "namespace"), "not allowed on this type"))
	}
	if img.DockerImageReference == "" {
		errs = append(errs, field.Required(ip.Child("dockerImageReference"), ""))
	} else if _, err := name.ParseReference(img.DockerImageReference, name.WeakValidation); err != nil {
		errs = append(errs, field.Invalid(ip.Child("dockerImageReference"), img.DockerImageReference, err.Error()))
	} else if err := refNameTooLong(img.DockerImageReference); err != nil {
		errs = append(errs, field.Invalid(ip.Child("dockerImageReference"), img.DockerImageReference, err.Error()))
	}
	if len(img.DockerImageManifests) > 0 {
		errs = append(errs, validateImageManifests(img.DockerImageManifests, ip.Child("dockerImageManifests"))...)
		if len(img.DockerImageLayers) > 0 {
			errs = append(errs, field.Invalid(ip.Child("dockerImageLayers"), len(img.DockerImageLayers), "dockerImageLayers should not be set when dockerImageManifests is set"))
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
	if err := e.admitImageLimit(ns, &m.Image); err != nil {
		writeError(w, apierrors.NewForbidden(schema.GroupResource{Group: group, Resource: "imagestreammappings"}, m.Name, err))
		return
	}
	stream, ok := e.streams[ns+"/"+m.Name]
	if !ok {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "imagestreammappings"}, m.Name))
		return
	}
	// The Image is created (or found) first, as the server's REST Create does.
	img, created, errs := e.createImageLocked(&m.Image)
	if len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Group: group, Kind: "Image"}, m.Image.Name, errs))
		return
	}
	ref := m.Image.DockerImageReference
	if !created && m.Image.Annotations[annManaged] == "true" {
		// An Image the integrated registry manages, already stored (most likely
		// tagged in another stream): the server points the tag at this stream.
		if repo := e.dockerImageRepository(stream); repo != "" {
			ref = repo + "@" + img.Name
		}
	}
	next := imagev1.TagEvent{
		Created:              metav1.NewTime(e.now()),
		DockerImageReference: ref,
		Image:                img.Name,
		Generation:           stream.Generation,
	}
	updated := stream.DeepCopy()
	if e.addTagEvent(updated, m.Tag, next) {
		e.updateTrackingTags(updated, m.Tag, next)
		// The status update is validated like any other: references new to the
		// stream must come from allowedRegistriesForImport. The Image stays stored.
		if errs := e.validateStatusRefs(stream, updated); len(errs) > 0 {
			writeError(w, apierrors.NewInvalid(schema.GroupKind{Group: group, Kind: "ImageStream"}, stream.Name, errs))
			return
		}
		updated.ResourceVersion = e.nextRV()
		e.streams[ns+"/"+m.Name] = updated
	}
	e.mappings = append(e.mappings, Mapping{ImageStreamMapping: *m.DeepCopy(), Received: e.now()})
	e.MappingCount.Add(1)
	writeJSON(w, http.StatusCreated, success())
}

// createImageLocked runs the image strategy and stores the Image unless one
// with its name exists (then created is false and the stored one is returned).
func (e *Emulator) createImageLocked(in *imagev1.Image) (img *imagev1.Image, created bool, errs field.ErrorList) {
	img = in.DeepCopy()
	prepareImage(img, e.now())
	if errs := validateImage(img, field.NewPath("")); len(errs) > 0 {
		return nil, false, errs
	}
	if old, ok := e.images[img.Name]; ok {
		return old, false, nil
	}
	img.UID = types.UID(fmt.Sprintf("uid-%d", e.rv+1))
	img.ResourceVersion = e.nextRV()
	img.CreationTimestamp = metav1.NewTime(e.now())
	e.images[img.Name] = img
	return img, true, nil
}

// dockerImageRepository is the stream's status.dockerImageRepository as the
// server decorates it: INTERNAL-REGISTRY/ns/name, or spec.dockerImageRepository
// when no internal registry is configured.
func (e *Emulator) dockerImageRepository(s *imagev1.ImageStream) string {
	if e.internalRegistry == "" {
		return s.Spec.DockerImageRepository
	}
	return e.internalRegistry + "/" + s.Namespace + "/" + s.Name
}

func (e *Emulator) decorate(s *imagev1.ImageStream) {
	s.Status.DockerImageRepository = e.dockerImageRepository(s)
}

// updateTrackingTags follows UpdateTrackingTags: spec tags whose from is an
// ImageStreamTag of this stream's updated tag get the same event.
func (e *Emulator) updateTrackingTags(s *imagev1.ImageStream, updatedTag string, next imagev1.TagEvent) {
	for _, ref := range s.Spec.Tags {
		if ref.From == nil || ref.From.Kind != "ImageStreamTag" {
			continue
		}
		if ref.From.Namespace != "" && ref.From.Namespace != s.Namespace {
			continue
		}
		stream, tag := s.Name, ref.From.Name
		if strings.Contains(ref.From.Name, ":") {
			var ok bool
			if stream, tag, ok = splitStreamTag(ref.From.Name); !ok {
				continue
			}
		}
		if stream != s.Name || tag != updatedTag {
			continue
		}
		e.addTagEvent(s, ref.Name, next)
	}
}

// validateStatusRefs is ValidateImageStreamStatusUpdate's registry check:
// every reference in the new status that the old one lacks must be allowed.
func (e *Emulator) validateStatusRefs(old, updated *imagev1.ImageStream) field.ErrorList {
	known := map[string]bool{}
	for _, t := range old.Status.Tags {
		for _, it := range t.Items {
			known[it.DockerImageReference] = true
		}
	}
	var errs field.ErrorList
	for _, t := range updated.Status.Tags {
		for i, it := range t.Items {
			if known[it.DockerImageReference] || e.registryAllowed(it.DockerImageReference, insecureTag(updated, t.Tag)) {
				continue
			}
			errs = append(errs, field.Forbidden(field.NewPath("status", "tags").Key(t.Tag).Child("items").Index(i).Child("dockerImageReference"),
				fmt.Sprintf("registry for %s is not allowed by allowedRegistriesForImport", it.DockerImageReference)))
		}
	}
	return errs
}

// addTagEvent follows AddTagEventToImageStream: prepend a new event unless it
// repeats items[0], collapse same-reference or same-image updates in place.
// It reports whether the stream changed.
func (e *Emulator) addTagEvent(s *imagev1.ImageStream, tag string, next imagev1.TagEvent) bool {
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
		return true
	}
	t := &s.Status.Tags[idx]
	prev := &t.Items[0]
	sameRef := prev.DockerImageReference == next.DockerImageReference
	sameImage := prev.Image == next.Image
	switch {
	case sameRef && sameImage && prev.Generation == next.Generation:
		return false
	case sameRef && sameImage:
	case sameRef:
		prev.Image = next.Image
	case sameImage:
		prev.DockerImageReference = next.DockerImageReference
	default:
		t.Conditions = nil
		t.Items = append([]imagev1.TagEvent{next}, t.Items...)
		return true
	}
	prev.Generation = next.Generation
	t.Conditions = nil
	return true
}

// insecureTag reports whether references of tag may use any transport: the
// stream is marked insecure, or the tag's spec import policy is.
func insecureTag(s *imagev1.ImageStream, tag string) bool {
	if s.Annotations[insecureRepositoryAnnotation] == "true" {
		return true
	}
	for _, t := range s.Spec.Tags {
		if t.Name == tag && t.ImportPolicy.Insecure {
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
	var errs field.ErrorList
	if !validPathSegment(s.Name) || !streamNameRE.MatchString(s.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), s.Name, "must match "+streamNameRE.String()))
	}
	if !validNamespace(s.Namespace) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "namespace"), s.Namespace, "a lowercase RFC 1123 label, at most 63 characters"))
	}
	if len(s.Namespace+"/"+s.Name) > maxRepositoryName {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), s.Name, fmt.Sprintf("'namespace/name' cannot be longer than %d characters", maxRepositoryName)))
	}
	// The server's ValidateObjectMeta: labels and annotations as every object has them. They,
	// like spec.lookupPolicy, are stored as sent.
	errs = append(errs, metav1validation.ValidateLabels(s.Labels, field.NewPath("metadata", "labels"))...)
	errs = append(errs, apivalidation.ValidateAnnotations(s.Annotations, field.NewPath("metadata", "annotations"))...)
	if len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Group: group, Kind: "ImageStream"}, s.Name, errs))
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
	out := s.DeepCopy()
	e.decorate(out)
	writeJSON(w, http.StatusCreated, out)
}

func (e *Emulator) getStream(w http.ResponseWriter, r *http.Request) {
	s := e.Stream(r.PathValue("ns"), r.PathValue("name"))
	if s == nil {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "imagestreams"}, r.PathValue("name")))
		return
	}
	e.writeObject(w, r, s)
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
	e.writeObject(w, r, &list)
}

func (e *Emulator) createImage(w http.ResponseWriter, r *http.Request) {
	var img imagev1.Image
	if err := decode(r, &img); err != nil {
		writeError(w, err)
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	stored, created, errs := e.createImageLocked(&img)
	if len(errs) > 0 {
		writeError(w, apierrors.NewInvalid(schema.GroupKind{Group: group, Kind: "Image"}, img.Name, errs))
		return
	}
	if !created {
		writeError(w, apierrors.NewAlreadyExists(schema.GroupResource{Group: group, Resource: "images"}, img.Name))
		return
	}
	writeJSON(w, http.StatusCreated, stored)
}

func (e *Emulator) getImage(w http.ResponseWriter, r *http.Request) {
	img := e.Image(r.PathValue("name"))
	if img == nil {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "images"}, r.PathValue("name")))
		return
	}
	e.writeObject(w, r, img)
}
