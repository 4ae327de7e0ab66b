package bridge

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"

	"github.com/distribution/distribution/v3/notifications"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/registry"
)

// Content types a sender may use for an envelope.
var envelopeTypes = map[string]bool{
	notifications.EventsMediaType:                        true,
	"application/vnd.docker.distribution.events.v1+json": true,
	"application/json":                                   true,
}

// maxEvents bounds the events of one envelope (distribution sends exactly one).
const maxEvents = 1000

// envelope is the notification body.
type envelope struct {
	Events *[]notifications.Event `json:"events"`
}

// acceptableContentType reports whether ct names an envelope media type.
func acceptableContentType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && envelopeTypes[mt]
}

// decodeEnvelope parses a body into events; any error means a malformed envelope.
func decodeEnvelope(body []byte) ([]notifications.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var env envelope
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode envelope: trailing data after the JSON object")
	}
	if env.Events == nil {
		return nil, nil // {} is a well-formed envelope without events (a probe)
	}
	if len(*env.Events) > maxEvents {
		return nil, fmt.Errorf("decode envelope: %d events, at most %d", len(*env.Events), maxEvents)
	}
	return *env.Events, nil
}

// maxEventID is the longest event id kept as it is; distribution's ids are
// UUIDs (36 bytes). Longer ids are replaced by their SHA-256, so the dedup
// window and the journal hold bounded bytes per event whatever a sender sends.
const maxEventID = 64

func eventID(id string) string {
	if len(id) <= maxEventID {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// toJob turns a well-formed event into a job, or names why it is skipped.
func toJob(regName string, rt router, ev *notifications.Event) (*journal.Job, string) {
	t := &ev.Target
	switch {
	case ev.Action != notifications.EventActionPush:
		return nil, "not_push"
	case !mapping.IsManifest(t.MediaType):
		return nil, "not_manifest"
	case t.Tag == "":
		return nil, "untagged"
	}
	if !registry.ValidRepository(t.Repository) || !registry.ValidTag(t.Tag) {
		return nil, "invalid_name"
	}
	if _, err := registry.ParseDigest(t.Digest.String()); err != nil {
		return nil, "invalid_name"
	}
	route, reason := rt.route(t.Repository)
	if reason != "" {
		return nil, reason
	}
	return &journal.Job{
		ID:         eventID(ev.ID),
		Registry:   regName,
		Repository: t.Repository,
		Namespace:  route.Namespace,
		Stream:     route.Stream,
		Tag:        t.Tag,
		Digest:     t.Digest.String(),
		MediaType:  t.MediaType,
		PushedAt:   ev.Timestamp,
		Source:     "notification",
	}, ""
}
