package emulator

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// These tests hold the emulator to openshift-apiserver's rules (issue 9,
// "The emulator must be as strict as the server, no stricter").

const apiBase = "/apis/image.openshift.io/v1"

func start(t *testing.T) (*Emulator, *httptest.Server) {
	t.Helper()
	e := New()
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return e, srv
}

func post(t *testing.T, srv *httptest.Server, path string, obj any) (int, string) {
	t.Helper()
	b, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(srv.URL+apiBase+path, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func createStream(t *testing.T, srv *httptest.Server, ns, name string, specTags ...imagev1.TagReference) {
	t.Helper()
	s := imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: imagev1.ImageStreamSpec{Tags: specTags}}
	if code, body := post(t, srv, "/namespaces/"+ns+"/imagestreams", s); code != http.StatusCreated {
		t.Fatalf("create stream %s/%s: %d %s", ns, name, code, body)
	}
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// image returns a schema2 image as the integrated registry sends it: manifest,
// config, layers and the order annotation, but no metadata.
func image(ref string, config string) imagev1.Image {
	manifest := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",`+
		`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":%q},`+
		`"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":100,"digest":"sha256:%s"},`+
		`{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":20,"digest":"sha256:%s"}]}`,
		len(config), sum([]byte(config)), strings.Repeat("a", 64), strings.Repeat("b", 64))
	d := sum([]byte(manifest))
	return imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: d, Annotations: map[string]string{annLayersOrder: "ascending"}},
		DockerImageReference:         ref + "@" + d,
		DockerImageManifest:          manifest,
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.v2+json",
		DockerImageConfig:            config,
		DockerImageLayers: []imagev1.ImageLayer{
			{Name: "sha256:" + strings.Repeat("a", 64), LayerSize: 100, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
			{Name: "sha256:" + strings.Repeat("b", 64), LayerSize: 20, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
		},
	}
}

type child struct {
	digest, mediaType string
	size              int64
}

// list returns a manifest list Image with its children as the bridge sends it.
func list(ref string, children ...child) imagev1.Image {
	var entries []string
	var ms []imagev1.ImageManifest
	for _, c := range children {
		entries = append(entries, fmt.Sprintf(`{"mediaType":%q,"size":%d,"digest":%q,"platform":{"architecture":"amd64","os":"linux"}}`, c.mediaType, c.size, c.digest))
		ms = append(ms, imagev1.ImageManifest{Digest: c.digest, MediaType: c.mediaType, ManifestSize: c.size, Architecture: "amd64", OS: "linux"})
	}
	manifest := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[` + strings.Join(entries, ",") + `]}`
	d := sum([]byte(manifest))
	return imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: d, Annotations: map[string]string{annLayersOrder: ""}},
		DockerImageReference:         ref + "@" + d,
		DockerImageManifest:          manifest,
		DockerImageManifestMediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
		DockerImageManifests:         ms,
	}
}

func mapImage(t *testing.T, srv *httptest.Server, ns, stream, tag string, img imagev1.Image) (int, string) {
	t.Helper()
	return post(t, srv, "/namespaces/"+ns+"/imagestreammappings", imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: stream, Namespace: ns}, Image: img, Tag: tag})
}

func storedMetadata(t *testing.T, img *imagev1.Image) docker10.DockerImage {
	t.Helper()
	var m docker10.DockerImage
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &m); err != nil {
		t.Fatalf("metadata %q: %v", img.DockerImageMetadata.Raw, err)
	}
	return m
}

const (
	schema2Type = "application/vnd.docker.distribution.manifest.v2+json"
	goodDigest  = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
)

// validation.go validateImageManifests: only a negative size is refused; the
// digest must contain a digest and the media type be type/subtype.
func TestListChildrenValidation(t *testing.T) {
	for _, tc := range []struct {
		name  string
		child child
		field string // "" : accepted
	}{
		{"size 0", child{goodDigest, schema2Type, 0}, ""},
		{"size negative", child{goodDigest, schema2Type, -1}, "dockerImageManifests[0].size"},
		{"digest not a digest", child{"latest", schema2Type, 10}, "dockerImageManifests[0].digest"},
		{"digest short", child{"sha256:abcd", schema2Type, 10}, "dockerImageManifests[0].digest"},
		{"digest found inside (unanchored upstream)", child{"x-" + goodDigest, schema2Type, 10}, ""},
		{"media type empty", child{goodDigest, "", 10}, "dockerImageManifests[0].mediaType"},
		{"media type no subtype", child{goodDigest, "application", 10}, "dockerImageManifests[0].mediaType"},
		{"media type padded", child{goodDigest, " " + schema2Type + " ", 10}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, srv := start(t)
			createStream(t, srv, "team", "app")
			code, body := mapImage(t, srv, "team", "app", "v1", list("r.example.com/team/app", tc.child))
			if tc.field == "" {
				if code != http.StatusCreated {
					t.Fatalf("answer %d %s, want 201", code, body)
				}
				return
			}
			if code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.field) {
				t.Fatalf("answer %d %s, want 422 naming %s", code, body, tc.field)
			}
		})
	}
}

// strategy.go re-reads a list's children from its manifest; validation.go then
// refuses layers next to them. Nothing is dropped silently.
func TestListLayersAreInvalid(t *testing.T) {
	e, srv := start(t)
	createStream(t, srv, "team", "app")
	img := list("r.example.com/team/app", child{goodDigest, schema2Type, 10})
	img.DockerImageManifests = nil // children only in the manifest: the strategy fills them
	img.DockerImageLayers = []imagev1.ImageLayer{{Name: goodDigest, LayerSize: 1}}
	code, body := mapImage(t, srv, "team", "app", "v1", img)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "dockerImageLayers") {
		t.Fatalf("answer %d %s, want 422 on dockerImageLayers", code, body)
	}
	if e.Image(img.Name) != nil {
		t.Error("an invalid Image was stored")
	}
}

// imagestreammapping/rest.go creates the Image, then updates the stream; the
// stream status validation checks allowedRegistriesForImport.
func TestAllowedRegistriesCheckedAtStreamUpdate(t *testing.T) {
	e, srv := start(t)
	e.SetAllowedRegistries("allowed.example.com")
	createStream(t, srv, "team", "app")
	img := image("denied.example.com/team/app", `{"architecture":"amd64"}`)
	code, body := mapImage(t, srv, "team", "app", "v1", img)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `"kind":"ImageStream"`) ||
		!strings.Contains(body, "status.tags[v1].items[0].dockerImageReference") {
		t.Fatalf("answer %d %s, want 422 on the ImageStream's status", code, body)
	}
	if e.Image(img.Name) == nil {
		t.Error("the Image is not stored; upstream stores it before the stream update fails")
	}
	if h := e.TagHistory("team", "app", "v1"); len(h) != 0 {
		t.Errorf("tag moved: %v", h)
	}
	ok := image("allowed.example.com/team/app", `{"architecture":"arm64"}`)
	if code, body := mapImage(t, srv, "team", "app", "v1", ok); code != http.StatusCreated {
		t.Fatalf("allowed registry: %d %s", code, body)
	}
}

// helpers.go InternalImageWithMetadata: client metadata is kept when layers,
// a positive size and a media type are set; otherwise recomputed from the
// config; a config that does not decode leaves it as sent (empty).
func TestImageMetadataAsServer(t *testing.T) {
	e, srv := start(t)
	createStream(t, srv, "team", "app")
	const cfg = `{"architecture":"amd64","author":"a","created":"2026-01-02T03:04:05Z","config":{"User":"1001"}}`

	computed := image("r.example.com/team/app", cfg)
	if code, body := mapImage(t, srv, "team", "app", "computed", computed); code != http.StatusCreated {
		t.Fatal(code, body)
	}
	m := storedMetadata(t, e.Image(computed.Name))
	if m.Architecture != "amd64" || m.Author != "a" || m.ID != sum([]byte(cfg)) || m.Size != int64(len(cfg))+120 ||
		m.Config == nil || m.Config.User != "1001" || m.Created.UTC().Format("2006-01-02T15:04:05Z") != "2026-01-02T03:04:05Z" {
		t.Errorf("recomputed metadata = %+v", m)
	}

	kept := image("r.example.com/team/app", `{"architecture":"s390x"}`)
	kept.DockerImageMetadata.Raw = []byte(`{"kind":"DockerImage","apiVersion":"image.openshift.io/1.0","Id":"client","Architecture":"client-arch","Size":5}`)
	if code, body := mapImage(t, srv, "team", "app", "kept", kept); code != http.StatusCreated {
		t.Fatal(code, body)
	}
	if m := storedMetadata(t, e.Image(kept.Name)); m.Architecture != "client-arch" || m.Size != 5 {
		t.Errorf("client metadata not kept: %+v", m)
	}

	bad := image("r.example.com/team/app", `{"created":"yesterday","architecture":"amd64"}`)
	if code, body := mapImage(t, srv, "team", "app", "bad", bad); code != http.StatusCreated {
		t.Fatalf("a config the server cannot decode is still accepted: %d %s", code, body)
	}
	if m := storedMetadata(t, e.Image(bad.Name)); m.Architecture != "" || m.Size != 0 || m.ID != "" {
		t.Errorf("metadata of an undecodable config = %+v, want empty", m)
	}

	l := list("r.example.com/team/app", child{goodDigest, schema2Type, 10})
	l.DockerImageManifests = nil
	if code, body := mapImage(t, srv, "team", "app", "list", l); code != http.StatusCreated {
		t.Fatal(code, body)
	}
	stored := e.Image(l.Name)
	if m := storedMetadata(t, stored); m.ID != l.Name || m.Created.IsZero() {
		t.Errorf("list metadata = %+v, want Id = image name and Created now", m)
	}
	if len(stored.DockerImageManifests) != 1 || stored.DockerImageManifests[0].Digest != goodDigest {
		t.Errorf("children not read from the manifest: %+v", stored.DockerImageManifests)
	}
	if v, ok := stored.Annotations[annLayersOrder]; !ok || v != "" {
		t.Errorf("list order annotation = %q, %v; the server keeps the empty value", v, ok)
	}
}

// helpers.go UpdateTrackingTags: spec tags following ImageStreamTag <tag> or
// <this stream>:<tag> get the same event; other streams' tags do not.
func TestTrackingTags(t *testing.T) {
	e, srv := start(t)
	follow := func(tag, kind, from, ns string) imagev1.TagReference {
		return imagev1.TagReference{Name: tag, From: &corev1.ObjectReference{Kind: kind, Name: from, Namespace: ns},
			ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}}
	}
	createStream(t, srv, "team", "app",
		follow("latest", "ImageStreamTag", "v1", ""),
		follow("stable", "ImageStreamTag", "app:v1", "team"),
		follow("other", "ImageStreamTag", "base:v1", ""),
		follow("elsewhere", "ImageStreamTag", "app:v1", "prod"),
		follow("pinned", "DockerImage", "r.example.com/x:v1", ""))
	img := image("r.example.com/team/app", `{}`)
	if code, body := mapImage(t, srv, "team", "app", "v1", img); code != http.StatusCreated {
		t.Fatal(code, body)
	}
	for tag, want := range map[string]int{"v1": 1, "latest": 1, "stable": 1, "other": 0, "elsewhere": 0, "pinned": 0} {
		h := e.TagHistory("team", "app", tag)
		if len(h) != want || want == 1 && h[0] != img.Name {
			t.Errorf("tag %s history = %v, want %d entries of %s", tag, h, want, img.Name)
		}
	}
}

// validation.go: a stream's namespace/name may not exceed 255 characters (a
// repository name); a namespace is a DNS label of at most 63.
func TestNameLengthLimits(t *testing.T) {
	_, srv := start(t)
	ns := strings.Repeat("n", 63)
	for _, tc := range []struct {
		ns, name string
		code     int
	}{
		{ns, strings.Repeat("a", 255-64), http.StatusCreated},
		{ns, strings.Repeat("b", 256-64), http.StatusUnprocessableEntity},
		{strings.Repeat("n", 64), "app", http.StatusUnprocessableEntity},
		{"Team", "app", http.StatusUnprocessableEntity},
	} {
		s := imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: tc.name}}
		if code, body := post(t, srv, "/namespaces/"+tc.ns+"/imagestreams", s); code != tc.code {
			t.Errorf("stream %d+%d chars: %d %s, want %d", len(tc.ns), len(tc.name), code, body, tc.code)
		}
	}
	code, body := mapImage(t, srv, "Team", "app", "v1", image("r.example.com/team/app", `{}`))
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, "metadata.namespace") {
		t.Errorf("mapping in namespace Team: %d %s, want 422", code, body)
	}
}

// imagestreammapping/rest.go: an Image that already exists and carries
// openshift.io/image.managed=true is tagged with the stream's
// status.dockerImageRepository, not the reference sent.
func TestManagedImageReferenceRewrite(t *testing.T) {
	e, srv := start(t)
	createStream(t, srv, "team", "app")
	createStream(t, srv, "team", "copy")
	createStream(t, srv, "team", "plain")
	if got := e.Stream("team", "copy").Status.DockerImageRepository; got != DefaultInternalRegistry+"/team/copy" {
		t.Fatalf("status.dockerImageRepository = %q", got)
	}
	img := image("r.example.com/team/app", `{}`)
	img.Annotations[annManaged] = "true"
	for _, s := range []string{"app", "copy"} {
		if code, body := mapImage(t, srv, "team", s, "v1", img); code != http.StatusCreated {
			t.Fatal(code, body)
		}
	}
	ref := func(stream string) string {
		return e.Stream("team", stream).Status.Tags[0].Items[0].DockerImageReference
	}
	if got := ref("app"); got != img.DockerImageReference {
		t.Errorf("new Image: tag reference = %s, want the one sent", got)
	}
	if want := DefaultInternalRegistry + "/team/copy@" + img.Name; ref("copy") != want {
		t.Errorf("existing managed Image: tag reference = %s, want %s", ref("copy"), want)
	}
	unmanaged := img
	unmanaged.Annotations = map[string]string{annLayersOrder: "ascending"}
	if code, body := mapImage(t, srv, "team", "plain", "v1", unmanaged); code != http.StatusCreated {
		t.Fatal(code, body)
	}
	if got := ref("plain"); got != img.DockerImageReference {
		t.Errorf("existing unmanaged Image: tag reference = %s, want the one sent", got)
	}
	e.SetInternalRegistry("")
	createStream(t, srv, "team", "noreg")
	if code, body := mapImage(t, srv, "team", "noreg", "v1", img); code != http.StatusCreated {
		t.Fatal(code, body)
	}
	if got := ref("noreg"); got != img.DockerImageReference {
		t.Errorf("no internal registry: tag reference = %s, want the one sent", got)
	}
}
