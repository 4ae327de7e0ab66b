package emulator

import (
	"net/http"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestCreateStreamKeepsMetadataAndLookupPolicy: a created stream keeps its
// labels, annotations and spec.lookupPolicy as sent, as the API server stores
// them, and a label key the server's ValidateObjectMeta refuses is 422.
func TestCreateStreamKeepsMetadataAndLookupPolicy(t *testing.T) {
	e, srv := start(t)
	s := imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app",
		Labels:      map[string]string{"team": "payments"},
		Annotations: map[string]string{"example.com/owner": "payments"}}}
	s.Spec.LookupPolicy.Local = true
	if code, body := post(t, srv, "/namespaces/team/imagestreams", s); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	got := e.Stream("team", "app")
	if got.Labels["team"] != "payments" || got.Annotations["example.com/owner"] != "payments" || !got.Spec.LookupPolicy.Local {
		t.Fatalf("stored labels %v, annotations %v, lookupPolicy %+v", got.Labels, got.Annotations, got.Spec.LookupPolicy)
	}
	bad := imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "bad", Labels: map[string]string{"bad key": "x"}}}
	if code, body := post(t, srv, "/namespaces/team/imagestreams", bad); code != http.StatusUnprocessableEntity || !strings.Contains(body, "metadata.labels") {
		t.Fatalf("invalid label key: %d %s, want 422 naming metadata.labels", code, body)
	}
}
