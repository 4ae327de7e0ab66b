package event

import (
	"strings"
	"testing"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		repo string
		ok   bool
	}{
		{"team/app", true}, {"a/b/c-d_e.f", true}, {"a__b/c", true}, {"a---b/c", true},
		{"Team/app", false}, {"team//app", false}, {"/app", false}, {"team/../x", false}, {"team/app/", false},
		{"a._b/c", false}, {strings.Repeat("a", 256), false}, {"", false},
	} {
		if got := ValidRepository(tc.repo); got != tc.ok {
			t.Errorf("ValidRepository(%q) = %v", tc.repo, got)
		}
	}
	for _, tc := range []struct {
		tag string
		ok  bool
	}{{"v1", true}, {"_x", true}, {"1.0-rc.1", true}, {"-x", false}, {".x", false}, {"a/b", false}, {strings.Repeat("a", 129), false}} {
		if got := ValidTag(tc.tag); got != tc.ok {
			t.Errorf("ValidTag(%q) = %v", tc.tag, got)
		}
	}
	if _, err := ParseDigest("sha256:" + strings.Repeat("0", 64)); err != nil {
		t.Error(err)
	}
	for _, d := range []string{"sha256:abc", "md5:" + strings.Repeat("0", 32), "sha256:" + strings.Repeat("Z", 64)} {
		if _, err := ParseDigest(d); err == nil {
			t.Errorf("ParseDigest(%q) accepted", d)
		}
	}
}
