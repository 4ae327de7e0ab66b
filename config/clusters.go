package config

import (
	"fmt"
	"path"
	"slices"
	"time"
)

// DefaultCluster is the name of the cluster configured by openshift:.
const DefaultCluster = "default"

// Cluster is one OpenShift cluster the bridge maps into: the default cluster
// (openshift:, named DefaultCluster) or an entry of clusters:. Its keys are
// those of openshift: (the embedded OpenShift, with the same defaults) plus
// name and namespaces.
type Cluster struct {
	// Name identifies the cluster in registries[].clusters, metrics and logs: a DNS label, not "default".
	Name string `json:"name"`
	OpenShift
	// Namespaces is an allow-list of target namespaces in this cluster (path.Match globs). Default: any.
	Namespaces []string `json:"namespaces"`
}

// AllowsNamespace reports whether the cluster takes mappings into namespace ns.
func (cl Cluster) AllowsNamespace(ns string) bool { return AllowedBy(cl.Namespaces, ns) }

// AllowedBy reports whether a namespace allow-list (path.Match globs; empty
// allows any) admits ns. Registries and clusters use the same rule.
func AllowedBy(globs []string, ns string) bool {
	if len(globs) == 0 {
		return true
	}
	for _, g := range globs {
		if ok, _ := path.Match(g, ns); ok {
			return true
		}
	}
	return false
}

// Clusters returns every cluster the bridge maps into: the default cluster
// first (openshift:, named DefaultCluster, any namespace), then the entries of
// clusters: in file order.
func (c *Config) Clusters() []Cluster {
	out := make([]Cluster, 0, 1+len(c.OtherClusters))
	out = append(out, Cluster{Name: DefaultCluster, OpenShift: c.OpenShift})
	return append(out, c.OtherClusters...)
}

// Targets returns the names of the clusters the registry's pushes go to, in
// the order of all (pass Config.Clusters()): those named by its clusters:
// key, or every cluster when the key is empty.
func (r Registry) Targets(all []Cluster) []string {
	out := make([]string, 0, len(all))
	for _, cl := range all {
		if len(r.Clusters) == 0 || slices.Contains(r.Clusters, cl.Name) {
			out = append(out, cl.Name)
		}
	}
	return out
}

// setDefaults fills the defaults of openshift: (and of each clusters: entry).
func (o *OpenShift) setDefaults() {
	if o.QPS == 0 {
		o.QPS = 300
	}
	if o.Burst == 0 {
		o.Burst = 600
	}
	if o.Timeout.Duration == 0 {
		o.Timeout.Duration = 10 * time.Second
	}
	if o.CreateImageStreams == nil {
		t := true
		o.CreateImageStreams = &t
	}
}

// validateOpenShift checks the keys shared by openshift: and clusters: entries.
func validateOpenShift(key string, o OpenShift, bad func(key, format string, a ...any)) {
	if o.QPS < 0 {
		bad(key+".qps", "must not be negative")
	}
	if o.Burst < 0 {
		bad(key+".burst", "must not be negative")
	}
	if o.Timeout.Duration < 0 {
		bad(key+".timeout", "must not be negative")
	}
}

// validateClusters checks clusters: and each registry's clusters: list.
func (c *Config) validateClusters(bad func(key, format string, a ...any)) {
	names := map[string]bool{DefaultCluster: true}
	kubeconfigs := map[string]string{}
	if c.OpenShift.Kubeconfig != "" {
		kubeconfigs[c.OpenShift.Kubeconfig] = "openshift.kubeconfig"
	}
	for i, cl := range c.OtherClusters {
		key := fmt.Sprintf("clusters[%d]", i)
		switch {
		case cl.Name == DefaultCluster:
			bad(key+".name", `"default" is the cluster of openshift:; give this one another name`)
		case !nameRE.MatchString(cl.Name):
			bad(key+".name", "must be a lowercase DNS label (a-z, 0-9, -), got %q", cl.Name)
		case names[cl.Name]:
			bad(key+".name", "duplicate cluster name %q", cl.Name)
		}
		names[cl.Name] = true
		validateOpenShift(key, cl.OpenShift, bad)
		switch prev, dup := kubeconfigs[cl.Kubeconfig]; {
		case cl.Kubeconfig == "":
			bad(key+".kubeconfig", "required: without it the client would use $KUBECONFIG or the in-cluster account, the default cluster's")
		case dup:
			bad(key+".kubeconfig", "%s is already the kubeconfig of %s: one cluster would be mapped twice", cl.Kubeconfig, prev)
		default:
			kubeconfigs[cl.Kubeconfig] = key + ".kubeconfig"
		}
		for j, g := range cl.Namespaces {
			if _, err := path.Match(g, "x"); err != nil {
				bad(fmt.Sprintf("%s.namespaces[%d]", key, j), "bad glob %q", g)
			}
		}
	}
	for i, r := range c.Registries {
		seen := map[string]bool{}
		for j, n := range r.Clusters {
			key := fmt.Sprintf("registries[%d].clusters[%d]", i, j)
			switch {
			case !names[n]:
				bad(key, "no cluster %q: must be %q or the name of an entry of clusters: (%s)", n, DefaultCluster, clusterNames(c))
			case seen[n]:
				bad(key, "cluster %q listed twice", n)
			}
			seen[n] = true
		}
	}
}

func clusterNames(c *Config) string {
	s := fmt.Sprintf("%q", DefaultCluster)
	for _, cl := range c.OtherClusters {
		s += fmt.Sprintf(", %q", cl.Name)
	}
	return s
}
