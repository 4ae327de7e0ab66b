package bridge

import (
	"context"
	"net/http"
)

// digest is the manifest digest job j maps. A job without one comes from a
// sender that names only the tag (Quay): the tag is resolved now, with a
// HEAD by tag at the configured registry (never at a host from the payload),
// so every such job maps what the tag points at when it runs. Deliveries are
// unordered and may be retried, so each job resolves again rather than trust
// an earlier answer; a tag that is gone by then is skipped as stale.
func (b *Bridge) digest(ctx context.Context, src *source, j *Job) (string, error) {
	if j.Digest != "" {
		return j.Digest, nil
	}
	d, err := src.fetch.Resolve(ctx, j.Repository, j.Tag)
	if StatusCode(err) == http.StatusNotFound {
		return "", errSkipStale
	}
	if err != nil {
		return "", inStage(StageFetch, err)
	}
	return d, nil
}
