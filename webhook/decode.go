package webhook

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

	"github.com/imagestream-bridge/imagestream-bridge/event"
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

// decodeEnvelope parses a distribution envelope into events; any error means
// a malformed envelope. {} is well-formed and has no events (a probe).
func decodeEnvelope(body []byte) ([]event.Event, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var env envelope
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("decode envelope: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("decode envelope: trailing data after the JSON object")
	}
	if env.Events == nil {
		return nil, nil
	}
	if len(*env.Events) > maxEvents {
		return nil, fmt.Errorf("decode envelope: %d events, at most %d", len(*env.Events), maxEvents)
	}
	out := make([]event.Event, len(*env.Events))
	for i, ev := range *env.Events {
		out[i] = event.Event{
			ID:         eventID(ev.ID),
			Action:     action(ev.Action),
			Repository: ev.Target.Repository,
			Tag:        ev.Target.Tag,
			Digest:     ev.Target.Digest.String(),
			MediaType:  ev.Target.MediaType,
			Timestamp:  ev.Timestamp,
		}
	}
	return out, nil
}

// action maps distribution's actions onto event's.
func action(a string) string {
	switch a {
	case notifications.EventActionPush:
		return event.Push
	case notifications.EventActionPull:
		return event.Pull
	case notifications.EventActionMount:
		return event.Mount
	case notifications.EventActionDelete:
		return event.Delete
	}
	return event.Other
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
