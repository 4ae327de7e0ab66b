package e2e_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
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

// TestConfigOpenShiftAcceptsIsMapped: a config the API server's decoder
// rejects ("created": "yesterday") is mapped as OpenShift stores it: layers,
// manifest and config kept, metadata empty; the tag moves and it is counted.
func TestConfigOpenShiftAcceptsIsMapped(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	cfg := []byte(`{"architecture":"amd64","os":"linux","created":"yesterday","config":{"Env":["A=1"]},"rootfs":{"type":"layers","diff_ids":[]}}`)
	d := e.pushRaw("team/odd", "v1", cfg)
	e.waitTag("team", "odd", "v1", d)
	img := e.api.Image(d)
	if img == nil || img.DockerImageConfig != string(cfg) || len(img.DockerImageLayers) != 1 {
		t.Fatalf("stored image %+v", img)
	}
	var meta map[string]any
	if len(img.DockerImageMetadata.Raw) > 0 {
		json.Unmarshal(img.DockerImageMetadata.Raw, &meta)
	}
	if meta["Config"] != nil || meta["Architecture"] != nil {
		t.Errorf("metadata %s, want empty as the server stores it", img.DockerImageMetadata.Raw)
	}
	if got := e.metric(`imagestream_bridge_image_metadata_empty_total{registry="main"}`); got != 1 {
		t.Errorf("image_metadata_empty_total = %v, want 1", got)
	}
}

func bytesReader(b []byte) *bytes.Reader { return bytes.NewReader(b) }
