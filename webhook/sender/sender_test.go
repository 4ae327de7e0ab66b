package sender

import (
	"go/build"
	"slices"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

func TestKinds(t *testing.T) {
	want := []Kind{"distribution", "harbor", "quay", "artifactory", "acr"}
	got := Kinds()
	if !slices.Equal(got, want) {
		t.Fatalf("Kinds() = %v, want %v", got, want)
	}
	got[0] = "mutated"
	if Kinds()[0] != Distribution {
		t.Fatal("Kinds() shares its backing array with the package")
	}
}

func TestParseKind(t *testing.T) {
	for in, want := range map[string]Kind{"": Distribution, "distribution": Distribution, "harbor": Harbor, "quay": Quay,
		"artifactory": Artifactory, "acr": ACR} {
		got, err := ParseKind(in)
		if err != nil || got != want {
			t.Errorf("ParseKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"Harbor", "gitlab", "nexus", " quay", "dockerhub"} {
		if got, err := ParseKind(in); err == nil {
			t.Errorf("ParseKind(%q) = %q, want an error", in, got)
		}
	}
}

func TestContentTypeOK(t *testing.T) {
	cases := []struct {
		kind Kind
		ct   string
		want bool
	}{
		{Distribution, "application/vnd.docker.distribution.events.v2+json", true},
		{Distribution, "application/vnd.docker.distribution.events.v1+json", true},
		{Distribution, "application/json", true},
		{Distribution, "Application/JSON; charset=utf-8", true},
		{Distribution, "application/cloudevents+json", false},
		{Distribution, "text/plain", false},
		{Harbor, "application/json", true},
		{Harbor, "application/cloudevents+json", true},
		{Harbor, "application/cloudevents+json; charset=utf-8", true},
		{Harbor, "application/vnd.docker.distribution.events.v2+json", false},
		{Quay, "application/json", true},
		{Quay, "application/cloudevents+json", false},
		{Artifactory, "application/json; charset=UTF-8", true},
		{Artifactory, "application/x-www-form-urlencoded", false},
		{ACR, "application/json", true},
		{ACR, "application/cloudevents-batch+json", false},
		{Quay, "", false},
		{Harbor, "application/json; charset", false}, // unparsable parameter
		{"nexus", "application/json", false},
	}
	for _, tc := range cases {
		if got := ContentTypeOK(tc.kind, tc.ct); got != tc.want {
			t.Errorf("ContentTypeOK(%s, %q) = %v, want %v", tc.kind, tc.ct, got, tc.want)
		}
	}
}

// TestImportsOnlyStdlibAndEvent pins the package's place in the flow: it
// may import the standard library and package event, nothing else.
func TestImportsOnlyStdlibAndEvent(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	const eventPkg = "github.com/imagestream-bridge/imagestream-bridge/event"
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if imp != eventPkg && strings.Contains(first, ".") {
			t.Errorf("package sender imports %s; only the standard library and %s are allowed", imp, eventPkg)
		}
	}
}

// TestSpecsCoverSenders: the table of sender kinds and the list config
// validates against (event.Senders) agree, both ways, and every entry is
// complete, so a kind config accepts can never reach the webhook without a
// decoder, an authentication or a content type.
func TestSpecsCoverSenders(t *testing.T) {
	listed := event.Senders()
	for _, k := range listed {
		sp, ok := specs[k]
		if !ok {
			t.Errorf("sender %q is in event.Senders (config accepts it) but has no entry in specs", k)
			continue
		}
		if sp.decode == nil || sp.authenticate == nil || len(sp.contentTypes) == 0 {
			t.Errorf("sender %q: incomplete entry (decode, authenticate and contentTypes are required)", k)
		}
		if got, err := ParseKind(string(k)); err != nil || got != k {
			t.Errorf("ParseKind(%q) = %q, %v", k, got, err)
		}
	}
	for k := range specs {
		if !slices.Contains(listed, k) {
			t.Errorf("specs has an entry for %q, which event.Senders lacks (config refuses it)", k)
		}
	}
}
