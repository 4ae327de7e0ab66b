package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/openshift/api/image/docker10"
)

// The reference names the repository the registry holds, whatever namespace
// and stream a mapping rule chose (issue 9 item 1).
func TestBuildReferenceUsesRepository(t *testing.T) {
	schema2, list := read(t, "schema2.manifest.json"), read(t, "list.manifest.json")
	for _, tc := range []struct {
		rule, repository, namespace, stream string
	}{
		{"join", "team/group/app", "team", "group-app"},
		{"stripPrefix", "prod/team/app", "team", "app"},
		{"namespace", "tools/app", "shared", "app"},
		{"plain", "team/app", "team", "app"},
	} {
		for _, fx := range []struct {
			mediaType string
			manifest  []byte
			config    []byte
		}{
			{MediaTypeDockerManifest, schema2, read(t, "schema2.config.json")},
			{MediaTypeDockerList, list, nil},
		} {
			t.Run(tc.rule+"/"+fx.mediaType, func(t *testing.T) {
				d := digestOf(fx.manifest)
				m, warn, err := Build(Input{Namespace: tc.namespace, Stream: tc.stream, Tag: "v1", Repository: tc.repository,
					ReferenceHost: "registry.example.com:5000", Digest: d, MediaType: fx.mediaType, Manifest: fx.manifest, Config: fx.config})
				if err != nil || warn != nil {
					t.Fatal(warn, err)
				}
				if want := "registry.example.com:5000/" + tc.repository + "@" + d; m.Image.DockerImageReference != want {
					t.Errorf("dockerImageReference = %s, want %s", m.Image.DockerImageReference, want)
				}
				if m.Namespace != tc.namespace || m.Name != tc.stream {
					t.Errorf("mapping names %s/%s", m.Namespace, m.Name)
				}
			})
		}
	}
}

