package sender

import "github.com/imagestream-bridge/imagestream-bridge/event"

// decodeACR decodes an Azure Container Registry webhook body: ONE event
// object shaped like a distribution event (id, timestamp, action,
// target{mediaType, digest, repository, tag}), not an envelope. The portal's
// and CLI's test delivery is action "ping". Event Grid deliveries (an array
// in the Event Grid schema, or CloudEvents with the ACR event under data)
// are not supported: they are not objects of this shape, or carry no action,
// and so are rejected or skipped.
func decodeACR(body []byte) ([]event.Event, error) {
	var e distEvent
	if err := unmarshalObject(body, &e); err != nil {
		return nil, err
	}
	return []event.Event{e.event(acrAction)}, nil
}

// acrAction maps ACR's actions: push, delete, ping; quarantine, chart_push,
// chart_delete and anything else are Other.
func acrAction(a string) string {
	switch a {
	case "push":
		return event.Push
	case "delete":
		return event.Delete
	case "ping":
		return event.Ping
	}
	return event.Other
}
