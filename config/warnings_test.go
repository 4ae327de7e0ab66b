package config

import (
	"strings"
	"testing"
)

// TestWarnings: managedImages, under openshift: or a cluster, is accepted and
// reported as deprecated with its key path; a config without it has none.
func TestWarnings(t *testing.T) {
	c, err := Parse([]byte(twoClusters))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Warnings()
	if len(w) != 1 || w[0].Key != "clusters[1].managedImages" {
		t.Fatalf("warnings = %v, want one for clusters[1].managedImages", w)
	}
	if s := w[0].String(); !strings.HasPrefix(s, "config warning: clusters[1].managedImages: deprecated") {
		t.Errorf("warning text %q", s)
	}
	c.OtherClusters[1].ManagedImages = false
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings without the key: %v", w)
	}
}
