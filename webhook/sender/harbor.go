package sender

import (
	"strconv"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// harborBody is both Harbor payload formats at once, reduced to the fields
// the bridge uses: Default ({type, occur_at, event_data}) and CloudEvents
// ({specversion, id, type, time, data}, data being Default's event_data).
// The format is told by specversion, not by the content type.
type harborBody struct {
	Type string `json:"type"`
	// Default format.
	OccurAt   int64       `json:"occur_at"` // Unix seconds
	EventData *harborData `json:"event_data"`
	// CloudEvents format.
	SpecVersion *string     `json:"specversion"`
	ID          string      `json:"id"`
	Time        time.Time   `json:"time"` // RFC 3339; anything else is malformed
	Data        *harborData `json:"data"`
}

type harborData struct {
	Resources []struct {
		Digest string `json:"digest"`
		Tag    string `json:"tag"`
	} `json:"resources"`
	Repository struct {
		RepoFullName string `json:"repo_full_name"`
	} `json:"repository"`
}

// decodeHarbor makes one event per event_data.resources[] (Harbor sends one).
// A resource whose tag is a digest (Harbor's way of saying untagged) gets
// Tag "". The Default format has no event id (ID ""); CloudEvents' id is
// stable across a job's retries and becomes the ID (suffixed with the
// resource's index should an event ever hold several, so that dedup by ID
// keeps them apart).
func decodeHarbor(body []byte) ([]event.Event, error) {
	var b harborBody
	if err := unmarshalObject(body, &b); err != nil {
		return nil, err
	}
	var (
		data   *harborData
		action string
		ts     time.Time
		id     string
	)
	if b.SpecVersion != nil {
		data, action, ts, id = b.Data, harborCloudAction(b.Type), b.Time, b.ID
	} else {
		data, action = b.EventData, harborAction(b.Type)
		if b.OccurAt != 0 {
			ts = time.Unix(b.OccurAt, 0).UTC()
		}
	}
	if data == nil || len(data.Resources) == 0 {
		return nil, nil
	}
	if len(data.Resources) > MaxEvents {
		return nil, tooMany(len(data.Resources))
	}
	out := make([]event.Event, len(data.Resources))
	for i, r := range data.Resources {
		tag := r.Tag
		if isDigest(tag) {
			tag = ""
		}
		evID := id
		if id != "" && len(data.Resources) > 1 {
			evID = id + "/" + strconv.Itoa(i)
		}
		out[i] = event.Event{
			ID:         evID,
			Action:     action,
			Repository: data.Repository.RepoFullName,
			Tag:        tag,
			Digest:     r.Digest,
			Timestamp:  ts,
		}
	}
	return out, nil
}

// harborAction maps the Default format's event types.
func harborAction(t string) string {
	switch t {
	case "PUSH_ARTIFACT":
		return event.Push
	case "PULL_ARTIFACT":
		return event.Pull
	case "DELETE_ARTIFACT":
		return event.Delete
	}
	return event.Other
}

// harborCloudAction maps the CloudEvents format's event types.
func harborCloudAction(t string) string {
	switch t {
	case "harbor.artifact.pushed":
		return event.Push
	case "harbor.artifact.pulled":
		return event.Pull
	case "harbor.artifact.deleted":
		return event.Delete
	}
	return event.Other
}

// isDigest reports whether s has a digest's shape, algorithm ":" encoded
// (OCI: algorithm is lowercase alphanumeric components joined by + . _ -).
// A tag never contains ':', so Harbor's tag field holding one is a digest.
func isDigest(s string) bool {
	alg, enc, ok := strings.Cut(s, ":")
	if !ok || alg == "" || enc == "" {
		return false
	}
	prevSep := true // no separator first
	for i := 0; i < len(alg); i++ {
		switch c := alg[i]; {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			prevSep = false
		case c == '+' || c == '.' || c == '_' || c == '-':
			if prevSep {
				return false
			}
			prevSep = true
		default:
			return false
		}
	}
	return !prevSep // no separator last
}
