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

// TestJoinCollisionWarns: a mapping with join can map two repositories to one
// image stream: Warnings names the key (and an example pair); without join it
// cannot, and there is no warning.
func TestJoinCollisionWarns(t *testing.T) {
	c, err := Parse([]byte("registries:\n" +
		"  - {name: ci, url: 'http://r', webhookToken: t, mapping: {namespace: ci, join: '-'}}\n" +
		"  - {name: plain, url: 'http://r', webhookToken: t2}\n" +
		"  - {name: team, url: 'http://r', webhookToken: t3, mapping: {stripPrefix: mirror/, join: '.'}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, w := range c.Warnings() {
		got[w.Key] = w.Problem
	}
	if p := got["registries[0].mapping.join"]; !strings.Contains(p, "a-b and a/b") {
		t.Errorf("registries[0].mapping.join warning %q lacks the colliding pair", p)
	}
	if p := got["registries[2].mapping.join"]; !strings.Contains(p, "mirror/team/a.b and mirror/team/a/b") {
		t.Errorf("registries[2].mapping.join warning %q lacks the colliding pair", p)
	}
	if len(got) != 2 {
		t.Errorf("warnings %v, want exactly the two join keys", got)
	}
}
