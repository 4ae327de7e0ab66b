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
	"mime"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// Kind names a sender: the format and authentication of the notifications a
// configured registry posts. Its string is the config value and the metric
// label value.
type Kind string

// The senders the bridge understands.
const (
	// Distribution is distribution/distribution and GitLab's container
	// registry (a fork that speaks the same envelope).
	Distribution Kind = "distribution"
	// Harbor is goharbor/harbor, Default and CloudEvents payload formats.
	Harbor Kind = "harbor"
	// Quay is Red Hat Quay and quay.io repository notifications (repo_push).
	Quay Kind = "quay"
	// Artifactory is JFrog Artifactory's platform webhooks, domain docker.
	Artifactory Kind = "artifactory"
	// ACR is an Azure Container Registry webhook (not Event Grid).
	ACR Kind = "acr"
)

// kinds is the closed set, in the order Kinds returns it.
var kinds = []Kind{Distribution, Harbor, Quay, Artifactory, ACR}

// Kinds returns every sender, in a fixed order: the metric label values and
// the config validation list are derived from it.
func Kinds() []Kind { return append([]Kind(nil), kinds...) }

// ParseKind returns the sender named s; "" means Distribution.
func ParseKind(s string) (Kind, error) {
	if s == "" {
		return Distribution, nil
	}
	for _, k := range kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("unknown sender %q (want one of distribution, harbor, quay, artifactory, acr)", s)
}

// MaxEvents bounds the events one body may decode into; a body with more is
// malformed. Distribution sends one event per request, Harbor one resource,
// Quay one tag per push.
const MaxEvents = 1000

// contentTypes lists the media types each sender sends, parameters aside.
var contentTypes = map[Kind][]string{
	Distribution: {
		"application/vnd.docker.distribution.events.v2+json", // notifications.EventsMediaType
		"application/vnd.docker.distribution.events.v1+json", // older registries
		"application/json", // proxies and GitLab-style forwarders
	},
	Harbor:      {"application/json", "application/cloudevents+json"},
	Quay:        {"application/json"},
	Artifactory: {"application/json"},
	ACR:         {"application/json"},
}

// ContentTypeOK reports whether contentType (a Content-Type header value,
// parameters such as charset allowed) is one kind sends.
func ContentTypeOK(kind Kind, contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for _, t := range contentTypes[kind] {
		if mt == t {
			return true
		}
	}
	return false
}

// Decode parses a notification body from kind into events. Any error means
// the body is malformed (the webhook answers 400); a well-formed body may
// hold zero events. Only the fields the bridge uses are decoded, so fields a
// sender adds or that the bridge ignores are never type-checked. Strings are
// returned as sent: the bridge validates names and digests.
func Decode(kind Kind, body []byte) ([]event.Event, error) {
	var (
		evs []event.Event
		err error
	)
	switch kind {
	case Distribution:
		evs, err = decodeDistribution(body)
	case Harbor:
		evs, err = decodeHarbor(body)
	case Quay:
		evs, err = decodeQuay(body)
	case Artifactory:
		evs, err = decodeArtifactory(body)
	case ACR:
		evs, err = decodeACR(body)
	default:
		return nil, fmt.Errorf("decode notification: unknown sender %q", kind)
	}
	if err != nil {
		return nil, fmt.Errorf("decode %s notification: %w", kind, err)
	}
	return evs, nil
}

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
