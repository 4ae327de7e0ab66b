package sender

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

type decodeCase struct {
	name    string
	body    string
	want    []event.Event
	wantErr bool
}

func runDecode(t *testing.T, kind Kind, cases []decodeCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Decode(kind, []byte(tc.body))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("Decode(%s) = %+v, want an error", kind, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Decode(%s): %v", kind, err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Decode(%s) (-want +got):\n%s", kind, diff)
			}
		})
	}
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// events builds a body of n copies of one distribution event.
func events(n int) string {
	one := `{"id":"x","timestamp":"2026-01-02T03:04:05Z","action":"push","target":{"repository":"a/b","tag":"t"}}`
	return `{"events":[` + strings.TrimSuffix(strings.Repeat(one+",", n), ",") + `]}`
}

// malformedCommon are bodies every sender rejects.
var malformedCommon = []decodeCase{
	{name: "empty body", body: "", wantErr: true},
	{name: "whitespace only", body: " \n", wantErr: true},
	{name: "null", body: "null", wantErr: true},
	{name: "array", body: "[]", wantErr: true},
	{name: "string", body: `"push"`, wantErr: true},
	{name: "truncated", body: `{"events":[{"id":"x"`, wantErr: true},
	{name: "trailing object", body: `{} {}`, wantErr: true},
	{name: "trailing garbage", body: `{}x`, wantErr: true},
}

func TestDecodeDistribution(t *testing.T) {
	const dgst = "sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845"
	cases := []decodeCase{
		{name: "real push", body: distPush, want: []event.Event{{
			ID: "01a218bb-4fe6-7aa0-b1bb-750e74b5560a", Action: event.Push, Repository: "demo/app", Tag: "v1",
			Digest: dgst, MediaType: "application/vnd.docker.distribution.manifest.v2+json",
			Timestamp: mustTime(t, "2026-11-26T16:40:58.598696602Z"),
		}}},
		{name: "gitlab push with actor.user_type", body: gitlabPush, want: []event.Event{{
			ID: "a582a0f3-e620-43e6-8e98-ff850fc9d984", Action: event.Push, Repository: "root/test", Tag: "more-auth",
			Digest:    "sha256:af06af3514c44a964d3b905b498cf6493db8f1cde7c10e078213a89c87308ba0",
			MediaType: "application/vnd.docker.distribution.manifest.v2+json",
			Timestamp: mustTime(t, "2023-01-25T14:45:54.17327+11:00"),
		}}},
		{name: "gitlab rename is other", body: gitlabRename, want: []event.Event{{
			ID: "5f0e2c3a-4c1b-4f7e-9d1e-0b6a1c2d3e4f", Action: event.Other, Repository: "group/old",
			Timestamp: mustTime(t, "2024-03-01T10:00:00Z"),
		}}},
		{name: "actions", body: `{"events":[{"action":"pull"},{"action":"mount"},{"action":"delete","target":{"repository":"a/b","tag":"t"}},{"action":"PUSH"},{}]}`,
			want: []event.Event{{Action: event.Pull}, {Action: event.Mount}, {Action: event.Delete, Repository: "a/b", Tag: "t"}, {Action: event.Other}, {Action: event.Other}}},
		{name: "probe {}", body: `{}`},
		{name: "empty events", body: `{"events":[]}`},
		{name: "null events", body: `{"events":null}`},
		{name: "surrounding whitespace", body: "\n {\"events\":[]} \n"},
		{name: "1000 events", body: events(1000), want: func() []event.Event {
			evs := make([]event.Event, 1000)
			for i := range evs {
				evs[i] = event.Event{ID: "x", Action: event.Push, Repository: "a/b", Tag: "t", Timestamp: mustTime(t, "2026-01-02T03:04:05Z")}
			}
			return evs
		}()},
		{name: "1001 events", body: events(1001), wantErr: true},
		{name: "bad timestamp", body: `{"events":[{"id":"x","timestamp":"yesterday","action":"push"}]}`, wantErr: true},
		{name: "numeric id", body: `{"events":[{"id":1,"action":"push"}]}`, wantErr: true},
		{name: "events not a list", body: `{"events":"push"}`, wantErr: true},
		{name: "target not an object", body: `{"events":[{"action":"push","target":"a/b:t"}]}`, wantErr: true},
	}
	runDecode(t, Distribution, append(cases, malformedCommon...))
}

