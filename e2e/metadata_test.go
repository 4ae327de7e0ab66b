package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// rawManifest is a manifest pushed byte for byte.
type rawManifest struct {
	body []byte
	mt   types.MediaType
}

func (r rawManifest) RawManifest() ([]byte, error)        { return r.body, nil }
func (r rawManifest) MediaType() (types.MediaType, error) { return r.mt, nil }

// pushRaw pushes a schema2 image whose config blob is exactly config, and returns the manifest digest.
func (e *env) pushRaw(repo, tag string, config []byte) string {
	e.t.Helper()
	r, err := name.NewRepository(e.reg.Host+"/"+repo, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	cfg := static.NewLayer(config, types.DockerConfigJSON)
	layer := static.NewLayer([]byte("layer"), types.DockerLayer)
	for _, l := range []v1.Layer{cfg, layer} {
		if err := remote.WriteLayer(r, l); err != nil {
			e.t.Fatal(err)
		}
	}
	desc := func(l v1.Layer, mt types.MediaType) map[string]any {
		d, _ := l.Digest()
		s, _ := l.Size()
		return map[string]any{"mediaType": mt, "size": s, "digest": d.String()}
	}
	body, _ := json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": types.DockerManifestSchema2,
		"config": desc(cfg, types.DockerConfigJSON), "layers": []any{desc(layer, types.DockerLayer)},
	})
	m := rawManifest{body: body, mt: types.DockerManifestSchema2}
	if err := remote.Put(r.Tag(tag), m); err != nil {
		e.t.Fatal(err)
	}
	h, _, _ := v1.SHA256(bytesReader(body))
	return h.String()
}

// getStreamTag answers GET imagestreamtags/STREAM:TAG from the API: the
// server re-runs its metadata pass on the stored Image there.
func (e *env) getStreamTag(ns, stream, tag string) (int, string) {
	e.t.Helper()
	resp, err := http.Get(e.api.URL + "/apis/image.openshift.io/v1/namespaces/" + ns + "/imagestreamtags/" + stream + ":" + tag)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// emptyMetadata reports whether img's dockerImageMetadata carries nothing.
func emptyMetadata(t *testing.T, img *imagev1.Image) bool {
	t.Helper()
	var meta docker10.DockerImage
	if len(img.DockerImageMetadata.Raw) > 0 {
		if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err != nil {
			t.Fatal(err)
		}
	}
	return meta.ID == "" && meta.Created.IsZero() && meta.Size == 0 && meta.Config == nil && meta.Architecture == ""
}

// TestConfigOpenShiftAcceptsIsMapped: a config the API server's decoder
// rejects ("created": "yesterday") is mapped as OpenShift's own registry
// has it stored: layers and media type kept, metadata empty, manifest and
// config not kept (kept, the server's metadata pass would fail every later
// GET of the tag, and an Image LimitRange would refuse the mapping); the tag
// moves, can be read, and it is counted.
func TestConfigOpenShiftAcceptsIsMapped(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	e.api.SetImageLimit("team", 1<<30)
	cfg := []byte(`{"architecture":"amd64","os":"linux","created":"yesterday","config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	d := e.pushRaw("team/odd", "v1", cfg)
	e.waitTag("team", "odd", "v1", d)
	img := e.api.Image(d)
	if img == nil || len(img.DockerImageLayers) != 1 || img.DockerImageManifestMediaType != string(types.DockerManifestSchema2) {
		t.Fatalf("stored image %+v", img)
	}
	if img.DockerImageManifest != "" || img.DockerImageConfig != "" {
		t.Errorf("manifest %q and config %q kept: the server cannot read them back", img.DockerImageManifest, img.DockerImageConfig)
	}
	if !emptyMetadata(t, img) {
		t.Errorf("metadata %s, want empty as the server stores it", img.DockerImageMetadata.Raw)
	}
	if code, body := e.getStreamTag("team", "odd", "v1"); code != http.StatusOK {
		t.Errorf("GET imagestreamtags/odd:v1: %d %s", code, body)
	}
	if got := e.metric(`imagestream_bridge_image_metadata_empty_total{registry="main"}`); got != 1 {
		t.Errorf("image_metadata_empty_total = %v, want 1", got)
	}
}

// TestIndexWithoutMediaTypeIsMapped: an OCI index without a top-level
// mediaType takes the API server's image path, not its list path: the
// server computes no metadata for it (the integrated registry's mapping is
// stored with empty metadata) and cannot read its manifest back. The bridge
// maps it with its children, empty metadata and no manifest; the tag reads.
func TestIndexWithoutMediaTypeIsMapped(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	e.api.SetImageLimit("team", 1<<30)
	idx, err := sandbox.RandomIndex(true, "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	e.push("team/children", "all", idx) // the children, by digest in team/idx below
	im, _ := idx.IndexManifest()
	r, err := name.NewRepository(e.reg.Host+"/team/idx", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range im.Manifests {
		child, err := idx.Image(c.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(r.Digest(c.Digest.String()), child); err != nil {
			t.Fatal(err)
		}
	}
	body, _ := json.Marshal(map[string]any{"schemaVersion": 2, "manifests": im.Manifests})
	if err := remote.Put(r.Tag("v1"), rawManifest{body: body, mt: types.OCIImageIndex}); err != nil {
		t.Fatal(err)
	}
	h, _, _ := v1.SHA256(bytesReader(body))
	d := h.String()
	e.waitTag("team", "idx", "v1", d)
	img := e.api.Image(d)
	if img == nil || len(img.DockerImageManifests) != len(im.Manifests) || img.DockerImageManifestMediaType != string(types.OCIImageIndex) {
		t.Fatalf("stored image %+v", img)
	}
	if !emptyMetadata(t, img) {
		t.Errorf("metadata %s, want empty: the server's image path computes none", img.DockerImageMetadata.Raw)
	}
	if img.DockerImageManifest != "" {
		t.Errorf("manifest kept: the server cannot read it back")
	}
	if code, body := e.getStreamTag("team", "idx", "v1"); code != http.StatusOK {
		t.Errorf("GET imagestreamtags/idx:v1: %d %s", code, body)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
