package webhook

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/imagestream-bridge/imagestream-bridge/event"
	"github.com/imagestream-bridge/imagestream-bridge/webhook/sender"
)

// decode turns the body of kind's notification into events with the rules
// that hold for every sender: at most sender.MaxEvents events (the sender's
// decoder enforces it), and every event id bounded (eventID). Any error
// means a malformed body (400).
func decode(kind sender.Kind, body []byte) ([]event.Event, error) {
	evs, err := sender.Decode(kind, body)
	if err != nil {
		return nil, err
	}
	if len(evs) > sender.MaxEvents {
		return nil, fmt.Errorf("decode %s notification: %d events, at most %d", kind, len(evs), sender.MaxEvents)
	}
	for i := range evs {
		evs[i].ID = eventID(evs[i].ID)
	}
	return evs, nil
}

// maxEventID is the longest event id kept as it is; distribution's and ACR's
// ids are UUIDs (36 bytes), Harbor's CloudEvents ids UUIDs with a suffix.
// Longer ids are replaced by their SHA-256, so the dedup window and the
// journal hold bounded bytes per event whatever a sender sends.
const maxEventID = 64

func eventID(id string) string {
	if len(id) <= maxEventID {
		return id
	}
	sum := sha256.Sum256([]byte(id))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// dedupKey is the key under which a delivery of ev is remembered, and false
// when ev is never deduplicated: an event without id nor digest (Quay) says
// only which tag moved, and two pushes of one tag would merge into one,
// whereas re-resolving the tag is harmless.
func dedupKey(registry string, ev *event.Event) (string, bool) {
	if ev.ID == "" && ev.Digest == "" {
		return "", false
	}
	return registry + "/" + ev.DedupKey(), true
}