func TestDecodeHarbor(t *testing.T) {
	const dgst = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []decodeCase{
		{name: "default push", body: harborDefault, want: []event.Event{{
			Action: event.Push, Repository: "test-webhook/debian", Tag: "latest",
			Digest:    "sha256:8a9e9863dbb6e10edb5adfe917c00da84e1700fa76e7ed02476aa6e6fb8ee0d8",
			Timestamp: time.Unix(1586922308, 0).UTC(),
		}}},
		{name: "cloudevents untagged pull", body: harborCloudPull, want: []event.Event{{
			ID: "4b2f89a6-548d-4c12-9993-a1f5790b97d2", Action: event.Pull, Repository: "library/busybox",
			Digest: "sha256:dde8e930…fe8c", Timestamp: mustTime(t, "2023-03-06T06:08:43Z"),
		}}},
		{name: "cloudevents push", body: harborCloudPush, want: []event.Event{{
			ID: "9d0c3f4e-2a1b-4c5d-8e7f-112233445566", Action: event.Push, Repository: "team/sub/app", Tag: "v2",
			Digest: dgst, Timestamp: mustTime(t, "2026-01-02T03:04:05Z"),
		}}},
		{name: "default untagged push", body: harborUntagged, want: []event.Event{{
			Action: event.Push, Repository: "team/app", Digest: dgst, Timestamp: time.Unix(1700000000, 0).UTC(),
		}}},
		{name: "quota is other", body: harborQuota, want: []event.Event{{
			Action: event.Other, Repository: "team/app", Tag: "v1", Digest: dgst, Timestamp: time.Unix(1700000000, 0).UTC(),
		}}},
		{name: "replication has no resources", body: harborReplication},
		{name: "default pull and delete", body: `{"type":"PULL_ARTIFACT","event_data":{"resources":[{"tag":"a"}]}}`,
			want: []event.Event{{Action: event.Pull, Tag: "a"}}},
		{name: "default delete", body: `{"type":"DELETE_ARTIFACT","event_data":{"resources":[{"tag":"a"}]}}`,
			want: []event.Event{{Action: event.Delete, Tag: "a"}}},
		{name: "cloudevents delete and scan", body: `{"specversion":"1.0","id":"e","type":"harbor.artifact.deleted","data":{"resources":[{"tag":"a"}]}}`,
			want: []event.Event{{ID: "e", Action: event.Delete, Tag: "a"}}},
		{name: "cloudevents other type", body: `{"specversion":"1.0","id":"e","type":"harbor.scan.completed","data":{"resources":[{"tag":"a"}]}}`,
			want: []event.Event{{ID: "e", Action: event.Other, Tag: "a"}}},
		{name: "cloudevents ignores event_data", body: `{"specversion":"1.0","id":"e","type":"harbor.artifact.pushed","event_data":{"resources":[{"tag":"a"}]}}`},
		{name: "default ignores data", body: `{"type":"PUSH_ARTIFACT","data":{"resources":[{"tag":"a"}]}}`},
		{name: "cloudevents two resources get distinct ids", body: `{"specversion":"1.0","id":"e","type":"harbor.artifact.pushed","data":{"resources":[{"tag":"a"},{"tag":"b"}],"repository":{"repo_full_name":"p/r"}}}`,
			want: []event.Event{{ID: "e/0", Action: event.Push, Repository: "p/r", Tag: "a"}, {ID: "e/1", Action: event.Push, Repository: "p/r", Tag: "b"}}},
		{name: "tag with another algorithm is a digest", body: `{"type":"PUSH_ARTIFACT","event_data":{"resources":[{"digest":"sha512:ab","tag":"sha512:ab"}]}}`,
			want: []event.Event{{Action: event.Push, Digest: "sha512:ab"}}},
		{name: "empty", body: `{}`},
		{name: "bad cloudevents time", body: `{"specversion":"1.0","type":"harbor.artifact.pushed","time":"06/03/2023"}`, wantErr: true},
		{name: "occur_at not a number", body: `{"type":"PUSH_ARTIFACT","occur_at":"1586922308"}`, wantErr: true},
		{name: "resources not a list", body: `{"type":"PUSH_ARTIFACT","event_data":{"resources":{}}}`, wantErr: true},
		{name: "1001 resources", body: `{"type":"PUSH_ARTIFACT","event_data":{"resources":[` + strings.TrimSuffix(strings.Repeat(`{"tag":"a"},`, 1001), ",") + `]}}`, wantErr: true},
	}
	runDecode(t, Harbor, append(cases, malformedCommon...))
}

