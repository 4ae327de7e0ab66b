package sender

import (
	"fmt"
	"mime"
	"net/http"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// spec is everything that differs from one sender kind to another: the
// webhook and the functions below look a kind up here instead of switching
// on it.
type spec struct {
	// contentTypes are the media types the kind sends, parameters aside.
	contentTypes []string
	// decode parses a body (see Decode).
	decode func(body []byte) ([]event.Event, error)
	// authenticate reports whether the headers, and for a signing sender the
	// raw body, prove token (never "": Authenticate refuses that first).
	authenticate func(h http.Header, body []byte, token string) bool
	// signatureHeader, when set, may carry a signature of the body: a request
	// with it is authenticated only once the body is read.
	signatureHeader string
	// acksRefusals: a notification the bridge cannot take now is answered
	// 200, not with the error, because the sender switches a hook off after
	// a few failed deliveries.
	acksRefusals bool
}

// specs is the table of sender kinds, one entry per event.Sender
// (TestSpecsCoverSenders).
var specs = map[Kind]spec{
	Distribution: {
		contentTypes: []string{
			"application/vnd.docker.distribution.events.v2+json", // notifications.EventsMediaType
			"application/vnd.docker.distribution.events.v1+json", // older registries
			"application/json", // proxies and GitLab-style forwarders
		},
		decode:       decodeDistribution,
		authenticate: bearerAuth,
	},
	Harbor: {
		contentTypes: []string{"application/json", "application/cloudevents+json"},
		decode:       decodeHarbor,
		authenticate: harborAuth,
	},
	Quay: {
		contentTypes: []string{"application/json"},
		decode:       decodeQuay,
		authenticate: pathTokenOnly,
		// Quay disables a notification after three failed deliveries.
		acksRefusals: true,
	},
	Artifactory: {
		contentTypes:    []string{"application/json"},
		decode:          decodeArtifactory,
		authenticate:    artifactoryAuth,
		signatureHeader: jfrogAuthHeader,
	},
	ACR: {
		contentTypes: []string{"application/json"},
		decode:       decodeACR,
		authenticate: bearerAuth,
	},
}

// ContentTypeOK reports whether contentType (a Content-Type header value,
// parameters such as charset allowed) is one kind sends.
func ContentTypeOK(kind Kind, contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for _, t := range specs[kind].contentTypes {
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
	sp, ok := specs[kind]
	if !ok {
		return nil, fmt.Errorf("decode notification: unknown sender %q", kind)
	}
	evs, err := sp.decode(body)
	if err != nil {
		return nil, fmt.Errorf("decode %s notification: %w", kind, err)
	}
	return evs, nil
}

// SignsBody reports whether kind's request carries a signature of its body
// (Artifactory's X-JFrog-Event-Auth), so that whether it authenticates is
// known only once the body is read: the webhook then calls Authenticate with
// the body after its bounded read.
func SignsBody(kind Kind, h http.Header) bool {
	sh := specs[kind].signatureHeader
	return sh != "" && h.Get(sh) != ""
}

// AcksRefusals reports whether a notification from kind that the bridge
// cannot take now (not the leader, queue full, log error) is answered 200
// with its events counted as dropped rather than with the error. True for
// Quay only: three failed deliveries switch its hook off for good, whereas
// every other sender retries; resync repairs what the dropped events named.
func AcksRefusals(kind Kind) bool { return specs[kind].acksRefusals }
