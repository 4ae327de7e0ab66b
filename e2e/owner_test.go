package e2e_test

import (
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// TestDeleteEventOnlyRemovesItsOwnTag: with mapping {namespace: ci, join: "-"},
// repositories del-app and del/app both map to ci/del-app. Both push tag b,
// del/app last, so the stream's b now holds del/app's image; deleting
// del-app:b in the registry must not remove the tag that del/app owns and
// still has (skipped as not_owner).
func TestDeleteEventOnlyRemovesItsOwnTag(t *testing.T) {
	e := startEnv(t, envOpts{configure: func(c *config.Config) {
		c.Registries[0].DeleteTags = true
		c.Registries[0].Mapping = config.Mapping{Namespace: "ci", Join: "-"}
	}})
	first := e.push("del-app", "b", randomImage(t, 1, false))
	e.notify(event("p1", "del-app", "b", first, schema2))
	e.waitTag("ci", "del-app", "b", first)
	owner := e.push("del/app", "b", randomImage(t, 1, false))
	e.notify(event("p2", "del/app", "b", owner, schema2))
	e.waitTag("ci", "del-app", "b", owner)

	e.deleteTag("del-app", "b") // the registry's own verdict: del-app:b is gone
	e.notify(deleteEvent("d1", "del-app", "b"))
	e.waitFor("the delete job to end", func() bool {
		return len(e.api.TagHistory("ci", "del-app", "b")) == 0 ||
			e.metric(`imagestream_bridge_events_skipped_total{reason="not_owner",registry="main"}`) >= 1
	})
	if h := e.api.TagHistory("ci", "del-app", "b"); len(h) != 2 || h[0] != owner {
		t.Fatalf("deleting del-app:b removed the tag del/app owns: history %v", h)
	}
}
