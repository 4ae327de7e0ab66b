package sender

import (
	"strings"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// artifactoryBody is a JFrog platform webhook event, reduced to what the
// bridge uses.
type artifactoryBody struct {
	Domain    string `json:"domain"`
	EventType string `json:"event_type"`
	Data      struct {
		Path      string `json:"path"`
		SHA256    string `json:"sha256"`
		ImageName string `json:"image_name"`
		Tag       string `json:"tag"`
	} `json:"data"`
}

// decodeArtifactory decodes one docker-domain event. "pushed" on a manifest
// path (…/manifest.json, or …/list.manifest.json for an index) is a Push,
// "deleted" a Delete; "promoted", other event types, other domains and other
// paths are Other. Digest is "sha256:" + data.sha256 as sent: a missing or
// non-canonical checksum yields an invalid digest that the bridge skips as
// invalid_name, never "" (which would make the bridge resolve the tag
// instead of verifying the manifest). There is no event id or media type.
func decodeArtifactory(body []byte) ([]event.Event, error) {
	var b artifactoryBody
	if err := unmarshalObject(body, &b); err != nil {
		return nil, err
	}
	action := event.Other
	if b.Domain == "docker" && isManifestPath(b.Data.Path) {
		switch b.EventType {
		case "pushed":
			action = event.Push
		case "deleted":
			action = event.Delete
		}
	}
	return []event.Event{{
		Action:     action,
		Repository: b.Data.ImageName,
		Tag:        b.Data.Tag,
		Digest:     "sha256:" + b.Data.SHA256,
	}}, nil
}

// isManifestPath reports whether an Artifactory path names a Docker manifest
// file: <image>/<tag>/manifest.json or <image>/<tag>/list.manifest.json.
func isManifestPath(p string) bool {
	return strings.HasSuffix(p, "/manifest.json") || strings.HasSuffix(p, "/list.manifest.json")
}
