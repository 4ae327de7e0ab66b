package webhook

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

func TestDecodeEnvelope(t *testing.T) {
	const d = "sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845"
	ts := time.Date(2026, 11, 26, 16, 40, 58, 598696602, time.UTC)
	longID := strings.Repeat("x", 65)
	for _, tc := range []struct {
		name, body string
		want       []event.Event
		err        string
	}{
		{name: "probe", body: `{}`},
		{name: "no events", body: `{"events":[]}`, want: []event.Event{}},
		{name: "push", body: `{"events":[{"id":"1","timestamp":"2026-11-26T16:40:58.598696602Z","action":"push","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"` + d + `","size":583,"repository":"demo/app","tag":"v1","url":"http://evil/x"}}]}`,
			want: []event.Event{{ID: "1", Action: event.Push, Repository: "demo/app", Tag: "v1", Digest: d,
				MediaType: "application/vnd.docker.distribution.manifest.v2+json", Timestamp: ts}}},
		{name: "actions", body: `{"events":[{"action":"pull"},{"action":"mount"},{"action":"delete"},{"action":"rename"}]}`,
			want: []event.Event{{Action: event.Pull}, {Action: event.Mount}, {Action: event.Delete}, {Action: event.Other}}},
		{name: "long id hashed", body: `{"events":[{"id":"` + longID + `","action":"push"}]}`,
			want: []event.Event{{ID: eventID(longID), Action: event.Push}}},
		{name: "trailing data", body: `{"events":[]}{}`, err: "trailing data"},
		{name: "bad timestamp", body: `{"events":[{"timestamp":"yesterday"}]}`, err: "decode envelope"},
		{name: "not an object", body: `[]`, err: "decode envelope"},
		{name: "too many", body: `{"events":[` + strings.Repeat(`{},`, maxEvents) + `{}]}`, err: "1001 events, at most 1000"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decodeEnvelope([]byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventID(t *testing.T) {
	uuid := "01a218bb-4fe6-7aa0-b1bb-750e74b5560a"
	if eventID(uuid) != uuid {
		t.Error("a UUID id was changed")
	}
	long := strings.Repeat("y", 1<<20)
	if id := eventID(long); len(id) > 71 || id != eventID(long) || id == eventID(long[1:]) {
		t.Errorf("long id not replaced by a stable hash: %d bytes", len(id))
	}
}

func TestAcceptableContentType(t *testing.T) {
	for ct, want := range map[string]bool{
		"application/vnd.docker.distribution.events.v2+json":                true,
		"application/vnd.docker.distribution.events.v1+json; charset=utf-8": true,
		"application/json":  true,
		"text/plain":        false,
		"":                  false,
		"application/json;": true, // mime.ParseMediaType accepts the empty parameter list
	} {
		if got := acceptableContentType(ct); got != want {
			t.Errorf("acceptableContentType(%q) = %v", ct, got)
		}
	}
}

// FuzzDecodeEnvelope feeds arbitrary bodies to the decoder: nothing panics,
// and what comes out is bounded (event count and id length).
func FuzzDecodeEnvelope(f *testing.F) {
	for _, seed := range []string{
		`{"events":[]}`,
		`{"events":[{"id":"1","timestamp":"2026-11-26T16:40:58.598696602Z","action":"push","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845","size":583,"repository":"demo/app","tag":"v1"}}]}`,
		`{"events":[{"action":"pull"}]}`,
		`{"events":null}`,
		`{"events":[{"target":{"digest":"md5:00","repository":"../../x","tag":"-"}}]}`,
		`{"events":[{}]}{}`,
		`[]`, `"`, ``,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := decodeEnvelope(body)
		if err != nil {
			return
		}
		if len(evs) > maxEvents {
			t.Fatalf("%d events", len(evs))
		}
		for _, ev := range evs {
			if len(ev.ID) > 71 {
				t.Fatalf("id of %d bytes kept", len(ev.ID))
			}
		}
	})
}
