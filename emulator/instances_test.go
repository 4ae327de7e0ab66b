package emulator

import (
	"net/http"
	"strings"
	"testing"
)

// TestInstancesShareNothing: several clusters are several emulators; each
// holds its own streams, images, namespaces, counters and faults, so one can
// be down or forbidding while the other maps.
func TestInstancesShareNothing(t *testing.T) {
	a, srvA := start(t)
	b, srvB := start(t)
	createStream(t, srvA, "team", "app")
	createStream(t, srvB, "team", "app")

	down := &Fault{Method: http.MethodPost, PathContains: "/imagestreammappings", Status: http.StatusServiceUnavailable}
	a.Inject(down)
	a.SetNamespaces("team")
	forbid := &Fault{PathContains: "/imagestreamtags/", Status: http.StatusForbidden}
	b.Inject(forbid)

	img := image("r.example.com/team/app", `{}`)
	if code, _ := mapImage(t, srvA, "team", "app", "v1", img); code != http.StatusServiceUnavailable {
		t.Errorf("cluster a with a fault: %d, want 503", code)
	}
	mustMap(t, srvB, "team", "app", "v1", img)
	if a.Fired(down) != 1 || b.Fired(forbid) != 0 {
		t.Errorf("fired a=%d b=%d, want 1 and 0", a.Fired(down), b.Fired(forbid))
	}
	if a.MappingCount.Load() != 0 || b.MappingCount.Load() != 1 || len(a.Mappings()) != 0 || len(b.Mappings()) != 1 {
		t.Errorf("mapping counts a=%d b=%d", a.MappingCount.Load(), b.MappingCount.Load())
	}
	if a.Image(img.Name) != nil || b.Image(img.Name) == nil {
		t.Error("an Image created in b is visible in a, or missing in b")
	}
	if h := a.TagHistory("team", "app", "v1"); h != nil {
		t.Errorf("a has b's tag: %v", h)
	}
	// b's namespaces were not narrowed by a.SetNamespaces.
	createStream(t, srvB, "other", "app")
	if code, _ := post(t, srvA, "/namespaces/other/imagestreams", map[string]any{"metadata": map[string]string{"name": "app"}}); code != http.StatusNotFound {
		t.Errorf("a: stream in a namespace a lacks: %d, want 404", code)
	}

	// b's fault only touches b; clearing a's leaves b's in place.
	a.ClearFaults()
	mustMap(t, srvA, "team", "app", "v1", img)
	if code, st := del(t, srvB, "/namespaces/team/imagestreamtags/app:v1", ""); code != http.StatusForbidden || !strings.Contains(st.Message, "forbidden") {
		t.Errorf("b delete with a 403 fault: %d %+v", code, st)
	}
	if code, _ := del(t, srvA, "/namespaces/team/imagestreamtags/app:v1", ""); code != http.StatusOK {
		t.Errorf("a delete: %d", code)
	}
	if a.TagHistory("team", "app", "v1") != nil || len(b.TagHistory("team", "app", "v1")) != 1 {
		t.Error("a tag delete in a reached b, or did not happen in a")
	}
}
