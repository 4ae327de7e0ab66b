package sender

import (
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// distEnvelope is the distribution (and GitLab) notification body, reduced to
// the fields the bridge uses. Decoding into distribution's own
// notifications.Event would also allocate request, actor, source, URL and
// references for every event (see BenchmarkDecodeDistribution).
type distEnvelope struct {
	Events []distEvent `json:"events"`
}

// distEvent is one envelope event; ACR webhooks post exactly this object.
type distEvent struct {
	ID        string    `json:"id"`
	Timestamp time.Time `json:"timestamp"` // RFC 3339; anything else is malformed, as distribution's own type
	Action    string    `json:"action"`
	Target    struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
	} `json:"target"`
}

// decodeDistribution decodes {"events":[...]}. {}, {"events":[]} and
// {"events":null} are well formed with no events (a probe). GitLab's extra
// fields (actor.user_type, target.rename) are ignored, and its extra actions
// (rename, ...) become event.Other.
func decodeDistribution(body []byte) ([]event.Event, error) {
	var env distEnvelope
	if err := unmarshalObject(body, &env); err != nil {
		return nil, err
	}
	if len(env.Events) > MaxEvents {
		return nil, tooMany(len(env.Events))
	}
	if len(env.Events) == 0 {
		return nil, nil
	}
	out := make([]event.Event, len(env.Events))
	for i := range env.Events {
		out[i] = env.Events[i].event(distAction)
	}
	return out, nil
}

// event converts e, naming its action with action.
func (e *distEvent) event(action func(string) string) event.Event {
	return event.Event{
		ID:         e.ID,
		Action:     action(e.Action),
		Repository: e.Target.Repository,
		Tag:        e.Target.Tag,
		Digest:     e.Target.Digest,
		MediaType:  e.Target.MediaType,
		Timestamp:  e.Timestamp,
	}
}

// distAction maps distribution's actions; GitLab's rename and anything
// newer are Other.
func distAction(a string) string {
	switch a {
	case "push":
		return event.Push
	case "pull":
		return event.Pull
	case "mount":
		return event.Mount
	case "delete":
		return event.Delete
	}
	return event.Other
}
