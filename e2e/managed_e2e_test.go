package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// With managedImages, an image pushed to a second repository already exists as
// an Image; the API server then tags it with the stream's
// status.dockerImageRepository, i.e. the integrated registry, which holds no
// such manifest for an image that lives in an external registry: the pull fails.
// A second, empty distribution registry stands in for the integrated one.
func TestE2EManagedImagesSecondStreamPointsAtInternalRegistry(t *testing.T) {
	internal, err := sandbox.StartRegistry(context.Background(), sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(internal.Close)
	e := startEnv(t, envOpts{notify: true, configure: func(c *config.Config) { c.OpenShift.ManagedImages = true }})
	e.api.SetInternalRegistry(internal.Host)

	img := randomImage(t, 1, false)
	d := e.push("team/app", "v1", img)
	e.waitTag("team", "app", "v1", d)
	e.push("team/copy", "v1", img)
	e.waitTag("team", "copy", "v1", d)

	refOf := func(stream string) string {
		return e.api.Stream("team", stream).Status.Tags[0].Items[0].DockerImageReference
	}
	if got, want := refOf("app"), e.reg.Host+"/team/app@"+d; got != want {
		t.Errorf("first stream reference = %s, want %s", got, want)
	}
	got := refOf("copy")
	if want := internal.Host + "/team/copy@" + d; got != want {
		t.Fatalf("second stream reference = %s, want the rewritten %s", got, want)
	}
	pull := func(ref string) int {
		host, rest, _ := strings.Cut(ref, "/")
		repo, digest, _ := strings.Cut(rest, "@")
		req, _ := http.NewRequest(http.MethodGet, "http://"+host+"/v2/"+repo+"/manifests/"+digest, nil)
		req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := pull(refOf("app")); code != http.StatusOK {
		t.Errorf("pull of the first stream's reference = %d, want 200", code)
	}
	if code := pull(got); code != http.StatusNotFound {
		t.Errorf("pull of the rewritten reference = %d, want 404 (the integrated registry has no such manifest)", code)
	}
}
