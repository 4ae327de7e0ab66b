package e2e_test

import (
	"encoding/json"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/openshift/api/image/docker10"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// TestPushImagesEndToEnd pushes real images through a real registry whose
// notifications reach the bridge, and checks every field of the mapping that
// reaches the API against the pushed image.
func TestPushImagesEndToEnd(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	for _, tc := range []struct {
		name      string
		oci       bool
		mediaType string
	}{
		{"schema2", false, "application/vnd.docker.distribution.manifest.v2+json"},
		{"oci", true, "application/vnd.oci.image.manifest.v1+json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := randomImage(t, 3, tc.oci)
			digest := e.push("e2e/"+tc.name, "v1", img)
			e.waitTag("e2e", tc.name, "v1", digest)

			stored := e.api.Image(digest)
			if stored == nil {
				t.Fatal("no Image stored")
			}
			raw, _ := img.RawManifest()
			rawCfg, _ := img.RawConfigFile()
			cfgDigest, _ := img.ConfigName()
			m, _ := img.Manifest()
			if stored.DockerImageManifest != string(raw) || stored.DockerImageConfig != string(rawCfg) {
				t.Error("manifest or config bytes differ from what was pushed")
			}
			if stored.DockerImageManifestMediaType != tc.mediaType {
				t.Errorf("media type = %s", stored.DockerImageManifestMediaType)
			}
			if want := e.reg.Host + "/e2e/" + tc.name + "@" + digest; stored.DockerImageReference != want {
				t.Errorf("reference = %s, want %s", stored.DockerImageReference, want)
			}
			if len(stored.DockerImageLayers) != len(m.Layers) {
				t.Fatalf("%d layers, want %d", len(stored.DockerImageLayers), len(m.Layers))
			}
			size := int64(len(rawCfg))
			for i, l := range m.Layers {
				got := stored.DockerImageLayers[i]
				if got.Name != l.Digest.String() || got.LayerSize != l.Size || got.MediaType != string(l.MediaType) {
					t.Errorf("layer %d = %+v, want %v", i, got, l)
				}
				size += l.Size
			}
			var meta docker10.DockerImage
			if err := json.Unmarshal(stored.DockerImageMetadata.Raw, &meta); err != nil {
				t.Fatal(err)
			}
			if meta.ID != cfgDigest.String() || meta.Size != size || meta.Architecture != "amd64" {
				t.Errorf("metadata Id=%s Size=%d Arch=%s, want %s %d amd64", meta.ID, meta.Size, meta.Architecture, cfgDigest, size)
			}
			if meta.Config == nil || len(meta.Config.Cmd) != 1 || meta.Config.Cmd[0] != "/app" {
				t.Errorf("metadata Config = %+v", meta.Config)
			}
			if stored.Annotations["image.openshift.io/dockerLayersOrder"] != "ascending" {
				t.Error("layer order annotation missing")
			}
		})
	}
}

func TestPushListsEndToEnd(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	for _, tc := range []struct {
		name string
		oci  bool
		mt   types.MediaType
	}{
		{"index", true, types.OCIImageIndex},
		{"manifestlist", false, types.DockerManifestList},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx, err := sandbox.RandomIndex(tc.oci, "amd64", "arm64", "arm")
			if err != nil {
				t.Fatal(err)
			}
			digest := e.push("e2e/"+tc.name, "latest", idx)
			e.waitTag("e2e", tc.name, "latest", digest)
			stored := e.api.Image(digest)
			im, _ := idx.IndexManifest()
			if stored.DockerImageManifestMediaType != string(tc.mt) {
				t.Errorf("media type = %s", stored.DockerImageManifestMediaType)
			}
			if len(stored.DockerImageManifests) != len(im.Manifests) {
				t.Fatalf("%d children, want %d", len(stored.DockerImageManifests), len(im.Manifests))
			}
			for i, c := range im.Manifests {
				got := stored.DockerImageManifests[i]
				if got.Digest != c.Digest.String() || got.ManifestSize != c.Size || got.Architecture != c.Platform.Architecture ||
					got.OS != c.Platform.OS || got.Variant != c.Platform.Variant || got.MediaType != string(c.MediaType) {
					t.Errorf("child %d = %+v, want %+v", i, got, c)
				}
			}
			if len(stored.DockerImageLayers) != 0 || stored.DockerImageConfig != "" {
				t.Error("list stored with layers or config")
			}
			// Children are pushed by digest: no mapping, no tag, and no Image unless createChildImages.
			if e.api.Image(im.Manifests[0].Digest.String()) != nil {
				t.Error("child Image created although createChildImages is off")
			}
		})
	}
}

