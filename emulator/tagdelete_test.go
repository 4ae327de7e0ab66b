package emulator

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

func del(t *testing.T, srv *httptest.Server, path, body string) (int, metav1.Status) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+apiBase+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var st metav1.Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("DELETE %s: %d %q is not a Status: %v", path, resp.StatusCode, b, err)
	}
	return resp.StatusCode, st
}

func mustMap(t *testing.T, srv *httptest.Server, ns, stream, tag string, img imagev1.Image) {
	t.Helper()
	if code, body := mapImage(t, srv, ns, stream, tag, img); code != http.StatusCreated {
		t.Fatalf("map %s:%s: %d %s", stream, tag, code, body)
	}
}

// TestDeleteStreamTag follows imagestreamtag REST Delete: the tag's status
// entry (whole history) and spec entry go, the Image stays, the answer is a
// bare Success Status with 200, and a second delete is a 404 naming the tag.
func TestDeleteStreamTag(t *testing.T) {
	e, srv := start(t)
	createStream(t, srv, "team", "app", imagev1.TagReference{Name: "latest",
		From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "v1"}})
	img1, img2 := image("r.example.com/team/app", `{"a":1}`), image("r.example.com/team/app", `{"a":2}`)
	mustMap(t, srv, "team", "app", "v1", img1)
	mustMap(t, srv, "team", "app", "v1", img2)
	mustMap(t, srv, "team", "app", "v2", img1)
	if h := e.TagHistory("team", "app", "v1"); len(h) != 2 {
		t.Fatalf("v1 history before = %v", h)
	}
	before := e.Stream("team", "app")

	// A status-only tag (what a mapping makes): the spec is unchanged, so the
	// generation stays; the resourceVersion moves.
	code, st := del(t, srv, "/namespaces/team/imagestreamtags/app:v1", "")
	if code != http.StatusOK || st.Kind != "Status" || st.APIVersion != "v1" || st.Status != metav1.StatusSuccess || st.Code != 0 || st.Details != nil {
		t.Fatalf("delete app:v1: %d %+v", code, st)
	}
	after := e.Stream("team", "app")
	if h := e.TagHistory("team", "app", "v1"); h != nil {
		t.Errorf("v1 history after delete = %v, want none", h)
	}
	if h := e.TagHistory("team", "app", "v2"); len(h) != 1 {
		t.Errorf("v2 history = %v, want untouched", h)
	}
	if after.Generation != before.Generation || after.ResourceVersion == before.ResourceVersion {
		t.Errorf("generation %d->%d, resourceVersion %s->%s: want generation kept, resourceVersion moved",
			before.Generation, after.Generation, before.ResourceVersion, after.ResourceVersion)
	}
	if e.Image(img1.Name) == nil || e.Image(img2.Name) == nil {
		t.Error("deleting a tag deleted an Image")
	}
	resp, err := http.Get(srv.URL + apiBase + "/namespaces/team/imagestreamtags/app:v1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET deleted istag: %d, want 404", resp.StatusCode)
	}

	code, st = del(t, srv, "/namespaces/team/imagestreamtags/app:v1", "")
	if code != http.StatusNotFound || st.Reason != metav1.StatusReasonNotFound || st.Details == nil ||
		st.Details.Kind != "imagestreamtags" || st.Details.Group != group || st.Details.Name != "app:v1" {
		t.Errorf("second delete: %d %+v", code, st)
	}

	// A spec tag: spec and status entries go, the generation rises.
	code, _ = del(t, srv, "/namespaces/team/imagestreamtags/app:latest", "")
	s := e.Stream("team", "app")
	if code != http.StatusOK || len(s.Spec.Tags) != 0 || s.Generation != before.Generation+1 {
		t.Errorf("delete spec tag: %d, spec %v, generation %d want %d", code, s.Spec.Tags, s.Generation, before.Generation+1)
	}

	// Pushed again after the delete: a fresh history of one.
	mustMap(t, srv, "team", "app", "v1", img1)
	if h := e.TagHistory("team", "app", "v1"); len(h) != 1 || h[0] != img1.Name {
		t.Errorf("v1 after re-push = %v", h)
	}
}

// TestDeleteStreamTagErrors: the server's 400, 404 and 409 answers.
func TestDeleteStreamTagErrors(t *testing.T) {
	e, srv := start(t)
	e.SetNamespaces("team")
	createStream(t, srv, "team", "app")
	mustMap(t, srv, "team", "app", "v1", image("r.example.com/team/app", `{}`))
	uid := string(e.Stream("team", "app").UID)
	for _, tc := range []struct {
		name, path, body string
		code             int
		kind             string
	}{
		{"no tag", "/namespaces/team/imagestreamtags/app", "", 400, ""},
		{"digest", "/namespaces/team/imagestreamtags/app@sha256:" + strings.Repeat("1", 64), "", 400, ""},
		{"two colons", "/namespaces/team/imagestreamtags/app:v1:x", "", 400, ""},
		{"stream missing", "/namespaces/team/imagestreamtags/nope:v1", "", 404, "imagestreams"},
		{"namespace missing", "/namespaces/other/imagestreamtags/app:v1", "", 404, "imagestreams"},
		{"tag missing", "/namespaces/team/imagestreamtags/app:v9", "", 404, "imagestreamtags"},
		{"uid precondition", "/namespaces/team/imagestreamtags/app:v1", `{"preconditions":{"uid":"other"}}`, 409, "imagestreamtags"},
		{"bad body", "/namespaces/team/imagestreamtags/app:v1", `{"preconditions":`, 400, ""},
		// The REST does not check a resourceVersion precondition.
		{"rv precondition ignored, uid matches", "/namespaces/team/imagestreamtags/app:v1",
			`{"kind":"DeleteOptions","apiVersion":"v1","preconditions":{"uid":"` + uid + `","resourceVersion":"0"}}`, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, st := del(t, srv, tc.path, tc.body)
			if code != tc.code || tc.kind != "" && (st.Details == nil || st.Details.Kind != tc.kind) {
				t.Errorf("%d %+v, want %d for %s", code, st, tc.code, tc.kind)
			}
		})
	}
}

// TestDeleteStreamTagWithClientGo: the typed OpenShift client (which sends a
// DeleteOptions body) deletes, and reads the 404 as NotFound.
func TestDeleteStreamTagWithClientGo(t *testing.T) {
	e, srv := start(t)
	createStream(t, srv, "team", "app")
	mustMap(t, srv, "team", "app", "v1", image("r.example.com/team/app", `{}`))
	c, err := imageclient.NewForConfig(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	tags := c.ImageV1().ImageStreamTags("team")
	ctx := context.Background()
	uid := types.UID(e.Stream("team", "app").UID)
	if err := tags.Delete(ctx, "app:v1", metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &uid}}); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if err := tags.Delete(ctx, "app:v1", metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}
	if l, err := tags.List(ctx, metav1.ListOptions{}); err != nil || len(l.Items) != 0 {
		t.Errorf("list after delete: %v %v", l, err)
	}
}
