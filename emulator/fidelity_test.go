package emulator

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// These tests pin the emulator to openshift-apiserver where issue 18 item 9
// found it looser or stricter than the server.

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// library-go's reference.Parse (ValidateImage) refuses a name, host and path
// together, longer than 255 characters.
func TestReferenceNameLength(t *testing.T) {
	_, srv := start(t)
	createStream(t, srv, "team", "app")
	host := "registry.example.com"
	path := func(n int) string { return "team/" + strings.Repeat("a", n-len(host)-len("/team/")) }
	ok := image(host+"/"+path(255), `{"architecture":"amd64"}`)
	if code, body := mapImage(t, srv, "team", "app", "v1", ok); code != http.StatusCreated {
		t.Fatalf("255-character name: %d %s", code, body)
	}
	long := image(host+"/"+path(256), `{"architecture":"arm64"}`)
	code, body := mapImage(t, srv, "team", "app", "v2", long)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "repository name must not be more than 255 characters") {
		t.Fatalf("256-character name: %d %s, want 422 naming the limit", code, body)
	}
}

// whitelister.go: an allowed domain without a port is port 443 (80 when
// insecure), docker.io also admits index.docker.io and registry-1.docker.io,
// and a stream marked insecure accepts a reference without a port against
// entries for port 80 or 443, and a port against the entry's port glob.
func TestAllowedRegistriesMatching(t *testing.T) {
	e, srv := start(t)
	e.SetAllowedRegistriesForImport(
		AllowedRegistry{DomainName: "secure.example.com"},
		AllowedRegistry{DomainName: "docker.io"},
		AllowedRegistry{DomainName: "plain.example.com", Insecure: true},
		AllowedRegistry{DomainName: "*.ports.example.com:50*"},
	)
	createStream(t, srv, "team", "app")
	insecure := imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "insecure", Annotations: map[string]string{"openshift.io/image.insecureRepository": "true"}}}
	if code, body := post(t, srv, "/namespaces/team/imagestreams", insecure); code != http.StatusCreated {
		t.Fatalf("create stream: %d %s", code, body)
	}
	for i, tc := range []struct {
		stream, host string
		allowed      bool
	}{
		{"app", "secure.example.com", true},
		{"app", "secure.example.com:443", true},
		{"app", "secure.example.com:5000", false},
		{"app", "docker.io", true},
		{"app", "index.docker.io", true},
		{"app", "registry-1.docker.io", true},
		{"app", "plain.example.com", false}, // secure: port 443, the entry is port 80
		{"app", "plain.example.com:80", true},
		{"app", "a.ports.example.com:5000", true},
		{"app", "a.ports.example.com:6000", false},
		{"insecure", "plain.example.com", true},
		{"insecure", "secure.example.com", true},
		{"insecure", "secure.example.com:5000", false},
		{"insecure", "other.example.com", false},
	} {
		img := image(tc.host+"/team/app", `{"architecture":"amd64","comment":"`+strings.Repeat("x", i)+`"}`)
		code, body := mapImage(t, srv, "team", tc.stream, "v1", img)
		if got := code == http.StatusCreated; got != tc.allowed {
			t.Errorf("%s in %s: %d %s, want allowed %v", tc.host, tc.stream, code, body, tc.allowed)
		}
	}
}

// imagestreamtag/rest.go newISTag re-runs InternalImageWithMetadata on the
// stored Image and fails the GET with its error: a kept config that does
// not decode breaks every later GET of the tag.
func TestStreamTagGetRunsImageMetadata(t *testing.T) {
	_, srv := start(t)
	createStream(t, srv, "team", "app")
	bad := image("registry.example.com/team/app", `{"created":"yesterday"}`)
	if code, body := mapImage(t, srv, "team", "app", "bad", bad); code != http.StatusCreated {
		t.Fatalf("map: %d %s", code, body)
	}
	if code, body := get(t, srv.URL+apiBase+"/namespaces/team/imagestreamtags/app:bad"); code != http.StatusInternalServerError || !strings.Contains(body, "failed to parse dockerImageConfig") {
		t.Errorf("GET of the tag: %d %s, want 500 from the metadata pass", code, body)
	}
	good := image("registry.example.com/team/app", `{"architecture":"amd64"}`)
	mustMap(t, srv, "team", "app", "good", good)
	if code, body := get(t, srv.URL+apiBase+"/namespaces/team/imagestreamtags/app:good"); code != http.StatusOK {
		t.Errorf("GET of a good tag: %d %s", code, body)
	}
}

