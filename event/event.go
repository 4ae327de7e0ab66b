// Package event is a registry notification once decoded: a sender-neutral
// record of one thing that happened to a repository. The webhook's sender
// decoders (distribution, Harbor, Quay, Artifactory, ACR) produce it; the
// bridge consumes it. The grammar of the names it carries (repository, tag,
// digest) is here too: the bridge checks them when it accepts an event, and
// package registry before it asks for anything. It imports nothing of ours.
package event

import "time"

// Actions a sender reports. Anything a decoder does not recognise is Other.
const (
	Push   = "push"
	Pull   = "pull"
	Mount  = "mount"
	Delete = "delete"
	// Ping is a sender's test delivery (ACR's "ping", Quay's test button when recognisable).
	Ping = "ping"
	// Other is any action the bridge does not act on (rename, scan, quota, ...).
	Other = "other"
	// Overflow is a tag beyond a sender's per-notification bound (Quay's
	// updated_tags): not queued, counted, left to resync.
	Overflow = "overflow"
)

// Event is one thing that happened in a registry, as its sender reported it.
// Strings are as the sender sent them; the bridge validates them.
type Event struct {
	// ID is the sender's event id, "" when it has none (Quay, Artifactory, Harbor's default format).
	ID string
	// Action is one of the constants above.
	Action string
	// Repository is the repository path inside the registry (e.g. team/app).
	Repository string
	// Tag is the tag pushed or deleted, "" for a push by digest.
	Tag string
	// Digest is the manifest digest (sha256:...), "" when the sender gives none (Quay): the
	// bridge then resolves the tag at the configured registry when the job runs.
	Digest string
	// MediaType is the manifest media type, "" when the sender does not say (Harbor, Quay,
	// Artifactory): the bridge then learns it when it fetches the manifest.
	MediaType string
	// Timestamp is when the sender says it happened; zero when unknown.
	Timestamp time.Time
}

// DedupKey is what identifies a delivery of e for duplicate detection: the
// sender's event id when it has one, otherwise what the event says.
func (e Event) DedupKey() string {
	if e.ID != "" {
		return "id:" + e.ID
	}
	return "ev:" + e.Action + "\x00" + e.Repository + "\x00" + e.Tag + "\x00" + e.Digest
}
