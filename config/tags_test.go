package config

import (
	"strings"
	"testing"
)

func TestTagFilterKeeps(t *testing.T) {
	cases := []struct {
		name string
		tags Tags
		keep []string
		drop []string
	}{
		{name: "empty keeps every tag", keep: []string{"latest", "sha-1a2b3c", "v1.2.3", "sha256-ab.sig"}},
		{name: "include globs", tags: Tags{Include: []string{"v*", "release-?"}},
			keep: []string{"v1", "v1.2.3", "release-1"}, drop: []string{"latest", "release-10", "1.2.3"}},
		{name: "exclude wins over include", tags: Tags{Include: []string{"*"}, Exclude: []string{"sha-*", "*.sig", "pr-[0-9]*"}},
			keep: []string{"latest", "v1"}, drop: []string{"sha-1a2b3c", "sha256-ab.sig", "pr-123"}},
		{name: "semver with and without prefix", tags: Tags{Semver: ">=1.2.0 <2.0.0"},
			keep: []string{"1.2.0", "v1.2.0", "v1.9.9"}, drop: []string{"1.1.9", "v2.0.0", "vv1.2.0", "V1.2.0"}},
		{name: "build metadata is ignored by the order", tags: Tags{Semver: "~1.2"},
			keep: []string{"v1.2.3+build.5", "1.2.0+sha.abc"}, drop: []string{"1.3.0+x"}},
		{name: "pre-releases only with a pre-release constraint", tags: Tags{Semver: ">=1.0.0"},
			keep: []string{"1.0.0"}, drop: []string{"1.1.0-rc.1", "v2.0.0-beta"}},
		{name: "pre-release constraint admits its own line", tags: Tags{Semver: ">=2.0.0-0"},
			keep: []string{"v2.0.0-rc.1", "2.0.0"}, drop: []string{"1.9.0"}},
		{name: "leading zeros and partial versions are not versions", tags: Tags{Semver: "*"},
			keep: []string{"0.0.1", "v10.20.30"}, drop: []string{"01.2.3", "1.02.3", "1.2.03", "1.2", "v1", "20240101"}},
		{name: "non-semver tags are dropped", tags: Tags{Semver: "*"},
			drop: []string{"latest", "sha-1a2b3c", "main", "1.2.3.4", "sha256-ab.sig"}},
		{name: "globs and semver together", tags: Tags{Include: []string{"v*"}, Exclude: []string{"*-rc*"}, Semver: ">=1.0.0-0"},
			keep: []string{"v1.0.0", "v1.1.0-beta.1"}, drop: []string{"1.0.0", "v1.1.0-rc.1", "vlatest"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, err := c.tags.Filter()
			if err != nil {
				t.Fatal(err)
			}
			for _, tag := range c.keep {
				if !f.Keeps(tag) {
					t.Errorf("%q filtered out, want kept", tag)
				}
			}
			for _, tag := range c.drop {
				if f.Keeps(tag) {
					t.Errorf("%q kept, want filtered out", tag)
				}
			}
		})
	}
}

func TestValidateTagsNamesTheKey(t *testing.T) {
	var got []string
	bad := func(key, format string, a ...any) { got = append(got, key) }
	validateTags("registries[0].tags", Tags{Include: []string{"ok-*", "[x"}, Exclude: []string{""}, Semver: ">=x.y"}, bad)
	want := "registries[0].tags.include[1] registries[0].tags.exclude[0] registries[0].tags.semver"
	if strings.Join(got, " ") != want {
		t.Fatalf("keys %q, want %q", got, want)
	}
}

func TestValidateStreamsUsesKubernetesRules(t *testing.T) {
	var got []string
	bad := func(key, format string, a ...any) { got = append(got, key) }
	validateStreams("registries[0].streams", Streams{
		Labels:      map[string]string{"team": "payments", "app.kubernetes.io/part-of": "shop"},
		Annotations: map[string]string{"example.com/owner": "payments"},
	}, bad)
	if len(got) != 0 {
		t.Fatalf("valid labels and annotations refused at %q", got)
	}
	validateStreams("registries[0].streams", Streams{
		Labels:      map[string]string{"bad key": "x"},
		Annotations: map[string]string{"-bad/": "x"},
	}, bad)
	joined := strings.Join(got, " ")
	if !strings.Contains(joined, "registries[0].streams.labels") || !strings.Contains(joined, "registries[0].streams.annotations") {
		t.Fatalf("keys %q, want one under streams.labels and one under streams.annotations", got)
	}
	for _, k := range got {
		if !strings.HasPrefix(k, "registries[0].streams.") {
			t.Errorf("error key %q does not name the config key", k)
		}
	}
}
