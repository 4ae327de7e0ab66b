package config

import (
	"fmt"
	"strings"
)

// Warning is a key that is accepted but does not do what its name suggests:
// the config is valid, and serve runs with it.
type Warning struct {
	// Key is the full key path, e.g. clusters[0].managedImages.
	Key string
	// Problem says what the key does now and what to do.
	Problem string
}

func (w Warning) String() string { return "config warning: " + w.Key + ": " + w.Problem }

// Warnings lists the deprecated keys set in c and the settings that can surprise
// (a mapping that can map two repositories to one image stream), each naming its
// key path. The config command prints them and serve logs them at startup.
func (c *Config) Warnings() []Warning {
	var out []Warning
	managed := func(key string, o OpenShift) {
		if o.ManagedImages {
			out = append(out, Warning{Key: key, Problem: "deprecated and ignored: the bridge never marks an image as held by " +
				"the integrated registry, which does not hold it (the API server would point later mappings of the digest there); remove the key"})
		}
	}
	managed("openshift.managedImages", c.OpenShift)
	for i, cl := range c.OtherClusters {
		managed(fmt.Sprintf("clusters[%d].managedImages", i), cl.OpenShift)
	}
	for i, r := range c.Registries {
		if r.Mapping.Join != "" {
			// The join separator may also appear inside a path component: team/a-b and
			// team/a/b both become stream a-b of namespace team.
			out = append(out, Warning{Key: fmt.Sprintf("registries[%d].mapping.join", i), Problem: fmt.Sprintf(
				"two repositories can map to one image stream (e.g. %s): their tags of one name overwrite each other, "+
					"and a tag is deleted only by the repository whose image it holds (resync logs the collisions it sees)",
				collisionExample(r.Mapping))})
		}
	}
	return out
}

// collisionExample names two repositories that m maps to one stream.
func collisionExample(m Mapping) string {
	prefix := ""
	if p := strings.Trim(m.StripPrefix, "/"); p != "" {
		prefix = p + "/"
	}
	ns := "team/"
	if m.Namespace != "" {
		ns = ""
	}
	return prefix + ns + "a" + m.Join + "b and " + prefix + ns + "a/b"
}