func TestIsDigest(t *testing.T) {
	for s, want := range map[string]bool{
		"sha256:0123": true, "sha512:ab": true, "multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8": true,
		"sha256:dde8e930…fe8c": true, "latest": false, "": false, ":abc": false, "sha256:": false,
		"SHA256:ab": false, "-sha:ab": false, "sha-:ab": false, "sh a:ab": false,
	} {
		if got := isDigest(s); got != want {
			t.Errorf("isDigest(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDecodeQuay(t *testing.T) {
	cases := []decodeCase{
		{name: "push", body: quayPush, want: []event.Event{{Action: event.Push, Repository: "dgangaia/test", Tag: "latest"}}},
		{name: "test button is a ping", body: quayTest, want: []event.Event{{Action: event.Ping, Repository: "team/app"}}},
		{name: "mirror sync is other", body: quayMirror, want: []event.Event{{Action: event.Other, Repository: "team/app"}}},
		{name: "empty tags is other", body: `{"repository":"team/app","updated_tags":[]}`, want: []event.Event{{Action: event.Other, Repository: "team/app"}}},
		{name: "two tags", body: quayTwoTags, want: []event.Event{
			{Action: event.Push, Repository: "team/app", Tag: "v1"}, {Action: event.Push, Repository: "team/app", Tag: "stable"},
		}},
		{name: "foo then latest is a push", body: `{"repository":"team/app","updated_tags":["foo","latest"]}`, want: []event.Event{
			{Action: event.Push, Repository: "team/app", Tag: "foo"}, {Action: event.Push, Repository: "team/app", Tag: "latest"},
		}},
		{name: "1001 tags", body: `{"repository":"a/b","updated_tags":[` + strings.TrimSuffix(strings.Repeat(`"t",`, 1001), ",") + `]}`, wantErr: true},
		{name: "tags not strings", body: `{"repository":"a/b","updated_tags":[1]}`, wantErr: true},
		{name: "repository not a string", body: `{"repository":{"name":"a"},"updated_tags":["t"]}`, wantErr: true},
	}
	runDecode(t, Quay, append(cases, malformedCommon...))
}

func TestDecodeArtifactory(t *testing.T) {
	const hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cases := []decodeCase{
		{name: "list manifest push", body: artifactoryList, want: []event.Event{{
			Action: event.Push, Repository: "library/ubuntu", Tag: "latest",
			Digest: "sha256:35c4a2c15539c6c1e4e5fa4e554dac323ad0107d8eb5c582d6ff386b383b7dce",
		}}},
		{name: "manifest push", body: artifactoryManifest, want: []event.Event{{Action: event.Push, Repository: "team/app", Tag: "v1", Digest: "sha256:" + hex}}},
		{name: "bad sha256 kept for the bridge to refuse", body: artifactoryBadSHA, want: []event.Event{{Action: event.Push, Repository: "team/app", Tag: "v1", Digest: "sha256:0123ABCD"}}},
		{name: "missing sha256 is never an empty digest", body: `{"domain":"docker","event_type":"pushed","data":{"path":"a/t/manifest.json","image_name":"a","tag":"t"}}`,
			want: []event.Event{{Action: event.Push, Repository: "a", Tag: "t", Digest: "sha256:"}}},
		{name: "deleted", body: artifactoryDeleted, want: []event.Event{{Action: event.Delete, Repository: "team/app", Tag: "v1", Digest: "sha256:" + hex}}},
		{name: "promoted is other", body: artifactoryPromoted, want: []event.Event{{Action: event.Other, Repository: "team/app", Tag: "v1", Digest: "sha256:" + hex}}},
		{name: "layer path is other", body: artifactoryLayer, want: []event.Event{{Action: event.Other, Repository: "team/app", Tag: "v1", Digest: "sha256:" + hex}}},
		{name: "artifact domain is other", body: artifactoryArtifact, want: []event.Event{{Action: event.Other, Digest: "sha256:" + hex}}},
		{name: "path without a directory is other", body: `{"domain":"docker","event_type":"pushed","data":{"path":"manifest.json"}}`,
			want: []event.Event{{Action: event.Other, Digest: "sha256:"}}},
		{name: "size not a number", body: `{"domain":"docker","event_type":"pushed","data":{"sha256":12}}`, wantErr: true},
	}
	runDecode(t, Artifactory, append(cases, malformedCommon...))
}

func TestDecodeACR(t *testing.T) {
	cases := []decodeCase{
		{name: "push", body: acrPush, want: []event.Event{{
			ID: "cb8c3971-9adc-488b-xxxx-43cbb4974ff5", Action: event.Push, Repository: "hello-world", Tag: "v1",
			Digest:    "sha256:xxxxd5c8786bb9e621a45ece0dbxxxx1cdc624ad20da9fe62e9d25490f33xxxx",
			MediaType: "application/vnd.docker.distribution.manifest.v2+json",
			Timestamp: mustTime(t, "2023-11-17T16:52:01.343145347Z"),
		}}},
		{name: "ping", body: acrPing, want: []event.Event{{
			ID: "2a8b6c1e-1111-2222-3333-444455556666", Action: event.Ping, Timestamp: mustTime(t, "2026-01-02T03:04:05.123Z"),
		}}},
		{name: "digest-only child", body: acrChild, want: []event.Event{{
			ID: "7c1d2e3f-0000-1111-2222-333344445555", Action: event.Push, Repository: "team/app",
			Digest:    "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			MediaType: "application/vnd.oci.image.manifest.v1+json", Timestamp: mustTime(t, "2026-01-02T03:04:05Z"),
		}}},
		{name: "quarantine is other", body: acrQuarantine, want: []event.Event{{
			ID: "q1", Action: event.Other, Repository: "team/app", Tag: "v1",
			Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Timestamp: mustTime(t, "2026-01-02T03:04:05Z"),
		}}},
		{name: "chart push is other", body: acrChartPush, want: []event.Event{{
			ID: "c1", Action: event.Other, Repository: "helloworld", Tag: "0.1.0", MediaType: "application/vnd.acr.helm.chart",
			Digest: "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", Timestamp: mustTime(t, "2026-01-02T03:04:05Z"),
		}}},
		{name: "delete", body: `{"id":"d","action":"delete","target":{"repository":"a/b","tag":"t"}}`,
			want: []event.Event{{ID: "d", Action: event.Delete, Repository: "a/b", Tag: "t"}}},
		{name: "event grid array is not supported", body: acrEventGridArray, wantErr: true},
		{name: "event grid cloudevent is other", body: strings.TrimSuffix(strings.TrimPrefix(acrEventGridArray, "["), "]"),
			want: []event.Event{{ID: "831e1650-001e-001b-66ab-eeb76e069631", Action: event.Other}}},
		{name: "an envelope is other", body: distPush, want: []event.Event{{Action: event.Other}}},
		{name: "bad timestamp", body: `{"id":"x","timestamp":"2023-11-17 16:52","action":"push"}`, wantErr: true},
	}
	runDecode(t, ACR, append(cases, malformedCommon...))
}

func TestDecodeUnknownKind(t *testing.T) {
	if _, err := Decode("nexus", []byte(`{}`)); err == nil {
		t.Fatal("Decode(nexus) succeeded, want an error")
	}
}

// TestDecodeQuayManyTags: 1000 updated_tags (each named twice) become at most
// MaxQuayTags distinct pushes; every other distinct tag is one Overflow event
// (skipped as over_limit and counted, left to resync).
func TestDecodeQuayManyTags(t *testing.T) {
	var tags []string
	for i := range 500 {
		tags = append(tags, fmt.Sprintf("%q", fmt.Sprint("t", i)), fmt.Sprintf("%q", fmt.Sprint("t", i)))
	}
	evs, err := Decode(Quay, []byte(`{"repository":"a/b","updated_tags":[`+strings.Join(tags, ",")+`]}`))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	pushes, overflow := 0, 0
	for _, ev := range evs {
		if seen[ev.Tag] {
			t.Fatalf("tag %s twice", ev.Tag)
		}
		seen[ev.Tag] = true
		switch ev.Action {
		case event.Push:
			pushes++
		case event.Overflow:
			overflow++
		}
	}
	if pushes != MaxQuayTags || overflow != 500-MaxQuayTags {
		t.Fatalf("%d pushes, %d overflow of %d events; want %d and %d", pushes, overflow, len(evs), MaxQuayTags, 500-MaxQuayTags)
	}
}