// A config (or manifest) the server's docker10 types cannot decode: upstream
// PrepareForCreate (openshift-apiserver pkg/image/apiserver/registry/image/strategy.go)
// logs InternalImageWithMetadata's error and goes on; that function
// (pkg/image/apiserver/internal/imageutil/helpers.go) returns before it
// converts anything when json.Unmarshal into docker10.DockerImageConfig (or
// DockerImageManifest) fails, or when dockerImageConfig is empty, so the stored
// metadata is the empty one the integrated registry sent. Fields that
// DockerImageConfig lacks are ignored by encoding/json there and here.
func TestBuildLenientConfig(t *testing.T) {
	schema2 := read(t, "schema2.manifest.json")
	for _, tc := range []struct {
		name     string
		manifest string
		config   string
		warn     string // "" : decodes upstream, metadata computed
	}{
		// helpers.go: json.Unmarshal(DockerImageConfig) -> time.Time rejects it.
		{"created not a time", "", `{"created":"yesterday","architecture":"amd64"}`, `"created"`},
		{"created empty", "", `{"created":""}`, `"created"`},
		// DockerImageConfig.OSFeatures is []string, OSVersion and OS are strings.
		{"os.features mistyped", "", `{"os":"linux","os.features":"sse4"}`, `"os.features"`},
		{"os.version mistyped", "", `{"os.version":10}`, `"os.version"`},
		{"os mistyped", "", `{"os":["linux"]}`, `"os"`},
		// DockerConfigHistory.Created is a time.Time, EmptyLayer a bool.
		{"history created", "", `{"history":[{"created":"soon"}]}`, `"history"`},
		{"history empty_layer", "", `{"history":[{"empty_layer":"yes"}]}`, `"history`},
		// DockerConfigRootFS.Type is a string.
		{"rootfs type", "", `{"rootfs":{"type":1}}`, `"rootfs.type"`},
		// docker10.DockerConfig.Env is []string.
		{"config Env", "", `{"config":{"Env":"A=B"}}`, `"config.Env"`},
		{"architecture mistyped", "", `{"architecture":64}`, `"architecture"`},
		{"config not json", "", `[1`, `not a JSON object`},
		{"config array", "", `[1]`, `not a JSON object`},
		// helpers.go: "dockerImageConfig must not be empty".
		{"config empty", "", ``, `must not be empty`},
		// DockerImageManifest.Name is a string: the server fails before the config.
		{"manifest name mistyped", `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","name":5,` +
			`"config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":2,"digest":"sha256:` + strings.Repeat("c", 64) + `"},"layers":[]}`,
			`{}`, `manifest field "name"`},
		// Not in DockerImageConfig or DockerConfig: ignored upstream.
		{"unknown fields ignored", "", `{"created":"2026-01-01T00:00:00Z","variant":5,"moby.buildkit.buildinfo.v1":{"x":1},` +
			`"config":{"ArgsEscaped":"yes","Healthcheck":7,"StopSignal":9},"rootfs":{"type":"layers","extra":1}}`, ""},
		{"created null", "", `{"created":null}`, ""},
		{"config null", "", `null`, ""},
		{"keys case-insensitive", "", `{"Created":"2026-01-01T00:00:00Z","ARCHITECTURE":"arm64"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			manifest := schema2
			if tc.manifest != "" {
				manifest = []byte(tc.manifest)
			}
			m, warn, err := Build(Input{Namespace: "a", Stream: "b", Tag: "c", Repository: "a/b", ReferenceHost: "h",
				Digest: digestOf(manifest), MediaType: MediaTypeDockerManifest, Manifest: manifest, Config: []byte(tc.config)})
			if err != nil {
				t.Fatalf("err = %v; the server accepts this Image", err)
			}
			img := m.Image
			// Kept only when the server's metadata pass succeeds on them: it runs
			// again on every GET of the ImageStreamTag.
			wantManifest, wantConfig := string(manifest), tc.config
			if tc.warn != "" {
				wantManifest, wantConfig = "", ""
			}
			if img.DockerImageManifest != wantManifest || img.DockerImageConfig != wantConfig ||
				img.DockerImageManifestMediaType != MediaTypeDockerManifest || img.Annotations[AnnotationLayersOrder] != "ascending" {
				t.Errorf("manifest %q, config %q, media type or order annotation: %+v", img.DockerImageManifest, img.DockerImageConfig, img)
			}
			var man struct{ Layers []json.RawMessage }
			_ = json.Unmarshal(manifest, &man)
			if len(img.DockerImageLayers) != len(man.Layers) {
				t.Errorf("layers = %d, want %d", len(img.DockerImageLayers), len(man.Layers))
			}
			meta, _ := metadata(t, m)
			empty := docker10.DockerImage{}
			empty.Kind, empty.APIVersion = "DockerImage", "image.openshift.io/1.0"
			if tc.warn == "" {
				if warn != nil {
					t.Fatalf("warn = %v, upstream decodes this config", warn)
				}
				if want := int64(len(tc.config)) + 2811478 + 32; meta.Size != want {
					t.Errorf("Size = %d, want %d (metadata computed)", meta.Size, want)
				}
				return
			}
			if warn == nil || !strings.Contains(warn.Error(), tc.warn) {
				t.Fatalf("warn = %v, want it to name %s", warn, tc.warn)
			}
			if diff := cmp.Diff(empty, meta); diff != "" {
				t.Errorf("metadata not empty:\n%s", diff)
			}
		})
	}
}

// Artifacts mapped with `artifacts: map` go through the same path: a Helm
// chart's config and the empty descriptor decode as DockerImageConfig (unknown
// fields ignored), so the server computes metadata with a zero Created.
func TestBuildArtifactsAsOpenShift(t *testing.T) {
	for _, tc := range []struct{ name, configType, config, layerType string }{
		{"helm", "application/vnd.cncf.helm.config.v1+json", `{"name":"chart","version":"0.1.0","apiVersion":"v2"}`, "application/vnd.cncf.helm.chart.content.v1.tar+gzip"},
		{"empty config", "application/vnd.oci.empty.v1+json", `{}`, "application/spdx+json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			manifest := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":%q,"size":%d},"layers":[{"mediaType":%q,"digest":"sha256:%s","size":3000}]}`,
				MediaTypeOCIManifest, tc.configType, digestOf([]byte(tc.config)), len(tc.config), tc.layerType, strings.Repeat("d", 64)))
			m, warn, err := Build(Input{Namespace: "a", Stream: "b", Tag: "c", Repository: "a/b", ReferenceHost: "h",
				Digest: digestOf(manifest), MediaType: MediaTypeOCIManifest, Manifest: manifest, Config: []byte(tc.config)})
			if err != nil || warn != nil {
				t.Fatal(warn, err)
			}
			meta, raw := metadata(t, m)
			if meta.ID != digestOf([]byte(tc.config)) || meta.Size != int64(len(tc.config))+3000 || raw["Created"] != nil {
				t.Errorf("metadata = %+v (Created %v)", meta, raw["Created"])
			}
			if len(m.Image.DockerImageLayers) != 1 || m.Image.DockerImageLayers[0].MediaType != tc.layerType {
				t.Errorf("layers = %+v", m.Image.DockerImageLayers)
			}
		})
	}
}

func listOf(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":500,"digest":"sha256:%064x","platform":{"architecture":"amd64","os":"linux"}}`, i)
	}
	b.WriteString("]}")
	return []byte(b.String())
}

