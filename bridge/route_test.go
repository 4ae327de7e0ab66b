package bridge

import (
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

func TestRoute(t *testing.T) {
	for _, tc := range []struct {
		name    string
		mapping config.Mapping
		allowed []string
		repo    string
		want    Route
		reason  SkipReason
	}{
		{name: "namespace/stream", repo: "team/app", want: Route{"team", "app"}},
		{name: "one component", repo: "app", reason: SkipUnmappedRepository},
		{name: "deep path without join", repo: "team/group/app", reason: SkipUnmappedRepository},
		{name: "deep path joined", mapping: config.Mapping{Join: "-"}, repo: "team/group/app", want: Route{"team", "group-app"}},
		{name: "fixed namespace", mapping: config.Mapping{Namespace: "images"}, repo: "app", want: Route{"images", "app"}},
		{name: "fixed namespace joined", mapping: config.Mapping{Namespace: "images", Join: "."}, repo: "a/b", want: Route{"images", "a.b"}},
		{name: "prefix stripped", mapping: config.Mapping{StripPrefix: "mirror/"}, repo: "mirror/team/app", want: Route{"team", "app"}},
		{name: "prefix missing", mapping: config.Mapping{StripPrefix: "mirror"}, repo: "team/app", reason: SkipUnmappedRepository},
		{name: "namespace not a DNS label", repo: "Team_x/app", reason: SkipUnmappedRepository},
		{name: "allowed by glob", allowed: []string{"team-*"}, repo: "team-a/app", want: Route{"team-a", "app"}},
		{name: "not allowed", allowed: []string{"team-*"}, repo: "other/app", reason: SkipNamespaceNotAllowed},
		{name: "stream name rule", mapping: config.Mapping{Join: "__"}, repo: "team/a/b", reason: SkipInvalidStreamName},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, reason := router{mapping: tc.mapping, allowed: tc.allowed}.route(tc.repo)
			if got != tc.want || reason != tc.reason {
				t.Errorf("route(%q) = %v, %q; want %v, %q", tc.repo, got, reason, tc.want, tc.reason)
			}
		})
	}
}
