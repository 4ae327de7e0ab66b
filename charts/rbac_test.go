package charts

import (
	"fmt"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	rbacv1 "k8s.io/api/rbac/v1"
)

// The exact API calls of bridge/openshift.go, bridge/resync.go and app/serve.go (leases).
const (
	mappingsCreate = "image.openshift.io/imagestreammappings:create"
	streamsList    = "image.openshift.io/imagestreams:list"
	streamsCreate  = "image.openshift.io/imagestreams:create"
	streamsGet     = "image.openshift.io/imagestreams:get"
	imagesCreate   = "image.openshift.io/images:create"
	leasesCreate   = "coordination.k8s.io/leases:create"
	leasesGet      = "coordination.k8s.io/leases:get"
	leasesUpdate   = "coordination.k8s.io/leases:update"
)

// grants maps "Kind/namespace" of the role a permission comes from (namespace empty for a
// ClusterRole) to the sorted permissions the service account receives from it.
type grants map[string][]string

// granted follows every binding of the release's service account to its role and lists
// what it grants, failing on wildcards and on bindings to roles the chart did not render.
func granted(t *testing.T, m manifests) grants {
	t.Helper()
	roles := map[string][]rbacv1.PolicyRule{}
	for _, o := range m.objects {
		switch o.GetKind() {
		case "ClusterRole":
			roles["ClusterRole//"+o.GetName()] = typed[rbacv1.ClusterRole](t, o).Rules
		case "Role":
			roles["Role/"+o.GetNamespace()+"/"+o.GetName()] = typed[rbacv1.Role](t, o).Rules
		}
	}
	out := grants{}
	bound := map[string]bool{}
	for _, o := range m.objects {
		var ref rbacv1.RoleRef
		var subjects []rbacv1.Subject
		ns := ""
		switch o.GetKind() {
		case "ClusterRoleBinding":
			b := typed[rbacv1.ClusterRoleBinding](t, o)
			ref, subjects = b.RoleRef, b.Subjects
		case "RoleBinding":
			b := typed[rbacv1.RoleBinding](t, o)
			ref, subjects, ns = b.RoleRef, b.Subjects, b.Namespace
		default:
			continue
		}
		want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: fullname, Namespace: releaseNS}}
		if diff := cmp.Diff(want, subjects); diff != "" {
			t.Errorf("%s binds other subjects (-want +got):\n%s", objKey(o), diff)
		}
		key := ref.Kind + "/" + ns + "/" + ref.Name
		if ref.Kind == "ClusterRole" {
			key = "ClusterRole//" + ref.Name
		}
		rules, ok := roles[key]
		if !ok {
			t.Fatalf("%s refers to %s, which the chart does not render", objKey(o), key)
		}
		bound[key] = true
		scope := ref.Kind + "/" + ns
		for _, r := range rules {
			for _, g := range r.APIGroups {
				for _, res := range r.Resources {
					for _, v := range r.Verbs {
						if g == "*" || res == "*" || v == "*" {
							t.Errorf("%s grants a wildcard: %+v", key, r)
						}
						out[scope] = append(out[scope], fmt.Sprintf("%s/%s:%s", g, res, v))
					}
				}
			}
		}
	}
	for key := range roles {
		if !bound[key] {
			t.Errorf("%s is not bound to the service account", key)
		}
	}
	for k := range out {
		sort.Strings(out[k])
	}
	return out
}

func TestRBACVerbs(t *testing.T) {
	sorted := func(s ...string) []string { sort.Strings(s); return s }
	namespaced := sorted(mappingsCreate, streamsList, streamsCreate)
	for _, tc := range []struct {
		name, values string
		want         grants
	}{
		{"defaults: cluster-wide, streams created", "", grants{
			"ClusterRole/": namespaced,
		}},
		{"streams not created", "config: {openshift: {createImageStreams: false}}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList),
		}},
		{"child images", "config: {openshift: {createChildImages: true}}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate, imagesCreate),
		}},
		{"maxTagsPerStream reads one stream", "config: {registries: [{name: main, url: 'http://r:5000', maxTagsPerStream: 100}]}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate, streamsGet),
		}},
		{"derivedTags reads one stream", "config: {registries: [{name: main, url: 'http://r:5000', derivedTags: {latest: true}}]}", grants{
			"ClusterRole/": sorted(mappingsCreate, streamsList, streamsCreate, streamsGet),
		}},
		{"derivedTags off reads none", "config: {registries: [{name: main, url: 'http://r:5000', derivedTags: {semver: false}}]}", grants{
			"ClusterRole/": namespaced,
		}},
		{"leader election", "config: {leaderElection: {enabled: true}}", grants{
			"ClusterRole/":      namespaced,
			"Role/" + releaseNS: sorted(leasesCreate, leasesGet, leasesUpdate),
		}},
		{"namespaced", "rbac: {namespaces: [team-a, team-b]}", grants{
			"Role/team-a": namespaced,
			"Role/team-b": namespaced,
		}},
		{"namespaced, child images, no stream creation", "rbac: {namespaces: [team-a]}\nconfig: {openshift: {createChildImages: true, createImageStreams: false}}", grants{
			"Role/team-a":  sorted(mappingsCreate, streamsList),
			"ClusterRole/": sorted(imagesCreate),
		}},
		{"all features", allFeatures, grants{
			"Role/team-a":       namespaced,
			"Role/team-b":       namespaced,
			"ClusterRole/":      sorted(imagesCreate),
			"Role/" + releaseNS: sorted(leasesCreate, leasesGet, leasesUpdate),
		}},
		{"rbac off", "rbac: {create: false}", grants{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := granted(t, render(t, tc.values))
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("permissions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestLeaseRuleNamed checks that get and update on leases are limited to the bridge's own Lease.
func TestLeaseRuleNamed(t *testing.T) {
	m := render(t, "config: {leaderElection: {enabled: true}}")
	r := typed[rbacv1.Role](t, m.mustFind(t, "Role", fullname+"-leader-election"))
	for _, rule := range r.Rules {
		for _, v := range rule.Verbs {
			if v != "create" && (len(rule.ResourceNames) != 1 || rule.ResourceNames[0] != fullname) {
				t.Errorf("rule %+v: %s must be limited to the Lease %s", rule, v, fullname)
			}
		}
	}
}