func TestChildImagesCreatedWhenConfigured(t *testing.T) {
	e2 := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) { c.OpenShift.CreateChildImages = true }})
	idx, err := sandbox.RandomIndex(false, "amd64", "s390x")
	if err != nil {
		t.Fatal(err)
	}
	digest := e2.push("multi/app", "v2", idx)
	e2.waitTag("multi", "app", "v2", digest)
	im, _ := idx.IndexManifest()
	for _, c := range im.Manifests {
		child := e2.api.Image(c.Digest.String())
		if child == nil {
			t.Fatalf("child %s not created", c.Digest)
		}
		if len(child.DockerImageLayers) == 0 || child.DockerImageConfig == "" {
			t.Errorf("child %s lacks layers or config", c.Digest)
		}
	}
}

func TestOneDigestSeveralTags(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	img := randomImage(t, 2, false)
	digest := e.push("team/app", "v1", img)
	e.tag("team/app", digest, "v1.0")
	e.tag("team/app", digest, "latest")
	for _, tag := range []string{"v1", "v1.0", "latest"} {
		e.waitTag("team", "app", tag, digest)
	}
	s := e.api.Stream("team", "app")
	if len(s.Status.Tags) != 3 {
		t.Errorf("%d tags, want 3", len(s.Status.Tags))
	}
	for _, tag := range s.Status.Tags {
		if len(tag.Items) != 1 {
			t.Errorf("tag %s history has %d items, want 1", tag.Tag, len(tag.Items))
		}
	}
}

func TestPushByDigestMapsNothing(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	img := randomImage(t, 1, false)
	if _, err := sandbox.PushByDigest(e.reg.Host, "bydigest/app", img); err != nil {
		t.Fatal(err)
	}
	// A later tagged push in another repository proves the earlier events were processed.
	marker := e.push("bydigest/marker", "v1", randomImage(t, 1, false))
	e.waitTag("bydigest", "marker", "v1", marker)
	if e.api.Stream("bydigest", "app") != nil {
		t.Error("a push by digest created an image stream")
	}
	if got := e.metric(`imagestream_bridge_events_skipped_total{reason="untagged",registry="main"}`); got < 1 {
		t.Errorf("untagged skips = %v, want >= 1", got)
	}
}

// TestRetagFollowsPushOrder moves one tag back and forth quickly: the tag ends
// on the last pushed digest and its history follows push order.
func TestRetagFollowsPushOrder(t *testing.T) {
	e := startEnv(t, envOpts{notify: true})
	var digests []string
	imgs := make([]v1.Image, 4)
	for i := range imgs {
		imgs[i] = randomImage(t, 1, i%2 == 1)
		digests = append(digests, e.push("retag/app", "stable", imgs[i]))
	}
	// Back to the first image: a new history entry, not a no-op.
	e.tag("retag/app", digests[0], "stable")
	want := []string{digests[0], digests[3], digests[2], digests[1], digests[0]}
	e.waitFor("history of 5", func() bool { return len(e.api.TagHistory("retag", "app", "stable")) == len(want) })
	got := e.api.TagHistory("retag", "app", "stable")
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("history = %v, want %v (newest first)", got, want)
		}
	}
}
