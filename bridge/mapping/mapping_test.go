package mapping

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
)

var update = flag.Bool("update", false, "rewrite golden files")

var fixedNow = time.Date(2026, 11, 26, 16, 40, 58, 598696602, time.UTC)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		t.Fatal(err)
	}
	return b
}

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func build(t *testing.T, fixture, mediaType string) (*imagev1.ImageStreamMapping, []byte, []byte) {
	t.Helper()
	manifest := read(t, fixture+".manifest.json")
	cfg := read(t, fixture+".config.json")
	m, warn, err := Build(Input{
		Namespace: "team", Stream: "app", Tag: "v1.2.3", Repository: "team/app", ReferenceHost: "registry.example.com:5000",
		Digest: digestOf(manifest), MediaType: mediaType, Manifest: manifest, Config: cfg,
		Now: func() time.Time { return fixedNow },
	})
	if err != nil || warn != nil {
		t.Fatalf("Build(%s): warn %v, err %v", fixture, warn, err)
	}
	return m, manifest, cfg
}

func metadata(t *testing.T, m *imagev1.ImageStreamMapping) (docker10.DockerImage, map[string]any) {
	t.Helper()
	var meta docker10.DockerImage
	if err := json.Unmarshal(m.Image.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatalf("decode metadata: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(m.Image.DockerImageMetadata.Raw, &raw); err != nil {
		t.Fatal(err)
	}
	return meta, raw
}

func checkGolden(t *testing.T, fixture string, m *imagev1.ImageStreamMapping) {
	t.Helper()
	got, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	name := fixture + ".mapping.golden.json"
	if *update {
		if err := os.WriteFile(filepath.Join("testdata", name), got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want := read(t, name)
	if !bytes.Equal(got, want) {
		t.Errorf("mapping differs from testdata/%s (run go test -update after checking):\n%s", name, cmp.Diff(string(want), string(got)))
	}
}

func TestBuildCommonFields(t *testing.T) {
	for _, tc := range []struct{ fixture, mediaType string }{
		{"schema2", MediaTypeDockerManifest},
		{"oci", MediaTypeOCIManifest},
		{"list", MediaTypeDockerList},
		{"index", MediaTypeOCIIndex},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			m, manifest, cfg := build(t, tc.fixture, tc.mediaType)
			d := digestOf(manifest)
			if m.Name != "app" || m.Namespace != "team" || m.Tag != "v1.2.3" {
				t.Errorf("mapping meta = %s/%s tag %s", m.Namespace, m.Name, m.Tag)
			}
			if m.Kind != "ImageStreamMapping" || m.APIVersion != "image.openshift.io/v1" {
				t.Errorf("type = %s %s", m.APIVersion, m.Kind)
			}
			img := m.Image
			if img.Name != d {
				t.Errorf("image name = %s, want manifest digest %s", img.Name, d)
			}
			if want := "registry.example.com:5000/team/app@" + d; img.DockerImageReference != want {
				t.Errorf("dockerImageReference = %s, want %s", img.DockerImageReference, want)
			}
			if img.DockerImageManifest != string(manifest) {
				t.Error("dockerImageManifest is not the exact manifest bytes")
			}
			if img.DockerImageManifestMediaType != tc.mediaType {
				t.Errorf("media type = %s", img.DockerImageManifestMediaType)
			}
			if img.DockerImageConfig != string(cfg) {
				t.Error("dockerImageConfig is not the exact config bytes")
			}
			if img.DockerImageMetadataVersion != "1.0" {
				t.Errorf("metadata version = %q", img.DockerImageMetadataVersion)
			}
			_, raw := metadata(t, m)
			if raw["kind"] != "DockerImage" || raw["apiVersion"] != "image.openshift.io/1.0" {
				t.Errorf("metadata type = %v %v", raw["apiVersion"], raw["kind"])
			}
			for _, k := range []string{AnnotationManaged, AnnotationManifestBlobStored} {
				if _, ok := img.Annotations[k]; ok {
					t.Errorf("annotation %s set: the integrated registry does not hold the image", k)
				}
			}
			checkGolden(t, tc.fixture, m)
		})
	}
}

func TestBuildSchema2Metadata(t *testing.T) {
	m, _, cfg := build(t, "schema2", MediaTypeDockerManifest)
	img := m.Image
	if got := img.Annotations[AnnotationLayersOrder]; got != "ascending" {
		t.Errorf("layers order annotation = %q, want ascending", got)
	}
	wantLayers := []imagev1.ImageLayer{
		{Name: "sha256:" + strings.Repeat("a1", 32), LayerSize: 2811478, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
		{Name: "sha256:" + strings.Repeat("b2", 32), LayerSize: 32, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
		{Name: "sha256:" + strings.Repeat("a1", 32), LayerSize: 2811478, MediaType: "application/vnd.docker.image.rootfs.diff.tar.gzip"},
	}
	if diff := cmp.Diff(wantLayers, img.DockerImageLayers); diff != "" {
		t.Errorf("layers (manifest order, duplicates kept) mismatch:\n%s", diff)
	}
	meta, raw := metadata(t, m)
	want := docker10.DockerImage{
		ID:            digestOf(cfg),
		Parent:        "sha256:aa11",
		Comment:       "built by ci",
		Container:     "6d1e3c6b2f0a",
		DockerVersion: "24.0.7",
		Author:        "Jane Builder <jane@example.com>",
		Architecture:  "amd64",
		// The config's own "size" is replaced: config bytes + each distinct layer once.
		Size: int64(len(cfg)) + 2811478 + 32,
		Config: &docker10.DockerConfig{
			User:         "1001",
			ExposedPorts: map[string]struct{}{"8080/tcp": {}},
			Env:          []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_ROOT=/opt/app"},
			Cmd:          []string{"/opt/app/run"},
			Image:        "sha256:1b0e7f5a3c2d4e6f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d0e1f",
			Volumes:      map[string]struct{}{"/data": {}},
			WorkingDir:   "/opt/app",
			Entrypoint:   []string{"/usr/bin/tini", "--"},
			Labels:       map[string]string{"io.k8s.display-name": "app", "io.openshift.tags": "builder,app"},
		},
		ContainerConfig: docker10.DockerConfig{
			Hostname: "6d1e3c6b2f0a", User: "0", Env: []string{"PATH=/usr/bin"},
			Cmd:    []string{"/bin/sh", "-c", `#(nop) CMD ["/opt/app/run"]`},
			Labels: map[string]string{"stage": "build"},
		},
	}
	want.Kind, want.APIVersion = "DockerImage", "image.openshift.io/1.0"
	if diff := cmp.Diff(want, meta, cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Created" }, cmp.Ignore())); diff != "" {
		t.Errorf("metadata mismatch:\n%s", diff)
	}
	// Created is a metav1.Time: whole seconds, UTC.
	if raw["Created"] != "2026-03-14T15:09:26Z" {
		t.Errorf("Created = %v, want 2026-03-14T15:09:26Z", raw["Created"])
	}
	for _, k := range []string{"os", "Os", "rootfs", "history", "os.version"} {
		if _, ok := raw[k]; ok {
			t.Errorf("metadata carries %q, which DockerImage 1.0 has no field for", k)
		}
	}
	for _, k := range []string{"ArgsEscaped", "StopSignal", "Healthcheck"} {
		if _, ok := raw["Config"].(map[string]any)[k]; ok {
			t.Errorf("Config carries %q, which docker10.DockerConfig drops", k)
		}
	}
}

func TestBuildOCIMetadata(t *testing.T) {
	m, _, cfg := build(t, "oci", MediaTypeOCIManifest)
	meta, raw := metadata(t, m)
	if meta.ID != digestOf(cfg) {
		t.Errorf("Id = %s, want config digest", meta.ID)
	}
	// A layer whose digest is the config's is not counted again.
	if want := int64(len(cfg)) + 1048576 + 4096; meta.Size != want {
		t.Errorf("Size = %d, want %d", meta.Size, want)
	}
	if len(m.Image.DockerImageLayers) != 3 || m.Image.DockerImageLayers[1].MediaType != "application/vnd.oci.image.layer.v1.tar+zstd" {
		t.Errorf("layers = %+v", m.Image.DockerImageLayers)
	}
	// 23:59:59.999999999+01:00 is 22:59:59 UTC: truncated, not rounded.
	if raw["Created"] != "2025-12-31T22:59:59Z" {
		t.Errorf("Created = %v", raw["Created"])
	}
	if meta.Architecture != "arm64" || meta.Config == nil || meta.Config.User != "65532" {
		t.Errorf("metadata = %+v", meta)
	}
}

func TestBuildLists(t *testing.T) {
	for _, tc := range []struct {
		fixture, mediaType string
		want               []imagev1.ImageManifest
	}{
		{"list", MediaTypeDockerList, []imagev1.ImageManifest{
			{Digest: "sha256:" + strings.Repeat("e5", 32), MediaType: MediaTypeDockerManifest, ManifestSize: 1161, Architecture: "amd64", OS: "linux"},
			{Digest: "sha256:" + strings.Repeat("f6", 32), MediaType: MediaTypeDockerManifest, ManifestSize: 1161, Architecture: "arm", OS: "linux", Variant: "v7"},
			{Digest: "sha256:" + strings.Repeat("07", 32), MediaType: MediaTypeDockerManifest, ManifestSize: 1200, Architecture: "amd64", OS: "windows"},
		}},
		{"index", MediaTypeOCIIndex, []imagev1.ImageManifest{
			{Digest: "sha256:" + strings.Repeat("18", 32), MediaType: MediaTypeOCIManifest, ManifestSize: 673, Architecture: "amd64", OS: "linux"},
			{Digest: "sha256:" + strings.Repeat("29", 32), MediaType: MediaTypeOCIManifest, ManifestSize: 673, Architecture: "arm64", OS: "linux", Variant: "v8"},
			{Digest: "sha256:" + strings.Repeat("3a", 32), MediaType: MediaTypeOCIManifest, ManifestSize: 566, Architecture: "unknown", OS: "unknown"},
		}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			m, manifest, _ := build(t, tc.fixture, tc.mediaType)
			img := m.Image
			if diff := cmp.Diff(tc.want, img.DockerImageManifests); diff != "" {
				t.Errorf("dockerImageManifests mismatch:\n%s", diff)
			}
			if len(img.DockerImageLayers) != 0 || img.DockerImageConfig != "" {
				t.Error("a list must have no layers and no config")
			}
			// openshift/image-registry's manifestListHandler.Layers returns an
			// empty order and manifestService.Put writes it: the key is present, empty.
			if diff := cmp.Diff(map[string]string{AnnotationLayersOrder: ""}, img.Annotations); diff != "" {
				t.Errorf("annotations on a list:\n%s", diff)
			}
			meta, raw := metadata(t, m)
			if meta.ID != digestOf(manifest) || meta.Size != 0 || meta.Config != nil {
				t.Errorf("list metadata = %+v", meta)
			}
			if raw["Created"] != "2026-11-26T16:40:58Z" {
				t.Errorf("Created = %v, want the server-style now", raw["Created"])
			}
		})
	}
}

// helpers.go InternalImageWithMetadata takes its list path by the manifest's
// own mediaType: an OCI index without one takes the image path, finds no
// config and computes nothing, and fails again on every ImageStreamTag GET.
// The bridge sends the children, empty metadata and no manifest.
func TestBuildIndexWithoutMediaType(t *testing.T) {
	manifest := []byte(`{"schemaVersion":2,"manifests":[{"mediaType":"` + MediaTypeOCIManifest + `","size":7,"digest":"sha256:` +
		strings.Repeat("18", 32) + `","platform":{"architecture":"amd64","os":"linux"}}]}`)
	m, warn, err := Build(Input{Namespace: "a", Stream: "b", Tag: "c", Repository: "a/b", ReferenceHost: "h",
		Digest: digestOf(manifest), MediaType: MediaTypeOCIIndex, Manifest: manifest, Now: func() time.Time { return fixedNow }})
	if err != nil {
		t.Fatal(err)
	}
	if warn == nil || !strings.Contains(warn.Error(), "without a top-level mediaType") {
		t.Errorf("warn = %v", warn)
	}
	img := m.Image
	want := []imagev1.ImageManifest{{Digest: "sha256:" + strings.Repeat("18", 32), MediaType: MediaTypeOCIManifest, ManifestSize: 7, Architecture: "amd64", OS: "linux"}}
	if diff := cmp.Diff(want, img.DockerImageManifests); diff != "" {
		t.Errorf("dockerImageManifests:\n%s", diff)
	}
	if img.DockerImageManifest != "" || img.DockerImageManifestMediaType != MediaTypeOCIIndex {
		t.Errorf("manifest %q, media type %q", img.DockerImageManifest, img.DockerImageManifestMediaType)
	}
	meta, _ := metadata(t, m)
	if meta.ID != "" || !meta.Created.IsZero() || meta.Size != 0 {
		t.Errorf("metadata = %+v, want empty", meta)
	}
}

func TestBuildRejects(t *testing.T) {
	schema2 := read(t, "schema2.manifest.json")
	for _, tc := range []struct {
		name      string
		mediaType string
		manifest  string
		config    string
	}{
		{"not json", MediaTypeDockerManifest, "{", "{}"},
		{"schema 1", MediaTypeDockerManifest, `{"schemaVersion":1}`, "{}"},
		{"list without platform", MediaTypeDockerList, `{"schemaVersion":2,"manifests":[{"digest":"sha256:` + strings.Repeat("a", 64) + `","size":1}]}`, ""},
		{"list with layers", MediaTypeOCIIndex, `{"schemaVersion":2,"layers":[{"digest":"x"}]}`, ""},
		{"unknown media type", "application/vnd.example+json", string(schema2), "{}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Build(Input{Namespace: "a", Stream: "b", Tag: "c", Repository: "a/b", ReferenceHost: "h", Digest: "sha256:" + strings.Repeat("0", 64),
				MediaType: tc.mediaType, Manifest: []byte(tc.manifest), Config: []byte(tc.config)})
			if !errors.Is(err, ErrInvalidImage) {
				t.Errorf("err = %v, want ErrInvalidImage", err)
			}
		})
	}
}

func BenchmarkBuildSchema2(b *testing.B) {
	manifest, _ := os.ReadFile("testdata/schema2.manifest.json")
	cfg, _ := os.ReadFile("testdata/schema2.config.json")
	in := Input{Namespace: "team", Stream: "app", Tag: "v1", Repository: "team/app", ReferenceHost: "r:5000", Digest: digestOf(manifest),
		MediaType: MediaTypeDockerManifest, Manifest: manifest, Config: cfg}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Build(in); err != nil {
			b.Fatal(err)
		}
	}
}
