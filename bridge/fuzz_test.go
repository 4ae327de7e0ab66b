package bridge

import (
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/registry"
)

// FuzzDecodeEnvelope feeds arbitrary bodies to the envelope decoder and the
// event filter: nothing panics, and every job that comes out carries a valid
// repository, tag, digest and route.
func FuzzDecodeEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"events":[]}`,
		`{"events":[{"id":"1","timestamp":"2026-11-26T16:40:58.598696602Z","action":"push","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845","size":583,"repository":"demo/app","tag":"v1"}}]}`,
		`{"events":[{"action":"push","target":{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845","repository":"a/b/c","tag":"latest"}}]}`,
		`{"events":[{"action":"pull"}]}`,
		`{"events":null}`,
		`{"events":[{"target":{"digest":"md5:00","repository":"../../x","tag":"-"}}]}`,
		`{"events":[{}]}{}`,
		`[]`, `"`, ``,
	} {
		f.Add([]byte(seed))
	}
	rt := router{mapping: config.Mapping{Join: "-"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		for i := range events {
			job, reason := toJob("main", rt, &events[i])
			if job == nil {
				if reason == "" {
					t.Fatal("skipped without a reason")
				}
				continue
			}
			if !registry.ValidRepository(job.Repository) || !registry.ValidTag(job.Tag) {
				t.Fatalf("invalid name passed: %q %q", job.Repository, job.Tag)
			}
			if _, err := registry.ParseDigest(job.Digest); err != nil {
				t.Fatalf("invalid digest passed: %q", job.Digest)
			}
			if !namespaceRE.MatchString(job.Namespace) || !streamNameRE.MatchString(job.Stream) {
				t.Fatalf("invalid route passed: %q %q", job.Namespace, job.Stream)
			}
		}
	})
}