func TestBuildTooManyChildren(t *testing.T) {
	for _, n := range []int{MaxChildren, MaxChildren + 1, 5000} {
		manifest := listOf(n)
		m, _, err := Build(Input{Namespace: "a", Stream: "b", Tag: "c", Repository: "a/b", ReferenceHost: "h",
			Digest: digestOf(manifest), MediaType: MediaTypeOCIIndex, Manifest: manifest})
		if n <= MaxChildren {
			if err != nil || len(m.Image.DockerImageManifests) != n {
				t.Errorf("%d children: err %v", n, err)
			}
			continue
		}
		if !errors.Is(err, ErrTooManyChildren) || errors.Is(err, ErrInvalidImage) {
			t.Errorf("%d children: err = %v, want ErrTooManyChildren only", n, err)
		}
	}
}

func TestArtifact(t *testing.T) {
	const (
		dockerCfg = "application/vnd.docker.container.image.v1+json"
		ociCfg    = "application/vnd.oci.image.config.v1+json"
	)
	image := func(mt, cfgType string, layers ...string) []byte {
		var ls []string
		for i, l := range layers {
			ls = append(ls, fmt.Sprintf(`{"mediaType":%q,"digest":"sha256:%064x","size":10}`, l, i))
		}
		return []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":%q,"digest":"sha256:%s","size":2},"layers":[%s]}`,
			mt, cfgType, strings.Repeat("c", 64), strings.Join(ls, ",")))
	}
	withArtifactType := func(b []byte, at string) []byte {
		return []byte(strings.Replace(string(b), `{"schemaVersion":2,`, fmt.Sprintf(`{"schemaVersion":2,"artifactType":%q,`, at), 1))
	}
	for _, tc := range []struct {
		name, mediaType string
		manifest        []byte
		want            string
	}{
		{"docker image", MediaTypeDockerManifest, image(MediaTypeDockerManifest, dockerCfg, "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"), ""},
		{"oci image", MediaTypeOCIManifest, image(MediaTypeOCIManifest, ociCfg, "application/vnd.oci.image.layer.v1.tar", "application/vnd.oci.image.layer.v1.tar+gzip",
			"application/vnd.oci.image.layer.v1.tar+zstd", "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"), ""},
		{"image without layers", MediaTypeOCIManifest, image(MediaTypeOCIManifest, ociCfg), ""},
		{"fixture schema2", MediaTypeDockerManifest, read(t, "schema2.manifest.json"), ""},
		// The fixture lists its config blob as a layer too (to test Size): not a filesystem layer.
		{"fixture oci", MediaTypeOCIManifest, read(t, "oci.manifest.json"), "layer media type application/vnd.oci.image.config.v1+json"},
		{"plain list", MediaTypeDockerList, read(t, "list.manifest.json"), ""},
		{"plain index", MediaTypeOCIIndex, read(t, "index.manifest.json"), ""},
		{"helm chart", MediaTypeOCIManifest, image(MediaTypeOCIManifest, "application/vnd.cncf.helm.config.v1+json", "application/vnd.cncf.helm.chart.content.v1.tar+gzip"),
			"config media type application/vnd.cncf.helm.config.v1+json"},
		{"empty config", MediaTypeOCIManifest, image(MediaTypeOCIManifest, "application/vnd.oci.empty.v1+json", "application/vnd.in-toto+json"),
			"config media type application/vnd.oci.empty.v1+json"},
		{"artifactType on manifest", MediaTypeOCIManifest, withArtifactType(image(MediaTypeOCIManifest, "application/vnd.oci.empty.v1+json", "application/spdx+json"), "application/spdx+json"),
			"artifactType application/spdx+json"},
		{"artifactType on index", MediaTypeOCIIndex, withArtifactType(listOf(2), "application/vnd.example.bundle"),
			"artifactType application/vnd.example.bundle"},
		{"cosign signature", MediaTypeOCIManifest, image(MediaTypeOCIManifest, ociCfg, "application/vnd.dev.cosign.simplesigning.v1+json"),
			"layer media type application/vnd.dev.cosign.simplesigning.v1+json"},
		{"cosign attestation", MediaTypeOCIManifest, image(MediaTypeOCIManifest, ociCfg, "application/vnd.dsse.envelope.v1+json"),
			"layer media type application/vnd.dsse.envelope.v1+json"},
		{"cosign sbom", MediaTypeOCIManifest, image(MediaTypeOCIManifest, ociCfg, "text/spdx+json"), "layer media type text/spdx+json"},
		{"image with one foreign layer type", MediaTypeDockerManifest, image(MediaTypeDockerManifest, dockerCfg, "application/vnd.docker.image.rootfs.diff.tar.gzip", "application/vnd.example.data"),
			"layer media type application/vnd.example.data"},
		{"undecodable: left to Build", MediaTypeOCIManifest, []byte("{"), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Artifact(tc.mediaType, tc.manifest, []byte(`{}`)); got != tc.want {
				t.Errorf("Artifact = %q, want %q", got, tc.want)
			}
		})
	}
}
