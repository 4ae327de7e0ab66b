package e2e_test

import (
	"net/http"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// With a mapping rule the stream name is not the repository path: the stored
// reference must still name the repository the registry holds, so that a pull
// of it (what a pod does) finds the manifest (issue 9 item 1).
func TestE2EReferenceUnderJoinRule(t *testing.T) {
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) { c.Registries[0].Mapping.Join = "-" }})
	idx, err := sandbox.RandomIndex(true, "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tag, digest string
	}{
		{"v1", e.push("team/group/app", "v1", randomImage(t, 2, false))},
		{"multi", e.push("team/group/app", "multi", idx)},
	} {
		e.waitTag("team", "group-app", tc.tag, tc.digest)
		want := e.reg.Host + "/team/group/app@" + tc.digest
		img := e.api.Image(tc.digest)
		if img == nil {
			t.Fatalf("%s: no Image stored", tc.tag)
		}
		if img.DockerImageReference != want {
			t.Fatalf("%s: stored Image reference = %s, want %s", tc.tag, img.DockerImageReference, want)
		}
		s := e.api.Stream("team", "group-app")
		for _, tg := range s.Status.Tags {
			if tg.Tag == tc.tag && tg.Items[0].DockerImageReference != want {
				t.Errorf("%s: tag history reference = %s, want %s", tc.tag, tg.Items[0].DockerImageReference, want)
			}
		}
		// What a pull of the reference asks the registry for.
		req, _ := http.NewRequest(http.MethodGet, e.reg.URL+"/v2/team/group/app/manifests/"+tc.digest, nil)
		req.Header.Set("Accept", img.DockerImageManifestMediaType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: GET of the reference's manifest = %d, want 200", tc.tag, resp.StatusCode)
		}
		if tc.tag == "multi" && !mapping.IsList(img.DockerImageManifestMediaType) {
			t.Errorf("multi: media type %s", img.DockerImageManifestMediaType)
		}
	}
}