// image/strategy.go: distribution's Docker manifest list decoder does not
// refuse config or layers keys (only the OCI index one does), so the
// server re-reads such a list's children; a null config is no key.
func TestDockerListWithConfigKeyRereadsChildren(t *testing.T) {
	e, srv := start(t)
	createStream(t, srv, "team", "app")
	for _, extra := range []string{`"config":{"mediaType":"x/y","size":1,"digest":"sha256:00"},"layers":[],`, `"config":null,`} {
		for _, mt := range []string{"application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.oci.image.index.v1+json"} {
			manifest := `{"schemaVersion":2,"mediaType":"` + mt + `",` + extra + `"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":7,"digest":"` + goodDigest + `","platform":{"architecture":"arm64","os":"linux"}}]}`
			img := imagev1.Image{
				ObjectMeta:                   metav1.ObjectMeta{Name: sum([]byte(manifest)), Annotations: map[string]string{annLayersOrder: ""}},
				DockerImageReference:         "registry.example.com/team/app@" + sum([]byte(manifest)),
				DockerImageManifest:          manifest,
				DockerImageManifestMediaType: mt,
				DockerImageManifests:         []imagev1.ImageManifest{{Digest: goodDigest, MediaType: "application/vnd.oci.image.manifest.v1+json", ManifestSize: 7, Architecture: "amd64", OS: "linux"}},
			}
			mustMap(t, srv, "team", "app", "v1", img)
			got := e.Image(img.Name).DockerImageManifests
			reread := len(got) == 1 && got[0].Architecture == "arm64"
			want := mt != "application/vnd.oci.image.index.v1+json" || extra == `"config":null,`
			if reread != want {
				t.Errorf("%s with %s: children %+v, re-read %v, want %v", mt, extra, got, reread, want)
			}
		}
	}
}

// admission/limitrange: with an openshift.io/Image limit in the namespace,
// the mapping's Image goes through InternalImageWithMetadata and its error,
// or a size over the limit, is a 403.
func TestImageLimitRangeAdmission(t *testing.T) {
	e, srv := start(t)
	createStream(t, srv, "team", "app")
	e.SetImageLimit("team", 1000)
	bad := image("registry.example.com/team/app", `{"created":"yesterday"}`)
	code, body := mapImage(t, srv, "team", "app", "bad", bad)
	if code != http.StatusForbidden || !strings.Contains(body, "failed to parse dockerImageConfig") {
		t.Errorf("undecodable config: %d %s, want 403", code, body)
	}
	if e.Image(bad.Name) != nil {
		t.Error("refused Image stored")
	}
	good := image("registry.example.com/team/app", `{"architecture":"amd64"}`)
	mustMap(t, srv, "team", "app", "good", good)
	e.SetImageLimit("team", 100)
	big := image("registry.example.com/team/app", `{"architecture":"arm64"}`)
	code, body = mapImage(t, srv, "team", "app", "big", big)
	if code != http.StatusForbidden || !strings.Contains(body, "exceeds the maximum limit per openshift.io/Image") {
		t.Errorf("over the limit: %d %s, want 403", code, body)
	}
	var st metav1.Status
	if json.Unmarshal([]byte(body), &st) != nil || st.Reason != metav1.StatusReasonForbidden {
		t.Errorf("status %s", body)
	}
}
