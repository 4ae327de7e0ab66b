package sender

import "github.com/imagestream-bridge/imagestream-bridge/event"

// quayBody is a Quay repository notification, reduced to what the bridge uses.
type quayBody struct {
	Repository  string   `json:"repository"` // namespace/name
	UpdatedTags []string `json:"updated_tags"`
}

// MaxQuayTags bounds the pushes one Quay notification becomes: its
// updated_tags are deduplicated, the first MaxQuayTags distinct tags are
// queued and each further one is an event.Overflow (skipped as over_limit and
// counted; resync repairs it). A real push names one tag; a long list is a
// mirror or bulk retag, which resync handles without crowding the queue.
const MaxQuayTags = 100

// decodeQuay decodes a repo_push notification: one Push per updated_tags[]
// entry, with no digest, media type or event id (Quay sends none; the
// bridge resolves the tag at the configured registry). Quay's Test button
// sends updated_tags ["latest","foo"] (RepoPushEvent.get_sample_data), which
// a real push never does (a v2 manifest PUT names exactly one tag): that
// body is one event.Ping. A body without tags (repo_mirror_sync_* with a
// text message, build events, an empty list) is one event.Other, so the
// bridge counts it as skipped rather than seeing nothing.
func decodeQuay(body []byte) ([]event.Event, error) {
	var b quayBody
	if err := unmarshalObject(body, &b); err != nil {
		return nil, err
	}
	switch n := len(b.UpdatedTags); {
	case n == 0:
		return []event.Event{{Action: event.Other, Repository: b.Repository}}, nil
	case n > MaxEvents:
		return nil, tooMany(n)
	case n == 2 && b.UpdatedTags[0] == "latest" && b.UpdatedTags[1] == "foo":
		return []event.Event{{Action: event.Ping, Repository: b.Repository}}, nil
	}
	out := make([]event.Event, 0, len(b.UpdatedTags))
	seen := make(map[string]bool, len(b.UpdatedTags))
	pushes := 0
	for _, tag := range b.UpdatedTags {
		if seen[tag] {
			continue
		}
		seen[tag] = true
		action := event.Push
		if pushes == MaxQuayTags {
			action = event.Overflow
		} else {
			pushes++
		}
		out = append(out, event.Event{Action: action, Repository: b.Repository, Tag: tag})
	}
	return out, nil
}
