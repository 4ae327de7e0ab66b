package sender

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// fuzzDecode checks what holds for any body: Decode never panics, accepts
// only valid JSON, returns at most MaxEvents events with known actions, and
// check holds for every accepted result.
func fuzzDecode(f *testing.F, kind Kind, seeds []string, check func(*testing.T, []event.Event)) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	for _, c := range malformedCommon {
		f.Add([]byte(c.body))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := Decode(kind, body)
		if err != nil {
			if evs != nil {
				t.Fatalf("Decode returned events with an error: %v", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("Decode accepted invalid JSON %q", body)
		}
		if len(evs) > MaxEvents {
			t.Fatalf("Decode returned %d events, over %d", len(evs), MaxEvents)
		}
		for _, e := range evs {
			switch e.Action {
			case event.Push, event.Pull, event.Mount, event.Delete, event.Ping, event.Other:
			default:
				t.Fatalf("Decode returned action %q", e.Action)
			}
		}
		check(t, evs)
	})
}

func FuzzDecodeDistribution(f *testing.F) {
	fuzzDecode(f, Distribution, []string{distPush, gitlabPush, gitlabRename, `{}`, `{"events":[]}`, `{"events":null}`},
		func(t *testing.T, evs []event.Event) {
			for _, e := range evs {
				if e.Action == event.Ping {
					t.Fatal("distribution has no ping action")
				}
			}
		})
}

func FuzzDecodeHarbor(f *testing.F) {
	fuzzDecode(f, Harbor, []string{harborDefault, harborCloudPull, harborCloudPush, harborUntagged, harborQuota, harborReplication},
		func(t *testing.T, evs []event.Event) {
			for _, e := range evs {
				if isDigest(e.Tag) {
					t.Fatalf("Harbor event kept digest %q as its tag", e.Tag)
				}
				if e.MediaType != "" || e.Action == event.Ping || e.Action == event.Mount {
					t.Fatalf("Harbor event %+v has a media type or an action Harbor never sends", e)
				}
			}
		})
}

func FuzzDecodeQuay(f *testing.F) {
	fuzzDecode(f, Quay, []string{quayPush, quayTest, quayMirror, quayTwoTags},
		func(t *testing.T, evs []event.Event) {
			if len(evs) == 0 {
				t.Fatal("a well-formed Quay body decoded to no event")
			}
			for _, e := range evs {
				if e.ID != "" || e.Digest != "" || e.MediaType != "" || !e.Timestamp.IsZero() {
					t.Fatalf("Quay event %+v has fields Quay never sends", e)
				}
			}
		})
}

func FuzzDecodeArtifactory(f *testing.F) {
	fuzzDecode(f, Artifactory, []string{artifactoryList, artifactoryManifest, artifactoryBadSHA, artifactoryDeleted,
		artifactoryPromoted, artifactoryLayer, artifactoryArtifact},
		func(t *testing.T, evs []event.Event) {
			if len(evs) != 1 {
				t.Fatalf("Artifactory body decoded to %d events, want 1", len(evs))
			}
			if e := evs[0]; !strings.HasPrefix(e.Digest, "sha256:") || e.ID != "" || e.MediaType != "" {
				t.Fatalf("Artifactory event %+v: want a sha256: digest, no id, no media type", e)
			}
		})
}

func FuzzDecodeACR(f *testing.F) {
	fuzzDecode(f, ACR, []string{acrPush, acrPing, acrChild, acrQuarantine, acrChartPush, acrEventGridArray},
		func(t *testing.T, evs []event.Event) {
			if len(evs) != 1 {
				t.Fatalf("ACR body decoded to %d events, want 1", len(evs))
			}
		})
}
