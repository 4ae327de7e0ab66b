package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Deleting an ImageStreamTag follows openshift-apiserver's imagestreamtag
// REST Delete: it removes the tag from the stream (its status entry, with the
// whole history and conditions, and its spec entry), never the Image. The
// stream is then written with the internal update strategy: status kept as
// changed, generation raised only when the spec changed, resourceVersion
// bumped. Errors:
//
//   - a name that is not STREAM:TAG: 400 "ImageStreamTags must be retrieved with <name>:<tag>";
//   - the stream missing (in a missing namespace too): 404 for imagestreams STREAM;
//   - a deleteOptions UID precondition that is not the stream's UID: 409;
//   - the tag neither in spec nor in status: 404 for imagestreamtags STREAM:TAG.
//
// Success is 200 with a bare v1 Status {status: Success} (no code, no details:
// the REST returns its own Status, so the handler does not fill one in).
// Preconditions on resourceVersion are not checked, as the server does not.

func (e *Emulator) deleteStreamTag(w http.ResponseWriter, r *http.Request) {
	ns, id := r.PathValue("ns"), r.PathValue("name")
	opts, err := deleteOptions(r)
	if err != nil {
		writeError(w, err)
		return
	}
	name, tag, ok := parseIstagName(id)
	if !ok {
		writeError(w, apierrors.NewBadRequest("ImageStreamTags must be retrieved with <name>:<tag>"))
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	stream, ok := e.streams[ns+"/"+name]
	if !ok {
		writeError(w, apierrors.NewNotFound(schema.GroupResource{Group: group, Resource: "imagestreams"}, name))
		return
	}
	if pre := opts.Preconditions; pre != nil && pre.UID != nil && *pre.UID != stream.UID {
		writeError(w, apierrors.NewConflict(istagResource, id, fmt.Errorf("the UID precondition was not met")))
		return
	}
	updated := stream.DeepCopy()
	inStatus, inSpec := false, false
	for i, t := range updated.Status.Tags {
		if t.Tag == tag {
			updated.Status.Tags = append(updated.Status.Tags[:i:i], updated.Status.Tags[i+1:]...)
			inStatus = true
			break
		}
	}
	for i, t := range updated.Spec.Tags {
		if t.Name == tag {
			updated.Spec.Tags = append(updated.Spec.Tags[:i:i], updated.Spec.Tags[i+1:]...)
			inSpec = true
			break
		}
	}
	if !inStatus && !inSpec {
		writeError(w, apierrors.NewNotFound(istagResource, id))
		return
	}
	// The internal strategy's prepareForUpdate: drop status tags left with
	// neither items nor conditions, raise the generation when the spec
	// changed (here: a spec tag went).
	kept := updated.Status.Tags[:0:0]
	for _, t := range updated.Status.Tags {
		if len(t.Items) > 0 || len(t.Conditions) > 0 {
			kept = append(kept, t)
		}
	}
	updated.Status.Tags = kept
	if inSpec {
		updated.Generation = stream.Generation + 1
	}
	updated.ResourceVersion = e.nextRV()
	e.streams[ns+"/"+name] = updated
	writeJSON(w, http.StatusOK, metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"}, Status: metav1.StatusSuccess})
}

// deleteOptions reads the optional DeleteOptions body a client may send with
// a DELETE (client-go always does); an undecodable body is a 400.
func deleteOptions(r *http.Request) (metav1.DeleteOptions, error) {
	var opts metav1.DeleteOptions
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, 1<<20))
	if err != nil {
		return opts, apierrors.NewBadRequest(fmt.Sprintf("read body: %v", err))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return opts, nil
	}
	if err := json.Unmarshal(b, &opts); err != nil {
		return opts, apierrors.NewBadRequest(fmt.Sprintf("decode DeleteOptions: %v", err))
	}
	return opts, nil
}
