package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// ImageStreamTags are views of a stream's tag, built as
// openshift-apiserver's imagestreamtag REST storage builds them (newISTag):
// the latest tag event's Image (manifest and config dropped) on GET, the
// image name and reference only in a list.

var istagResource = schema.GroupResource{Group: group, Resource: "imagestreamtags"}

func (e *Emulator) registerTags(mux *http.ServeMux) {
	const img = "/apis/image.openshift.io/v1"
	mux.HandleFunc("GET "+img+"/namespaces/{ns}/imagestreamtags/{name}", e.getStreamTag)
	mux.HandleFunc("GET "+img+"/namespaces/{ns}/imagestreamtags", e.listStreamTags)
	mux.HandleFunc("GET "+img+"/imagestreamtags", e.listStreamTags)
	mux.HandleFunc("DELETE "+img+"/namespaces/{ns}/imagestreamtags/{name}", e.deleteStreamTag)
}

// parseIstagName parses STREAM:TAG as the server does: exactly one colon,
// both parts non-empty, no digest.
func parseIstagName(s string) (stream, tag string, ok bool) {
	if strings.Contains(s, "@") {
		return "", "", false
	}
	parts := strings.Split(s, ":")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", "", false
	}
	return parts[0], parts[1], true
}

func (e *Emulator) getStreamTag(w http.ResponseWriter, r *http.Request) {
	ns, id := r.PathValue("ns"), r.PathValue("name")
	name, tag, ok := parseIstagName(id)
	if !ok {
		writeError(w, apierrors.NewBadRequest("ImageStreamTags must be retrieved with <name>:<tag>"))
		return
	}
	s := e.Stream(ns, name)
	if s == nil {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "imagestreams"}, name))
		return
	}
	ev := latestEvent(s, tag)
	if ev == nil {
		writeError(w, apierrors.NewNotFound(istagResource, id))
		return
	}
	img := e.Image(ev.Image)
	if img == nil {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "images"}, ev.Image))
		return
	}
	ist, err := newStreamTag(s, tag, ev, img, e.now())
	if err != nil {
		writeError(w, apierrors.NewInternalError(err))
		return
	}
	e.writeObject(w, r, ist)
}

func (e *Emulator) listStreamTags(w http.ResponseWriter, r *http.Request) {
	ns := r.PathValue("ns")
	list := imagev1.ImageStreamTagList{TypeMeta: metav1.TypeMeta{Kind: "ImageStreamTagList", APIVersion: "image.openshift.io/v1"}}
	list.Items = []imagev1.ImageStreamTag{}
	for _, s := range e.Streams() {
		if ns != "" && s.Namespace != ns {
			continue
		}
		for _, t := range s.Status.Tags {
			if ev := latestEvent(&s, t.Tag); ev != nil {
				ist, _ := newStreamTag(&s, t.Tag, ev, nil, time.Time{}) // no Image: no metadata pass, no error
				ist.TypeMeta = metav1.TypeMeta{}
				list.Items = append(list.Items, *ist)
			}
		}
	}
	e.mu.Lock()
	list.ResourceVersion = fmt.Sprint(e.rv)
	e.mu.Unlock()
	e.writeObject(w, r, &list)
}

// latestEvent is the tag's newest history entry, or nil when it has none.
func latestEvent(s *imagev1.ImageStream, tag string) *imagev1.TagEvent {
	for _, t := range s.Status.Tags {
		if t.Tag == tag && len(t.Items) > 0 && t.Items[0].Image != "" {
			return &t.Items[0]
		}
	}
	return nil
}

// newStreamTag builds the ImageStreamTag of tag; img nil gives the list form.
// Like the server's newISTag it re-runs InternalImageWithMetadata on the
// Image and fails with its error.
func newStreamTag(s *imagev1.ImageStream, tag string, ev *imagev1.TagEvent, img *imagev1.Image, now time.Time) (*imagev1.ImageStreamTag, error) {
	ist := &imagev1.ImageStreamTag{
		TypeMeta: metav1.TypeMeta{Kind: "ImageStreamTag", APIVersion: "image.openshift.io/v1"},
		ObjectMeta: metav1.ObjectMeta{
			Namespace: s.Namespace, Name: s.Name + ":" + tag, CreationTimestamp: ev.Created,
			Annotations: map[string]string{}, Labels: s.Labels, ResourceVersion: s.ResourceVersion, UID: s.UID,
		},
		Generation:   ev.Generation,
		LookupPolicy: s.Spec.LookupPolicy,
	}
	for _, t := range s.Status.Tags {
		if t.Tag == tag {
			ist.Conditions = t.Conditions
		}
	}
	var spec *imagev1.TagReference
	for i := range s.Spec.Tags {
		if s.Spec.Tags[i].Name == tag {
			spec = s.Spec.Tags[i].DeepCopy()
		}
	}
	if spec != nil {
		ist.Tag = spec
		if img != nil && img.Annotations == nil && len(spec.Annotations) > 0 {
			img.Annotations = map[string]string{}
		}
		for k, v := range spec.Annotations {
			ist.Annotations[k] = v
			if img != nil {
				img.Annotations[k] = v
			}
		}
	}
	if img != nil {
		if err := imageWithMetadata(img, now); err != nil {
			return nil, err
		}
		img.DockerImageManifest, img.DockerImageConfig = "", ""
		img.TypeMeta = metav1.TypeMeta{}
		ist.Image = *img
	} else {
		ist.Image.Name = ev.Image
	}
	ist.Image.DockerImageReference = ev.DockerImageReference
	// A local reference policy points pulls at the integrated registry's copy.
	if spec != nil && spec.ReferencePolicy.Type == imagev1.LocalTagReferencePolicy && s.Status.DockerImageRepository != "" {
		ist.Image.DockerImageReference = s.Status.DockerImageRepository + "@" + ev.Image
	}
	return ist, nil
}
