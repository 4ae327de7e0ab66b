package mapping

import (
	"encoding/json"
	"os"
	"testing"
)

// FuzzBuild feeds arbitrary manifests and configs to the builder: it never
// panics, and whatever it builds names the digest and keeps the exact bytes.
func FuzzBuild(f *testing.F) {
	for _, fx := range []struct{ name, mt string }{
		{"schema2", MediaTypeDockerManifest}, {"oci", MediaTypeOCIManifest},
		{"list", MediaTypeDockerList}, {"index", MediaTypeOCIIndex},
	} {
		m, _ := os.ReadFile("testdata/" + fx.name + ".manifest.json")
		c, _ := os.ReadFile("testdata/" + fx.name + ".config.json")
		f.Add(fx.mt, m, c)
	}
	f.Add(MediaTypeDockerManifest, []byte(`{"schemaVersion":2,"layers":[{"size":-1}]}`), []byte(`{"created":"2026-01-01T00:00:00Z"}`))
	f.Fuzz(func(t *testing.T, mediaType string, manifest, config []byte) {
		d := digestOf(manifest)
		m, _, err := Build(Input{Namespace: "ns", Stream: "s", Tag: "t", Repository: "ns/s", ReferenceHost: "r:1", Digest: d,
			MediaType: mediaType, Manifest: manifest, Config: config})
		if err != nil {
			return
		}
		if m.Image.Name != d || m.Image.DockerImageManifest != string(manifest) {
			t.Fatal("built image does not carry the digest and exact manifest")
		}
		if !IsManifest(mediaType) {
			t.Fatalf("built a mapping for media type %q", mediaType)
		}
		var meta map[string]any
		if err := json.Unmarshal(m.Image.DockerImageMetadata.Raw, &meta); err != nil || meta["kind"] != "DockerImage" {
			t.Fatalf("metadata not a DockerImage: %v", err)
		}
	})
}
