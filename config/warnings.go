package config

import "fmt"

// Warning is a key that is accepted but does not do what its name suggests:
// the config is valid, and serve runs with it.
type Warning struct {
	// Key is the full key path, e.g. clusters[0].managedImages.
	Key string
	// Problem says what the key does now and what to do.
	Problem string
}

func (w Warning) String() string { return "config warning: " + w.Key + ": " + w.Problem }

// Warnings lists the deprecated keys set in c, each naming its key path. The
// config command prints them and serve logs them at startup.
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
	return out
}
