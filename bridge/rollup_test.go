package bridge

import (
	"maps"
	"strings"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

func TestRollups(t *testing.T) {
	both := config.DerivedTags{Semver: true, Latest: true}
	semverOnly := config.DerivedTags{Semver: true}
	for _, tc := range []struct {
		name    string
		tags    []string
		keep    func(string) bool
		derived config.DerivedTags
		want    map[string]string
	}{
		{name: "issue example", derived: both,
			tags: []string{"v1.2.3", "v1.3.0", "v1.2.4", "v2.0.0-rc.1"},
			want: map[string]string{"v1.2": "v1.2.4", "v1.3": "v1.3.0", "v1": "v1.3.0", "latest": "v1.3.0"}},
		{name: "without a prefix", derived: semverOnly, tags: []string{"1.2.3"},
			want: map[string]string{"1.2": "1.2.3", "1": "1.2.3"}},
		{name: "prefixes are separate lines", derived: semverOnly,
			tags: []string{"v1.2.3", "1.2.9", "1.4.0"},
			want: map[string]string{"v1.2": "v1.2.3", "v1": "v1.2.3", "1.2": "1.2.9", "1.4": "1.4.0", "1": "1.4.0"}},
		{name: "latest compares both prefixes", derived: config.DerivedTags{Latest: true},
			tags: []string{"v1.2.3", "1.10.0"}, want: map[string]string{"latest": "1.10.0"}},
		{name: "latest on a tie takes the v-prefixed tag", derived: config.DerivedTags{Latest: true},
			tags: []string{"1.2.3", "v1.2.3"}, want: map[string]string{"latest": "v1.2.3"}},
		{name: "versions compare as numbers, not strings", derived: semverOnly,
			tags: []string{"v1.9.0", "v1.10.0", "v1.2.10", "v1.2.9"},
			want: map[string]string{"v1.9": "v1.9.0", "v1.10": "v1.10.0", "v1.2": "v1.2.10", "v1": "v1.10.0"}},
		{name: "pre-releases never roll up", derived: both,
			tags: []string{"v1.2.3", "v1.2.4-rc.1", "v1.3.0-beta", "v2.0.0-rc.1"},
			want: map[string]string{"v1.2": "v1.2.3", "v1": "v1.2.3", "latest": "v1.2.3"}},
		{name: "only pre-releases: nothing", derived: both, tags: []string{"v2.0.0-rc.1", "2.0.0-alpha"}, want: map[string]string{}},
		{name: "build metadata is no release", derived: semverOnly, tags: []string{"v1.2.3", "v1.2.4+build.5"},
			want: map[string]string{"v1.2": "v1.2.3", "v1": "v1.2.3"}},
		{name: "leading zeros, short versions and non-semver tags are ignored", derived: both,
			tags: []string{"v01.2.3", "1.02.3", "1.2", "v1", "sha-1a2b3c", "vv1.2.3", "V1.2.3", "1.2.3.4", "main"},
			// 1.2 and v1 are the registry's own tags; nothing else is a release.
			want: map[string]string{}},
		{name: "a lower version pushed later moves nothing", derived: both,
			tags: []string{"v1.3.0", "v1.2.9"},
			want: map[string]string{"v1.3": "v1.3.0", "v1.2": "v1.2.9", "v1": "v1.3.0", "latest": "v1.3.0"}},
		{name: "the registry's own tags win", derived: both,
			tags: []string{"v1.2.3", "v1.2.4", "v1.2", "latest"},
			want: map[string]string{"v1": "v1.2.4"}},
		{name: "the registry's own tag wins even when filtered out", derived: semverOnly,
			tags: []string{"v1.2.3", "v1"}, keep: func(tag string) bool { return tag != "v1" },
			want: map[string]string{"v1.2": "v1.2.3"}},
		{name: "only kept tags take part", derived: both,
			tags: []string{"v1.2.3", "v1.2.4", "v2.0.0"}, keep: func(tag string) bool { return !strings.HasPrefix(tag, "v2") && tag != "v1.2.4" },
			want: map[string]string{"v1.2": "v1.2.3", "v1": "v1.2.3", "latest": "v1.2.3"}},
		{name: "latest only", derived: config.DerivedTags{Latest: true}, tags: []string{"v1.2.3", "v1.3.0"},
			want: map[string]string{"latest": "v1.3.0"}},
		{name: "off", tags: []string{"v1.2.3"}, want: nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rollups(tc.tags, tc.keep, tc.derived)
			if !maps.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("rollups(%v) = %v, want %v", tc.tags, got, tc.want)
			}
		})
	}
}

func TestIsRollupName(t *testing.T) {
	both := config.DerivedTags{Semver: true, Latest: true}
	for _, tc := range []struct {
		tag     string
		derived config.DerivedTags
		want    bool
	}{
		{"v1.2", both, true}, {"v1", both, true}, {"1.2", both, true}, {"10", both, true}, {"latest", both, true},
		{"latest", config.DerivedTags{Semver: true}, false}, {"v1.2", config.DerivedTags{Latest: true}, false},
		{"v1.2.3", both, false}, {"v01", both, false}, {"1.02", both, false}, {"v", both, false}, {"1.", both, false},
		{"vv1", both, false}, {"v1.x", both, false}, {"stable", both, false},
	} {
		if got := isRollupName(tc.tag, tc.derived); got != tc.want {
			t.Errorf("isRollupName(%q, %+v) = %v, want %v", tc.tag, tc.derived, got, tc.want)
		}
	}
}
