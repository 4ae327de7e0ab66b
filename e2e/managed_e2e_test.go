package e2e_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// managedImages is deprecated and has no effect: the bridge never claims that
// the integrated registry owns an image it does not hold. Had it sent
// openshift.io/image.managed, the API server would tag every mapping after the
// first of a digest (another tag, another stream, a retry) with the stream's
// status.dockerImageRepository, the integrated registry, which cannot serve the
// image. A second, empty distribution registry stands in for the integrated one.
func TestE2EManagedImagesKeepsExternalReference(t *testing.T) {
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
	e.push("team/app", "v2", img) // another tag of the same digest
	e.waitTag("team", "app", "v2", d)
	e.push("team/copy", "v1", img) // another stream
	e.waitTag("team", "copy", "v1", d)

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
	for _, c := range []struct{ stream, tag string }{{"app", "v1"}, {"app", "v2"}, {"copy", "v1"}} {
		h := e.api.TagHistory("team", c.stream, c.tag)
		if len(h) == 0 {
			t.Fatalf("%s:%s has no history", c.stream, c.tag)
		}
		ref := tagEvent(t, e, "team", c.stream, c.tag).DockerImageReference
		if want := e.reg.Host + "/team/" + c.stream + "@" + d; ref != want {
			t.Errorf("%s:%s reference = %s, want the external %s", c.stream, c.tag, ref, want)
		}
		if code := pull(ref); code != http.StatusOK {
			t.Errorf("pull of %s:%s's reference %s = %d, want 200", c.stream, c.tag, ref, code)
		}
	}
	if ann := e.api.Image(d).Annotations; ann["openshift.io/image.managed"] != "" || ann["image.openshift.io/manifestBlobStored"] != "" {
		t.Errorf("stored Image claims the integrated registry: %v", ann)
	}
}
