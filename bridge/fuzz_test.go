package bridge

import (
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// FuzzToJob feeds arbitrary events to the filter and router: nothing panics,
// every skip names a reason, and every job that comes out carries a valid
// repository, tag, digest and route.
func FuzzToJob(f *testing.F) {
	const d = "sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845"
	const v2 = "application/vnd.docker.distribution.manifest.v2+json"
	f.Add(event.Push, "demo/app", "v1", d, v2)
	f.Add(event.Push, "a/b/c", "latest", d, "application/vnd.oci.image.index.v1+json")
	f.Add(event.Pull, "", "", "", "")
	f.Add(event.Push, "team/app", "v1", "", "") // Quay: no digest, no media type
	f.Add(event.Push, "../../x", "-", "md5:00", v2)
	rt := router{mapping: config.Mapping{Join: "-"}}
	f.Fuzz(func(t *testing.T, action, repo, tag, digest, mediaType string) {
		ev := event.Event{Action: action, Repository: repo, Tag: tag, Digest: digest, MediaType: mediaType}
		job, reason := toJob("main", rt, &ev)
		if job == nil {
			if reason == "" {
				t.Fatal("skipped without a reason")
			}
			return
		}
		if !event.ValidRepository(job.Repository) || !event.ValidTag(job.Tag) {
			t.Fatalf("invalid name passed: %q %q", job.Repository, job.Tag)
		}
		if _, err := event.ParseDigest(job.Digest); err != nil && job.Digest != "" {
			t.Fatalf("invalid digest passed: %q", job.Digest)
		}
		if !namespaceRE.MatchString(job.Namespace) || !streamNameRE.MatchString(job.Stream) {
			t.Fatalf("invalid route passed: %q %q", job.Namespace, job.Stream)
		}
	})
}
