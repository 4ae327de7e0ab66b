// Package sender knows the registries that post push notifications to the
// bridge: which content types each sends, how each authenticates, and how
// each body decodes into sender-neutral event.Events. It is pure (no I/O,
// no state) and imports only the standard library and package event, so the
// webhook can call it per request and tests can drive it without a server.
package sender

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// Kind names a sender: the format and authentication of the notifications a
// configured registry posts. Its string is the config value and the metric
// label value. It is event.Sender: the closed set lives in package event, so
// that config validates a registry's sender without importing the webhook;
// the table of what each kind sends (kinds.go) is keyed by it.
type Kind = event.Sender

// The senders the bridge understands (see event.Sender).
const (
	// Distribution is distribution/distribution and GitLab's container registry.
	Distribution = event.Distribution
	// Harbor is goharbor/harbor, Default and CloudEvents payload formats.
	Harbor = event.Harbor
	// Quay is Red Hat Quay and quay.io repository notifications (repo_push).
	Quay = event.Quay
	// Artifactory is JFrog Artifactory's platform webhooks, domain docker.
	Artifactory = event.Artifactory
	// ACR is an Azure Container Registry webhook (not Event Grid).
	ACR = event.ACR
)

// Kinds returns every sender, in a fixed order (event.Senders).
func Kinds() []Kind { return event.Senders() }

// ParseKind returns the sender named s; "" means Distribution (event.ParseSender).
func ParseKind(s string) (Kind, error) { return event.ParseSender(s) }

// MaxEvents bounds the events one body may decode into; a body with more is
// malformed. Distribution sends one event per request, Harbor one resource,
// Quay one tag per push.
const MaxEvents = 1000

// errNotObject is returned for a body whose JSON value is not an object
// (null, an array, a string, ...).
var errNotObject = errors.New("body is not a JSON object")

// unmarshalObject decodes body, which must be exactly one JSON object
// (surrounding whitespace allowed, trailing data rejected), into v.
// json.Unmarshal validates the whole input before it decodes, so a body is
// either decoded whole or rejected.
func unmarshalObject(body []byte, v any) error {
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		return errNotObject
	}
	return json.Unmarshal(body, v)
}

// tooMany is the error for a body with more than MaxEvents events.
func tooMany(n int) error {
	return fmt.Errorf("%d events, at most %d", n, MaxEvents)
}
