package event

import (
	"slices"
	"testing"
)

func TestParseSender(t *testing.T) {
	for in, want := range map[string]Sender{"": Distribution, "distribution": Distribution, "harbor": Harbor,
		"quay": Quay, "artifactory": Artifactory, "acr": ACR} {
		if got, err := ParseSender(in); err != nil || got != want {
			t.Errorf("ParseSender(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseSender("nexus")
	const msg = `unknown sender "nexus" (want one of distribution, harbor, quay, artifactory, acr)`
	if err == nil || err.Error() != msg {
		t.Errorf("ParseSender(nexus) error %v, want %s", err, msg)
	}
	got := Senders()
	got[0] = "mutated"
	if !slices.Contains(Senders(), Distribution) {
		t.Error("Senders() shares its backing array with the package")
	}
}
