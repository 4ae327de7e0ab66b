package event

import (
	"fmt"
	"strings"
)

// Sender names the product that posts a registry's notifications, and so
// their format and authentication. Its string is the config value (a
// registry's sender) and the metric label value. The list lives here, below
// both config (which validates a registry's sender against it) and
// webhook/sender (whose table of formats is keyed by it), so that config
// never imports the webhook.
type Sender string

// The senders the bridge understands.
const (
	// Distribution is distribution/distribution and GitLab's container
	// registry (a fork that speaks the same envelope).
	Distribution Sender = "distribution"
	// Harbor is goharbor/harbor, Default and CloudEvents payload formats.
	Harbor Sender = "harbor"
	// Quay is Red Hat Quay and quay.io repository notifications (repo_push).
	Quay Sender = "quay"
	// Artifactory is JFrog Artifactory's platform webhooks, domain docker.
	Artifactory Sender = "artifactory"
	// ACR is an Azure Container Registry webhook (not Event Grid).
	ACR Sender = "acr"
)

// senders is the closed set, in the order Senders returns it.
var senders = []Sender{Distribution, Harbor, Quay, Artifactory, ACR}

// Senders returns every sender, in a fixed order: the config validation
// list, the webhook's table and the metric label values are derived from it.
func Senders() []Sender { return append([]Sender(nil), senders...) }

// ParseSender returns the sender named s; "" means Distribution (the
// config's default).
func ParseSender(s string) (Sender, error) {
	if s == "" {
		return Distribution, nil
	}
	names := make([]string, 0, len(senders))
	for _, k := range senders {
		if string(k) == s {
			return k, nil
		}
		names = append(names, string(k))
	}
	return "", fmt.Errorf("unknown sender %q (want one of %s)", s, strings.Join(names, ", "))
}
