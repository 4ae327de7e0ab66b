package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// kubectlAccept is what kubectl get (1.32) sends.
const kubectlAccept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json"

// clock is a settable time for e.now, safe for the server's goroutines.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

func getAs(t *testing.T, srv *httptest.Server, path, accept string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func getTable(t *testing.T, srv *httptest.Server, path string) metav1.Table {
	t.Helper()
	code, b := getAs(t, srv, path, kubectlAccept)
	var tab metav1.Table
	if err := json.Unmarshal(b, &tab); err != nil || code != http.StatusOK || tab.Kind != "Table" || tab.APIVersion != "meta.k8s.io/v1" {
		t.Fatalf("GET %s as kubectl: %d %s (%v); want a meta.k8s.io/v1 Table", path, code, b, err)
	}
	return tab
}

func columns(tab metav1.Table) []string {
	var out []string
	for _, c := range tab.ColumnDefinitions {
		out = append(out, c.Name)
	}
	return out
}

func cells(tab metav1.Table) [][]any {
	var out [][]any
	for _, r := range tab.Rows {
		out = append(out, r.Cells)
	}
	return out
}

// TestTablesAsServerPrints: kubectl get is / istag ask for a Table and get
// openshift-apiserver's printer columns (NAME, IMAGE REPOSITORY, TAGS,
// UPDATED; NAME, IMAGE REFERENCE, UPDATED and the wide IMAGE NAME), not
// only NAME and AGE; rows carry the object's metadata (for -A and
// --show-labels) unless includeObject says otherwise; a client asking for
// JSON still gets the object.
func TestTablesAsServerPrints(t *testing.T) {
	e, srv := start(t)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	c := &clock{t: t0}
	e.now = c.now
	createStream(t, srv, "team", "app")
	img1, img2 := image("r.example.com/team/app", `{"a":1}`), image("r.example.com/team/app", `{"a":2}`)
	mustMap(t, srv, "team", "app", "v1", img1)
	c.set(t0.Add(90 * time.Second))
	mustMap(t, srv, "team", "app", "latest", img2)
	c.set(t0.Add(150 * time.Second))

	is := getTable(t, srv, apiBase+"/namespaces/team/imagestreams")
	if diff := cmp.Diff([]string{"Name", "Image Repository", "Tags", "Updated"}, columns(is)); diff != "" {
		t.Errorf("image stream columns (-want +got):\n%s", diff)
	}
	want := [][]any{{"app", DefaultInternalRegistry + "/team/app", "latest,v1", "About a minute ago"}}
	if diff := cmp.Diff(want, cells(is)); diff != "" {
		t.Errorf("image stream rows (-want +got):\n%s", diff)
	}
	var meta metav1.PartialObjectMetadata
	if err := json.Unmarshal(is.Rows[0].Object.Raw, &meta); err != nil || meta.Kind != "PartialObjectMetadata" || meta.Namespace != "team" || meta.Name != "app" {
		t.Errorf("row object = %s (%v); want the stream's PartialObjectMetadata", is.Rows[0].Object.Raw, err)
	}

	ist := getTable(t, srv, apiBase+"/namespaces/team/imagestreamtags")
	if diff := cmp.Diff([]string{"Name", "Image Reference", "Updated", "Image Name"}, columns(ist)); diff != "" {
		t.Errorf("imagestreamtag columns (-want +got):\n%s", diff)
	}
	if p := ist.ColumnDefinitions[3].Priority; p != 1 {
		t.Errorf("Image Name priority %d; want 1 (shown with -o wide only)", p)
	}
	want = [][]any{ // the list's order
		{"app:v1", img1.DockerImageReference, "2 minutes ago", img1.Name},
		{"app:latest", img2.DockerImageReference, "About a minute ago", img2.Name},
	}
	if diff := cmp.Diff(want, cells(ist)); diff != "" {
		t.Errorf("imagestreamtag rows (-want +got):\n%s", diff)
	}

	one := getTable(t, srv, apiBase+"/namespaces/team/imagestreamtags/app:v1")
	if diff := cmp.Diff([][]any{{"app:v1", img1.DockerImageReference, "2 minutes ago", img1.Name}}, cells(one)); diff != "" {
		t.Errorf("one imagestreamtag (-want +got):\n%s", diff)
	}
	if tab := getTable(t, srv, apiBase+"/namespaces/team/imagestreams/app"); len(tab.Rows) != 1 || tab.Rows[0].Cells[2] != "latest,v1" {
		t.Errorf("one image stream: %v", cells(tab))
	}
	if tab := getTable(t, srv, apiBase+"/images/"+img1.Name); len(tab.Rows) != 1 || len(tab.Rows[0].Cells) != 2 {
		t.Errorf("one image: %v %v", columns(tab), cells(tab))
	}
	if tab := getTable(t, srv, apiBase+"/namespaces/empty/imagestreams"); tab.Rows == nil || len(tab.Rows) != 0 {
		t.Errorf("empty namespace: rows %v; want an empty list", tab.Rows)
	}

	whole := getTable(t, srv, apiBase+"/namespaces/team/imagestreams?includeObject=Object")
	var s imagev1.ImageStream
	if err := json.Unmarshal(whole.Rows[0].Object.Raw, &s); err != nil || s.Kind != "ImageStream" || len(s.Status.Tags) != 2 {
		t.Errorf("includeObject=Object row = %s (%v); want the whole ImageStream", whole.Rows[0].Object.Raw, err)
	}
	if none := getTable(t, srv, apiBase+"/namespaces/team/imagestreams?includeObject=None"); none.Rows[0].Object.Raw != nil {
		t.Errorf("includeObject=None row object = %s", none.Rows[0].Object.Raw)
	}

	for _, accept := range []string{"application/json", "", "application/json, */*", "application/json,application/json;as=Table;v=v1;g=meta.k8s.io"} {
		code, b := getAs(t, srv, apiBase+"/namespaces/team/imagestreams", accept)
		var l imagev1.ImageStreamList
		if err := json.Unmarshal(b, &l); err != nil || code != http.StatusOK || l.Kind != "ImageStreamList" || len(l.Items) != 1 {
			t.Errorf("Accept %q: %d %.200s (%v); want the ImageStreamList", accept, code, b, err)
		}
	}
}

// TestTagsUpToWidth follows the printer: newest first, as many as fit in 40
// characters, the rest counted.
func TestTagsUpToWidth(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ev := func(tag string, at time.Duration) imagev1.NamedTagEventList {
		return imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{{Created: metav1.NewTime(t0.Add(at))}}}
	}
	var many []imagev1.NamedTagEventList
	for _, tag := range strings.Fields("v1.0.0 v1.0.1 v1.0.2 v1.0.3 v1.0.4 v1.0.5 v1.0.6 v1.0.7 v1.0.8") {
		many = append(many, ev(tag, 0))
	}
	for _, tc := range []struct {
		tags []imagev1.NamedTagEventList
		want string
	}{
		{nil, ""},
		{[]imagev1.NamedTagEventList{ev("old", 0), ev("new", time.Minute), ev("b", time.Minute)}, "b,new,old"},
		{[]imagev1.NamedTagEventList{ev(strings.Repeat("x", 50), 0), ev("y", -time.Minute)}, strings.Repeat("x", 50) + " + 1 more..."},
		{many, "v1.0.0,v1.0.1,v1.0.2,v1.0.3,v1.0.4 + 4 more..."},
	} {
		if got := tagsUpToWidth(tc.tags, 40); got != tc.want {
			t.Errorf("tagsUpToWidth(%d tags) = %q; want %q", len(tc.tags), got, tc.want)
		}
	}
}

// TestHumanDuration: the server's words for UPDATED.
func TestHumanDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		500 * time.Millisecond:   "Less than a second",
		time.Second:              "1 second",
		59 * time.Second:         "59 seconds",
		90 * time.Second:         "About a minute",
		45 * time.Minute:         "45 minutes",
		80 * time.Minute:         "About an hour",
		30 * time.Hour:           "30 hours",
		72 * time.Hour:           "3 days",
		24 * 21 * time.Hour:      "3 weeks",
		24 * 90 * time.Hour:      "3 months",
		24 * 365 * 3 * time.Hour: "3 years",
	} {
		if got := humanDuration(d); got != want {
			t.Errorf("humanDuration(%v) = %q; want %q", d, got, want)
		}
	}
}
