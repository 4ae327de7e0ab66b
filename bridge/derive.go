package bridge

import (
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
)

// derives reports whether applying j may move roll-up tags: its registry
// derives some and j's tag is a release, or j deletes a registry tag named
// like a roll-up (the registry's own tag won over the roll-up; once it is
// gone, the roll-up takes its place).
func derives(src *source, j *Job) bool {
	if !src.cfg.DerivedTags.Any() {
		return false
	}
	_, ok := parseRelease(j.Tag)
	return ok || (j.Action == ActionDelete && isRollupName(j.Tag, src.cfg.DerivedTags))
}

// streamKey names the per-stream lock of j's stream in its cluster.
func streamKey(cl *target, j *Job) string {
	return cl.cfg.Name + "\x00" + j.Namespace + "\x00" + j.Stream
}

// derive moves the roll-up tags of the line of j's release in cl after j
// was applied (mapped, or deleted with deleteTags). The caller holds the
// stream's lock, so the decision is made from one tag listing of the
// registry taken under it: whatever order pushes and deletes apply in, the
// last one to run sees the registry as it is, and a roll-up tag never points
// back to an older release. Each roll-up tag is mapped to its winner's
// current digest (the winner's mapping, from the memo, with the roll-up's
// tag), unless the stream's tag has that image on top already. After a
// delete, a roll-up tag whose line has no release left is deleted when its
// newest image came from this repository. A roll-up tag that would be new
// in a stream at maxTagsPerStream is left out (tag_limit).
func (b *Bridge) derive(ctx context.Context, src *source, cl *target, j *Job) error {
	var names []string
	if r, ok := parseRelease(j.Tag); ok {
		names = r.lines(src.cfg.DerivedTags)
	} else if j.Action == ActionDelete && isRollupName(j.Tag, src.cfg.DerivedTags) {
		names = []string{j.Tag} // the registry's own tag of that name is gone: derive it
	} else {
		return nil
	}
	digests, bulk, err := src.fetch.TagDigests(ctx, j.Repository)
	if err != nil {
		return inStage(StageFetch, err)
	}
	var tags []string
	if bulk {
		tags = slices.Collect(maps.Keys(digests))
	} else if tags, err = src.fetch.Tags(ctx, j.Repository); err != nil {
		return inStage(StageFetch, err)
	}
	want := rollups(tags, src.filter.Keeps, src.cfg.DerivedTags)
	s, err := cl.api.GetStream(ctx, j.Namespace, j.Stream)
	if err != nil {
		return inStage(StageAPI, err)
	}
	if s == nil {
		return nil // nothing mapped to it (a delete's stream is gone): no roll-up to move
	}
	n, _ := countTags(s, "")
	for _, name := range names {
		winner, ok := want[name]
		if !ok {
			if j.Action == ActionDelete && !slices.Contains(tags, name) {
				if err := b.deleteRollup(ctx, src, cl, j, name, newestReference(s, name)); err != nil {
					return err
				}
			}
			continue
		}
		dgst := digests[winner]
		if !bulk {
			dgst, err = src.fetch.Resolve(ctx, j.Repository, winner)
			if StatusCode(err) == http.StatusNotFound {
				continue // deleted since the listing: its delete recomputes the line
			}
			if err != nil {
				return inStage(StageFetch, err)
			}
		}
		if dgst == "" || latestImage(s, name) == dgst {
			continue
		}
		if _, has := countTags(s, name); !has {
			if limit := src.cfg.MaxTagsPerStream; limit > 0 && n >= limit {
				b.obs.Derived(j.Registry, cl.cfg.Name, string(DerivedTagLimit))
				if b.limits.shouldWarn(streamKey(cl, j), b.now()) {
					b.log.Warn("image stream is at maxTagsPerStream: a new roll-up tag is left out (tag_limit); warned once an hour",
						"registry", j.Registry, "cluster", cl.cfg.Name, "namespace", j.Namespace, "stream", j.Stream,
						"tag", name, "tags", n, "maxTagsPerStream", limit)
				}
				continue
			}
			n++
		}
		if err := b.mapRollup(ctx, src, cl, j, name, winner, dgst); err != nil {
			return err
		}
	}
	return nil
}

// mapRollup maps the roll-up tag name to winner's image dgst in cl.
func (b *Bridge) mapRollup(ctx context.Context, src *source, cl *target, j *Job, name, winner, dgst string) error {
	w := *j
	w.Tag, w.Digest, w.Action = winner, dgst, ""
	res := b.memo.get(ctx, builtKey{registry: w.Registry, repository: w.Repository, digest: dgst, tag: winner,
		namespace: w.Namespace, stream: w.Stream}, func() built { return b.fetchBuild(ctx, src, &w, dgst) })
	if res.err != nil {
		return res.err
	}
	m := *res.ism // the shared mapping is not modified
	m.Tag = name
	if err := cl.api.CreateMapping(ctx, &m); err != nil {
		return inStage(StageAPI, err)
	}
	b.obs.Derived(j.Registry, cl.cfg.Name, string(DerivedMapped))
	b.log.Info("roll-up tag mapped", "registry", j.Registry, "cluster", cl.cfg.Name, "repository", j.Repository,
		"namespace", j.Namespace, "stream", j.Stream, "tag", name, "release", winner, "digest", dgst, "event", j.ID)
	return nil
}

// deleteRollup deletes the roll-up tag name, whose line has no release left,
// when its newest image (ref) came from j's repository (deleteTag's rule).
func (b *Bridge) deleteRollup(ctx context.Context, src *source, cl *target, j *Job, name, ref string) error {
	if ref == "" || !strings.HasPrefix(ref, src.cfg.ReferenceHost+"/"+j.Repository+"@") {
		return nil
	}
	if err := cl.api.DeleteStreamTag(ctx, j.Namespace, j.Stream, name); err != nil {
		return inStage(StageAPI, err)
	}
	b.obs.Derived(j.Registry, cl.cfg.Name, string(DerivedDeleted))
	b.log.Info("roll-up tag deleted: its line has no release left", "registry", j.Registry, "cluster", cl.cfg.Name,
		"repository", j.Repository, "namespace", j.Namespace, "stream", j.Stream, "tag", name, "event", j.ID)
	return nil
}

// derived runs derive after j was applied and decides what its error does
// to j: a transient one retries j (posting j's mapping again changes nothing,
// and derive decides afresh), a permanent one is logged and j stays done
// (resync tries the roll-up again).
func (b *Bridge) derived(ctx context.Context, src *source, cl *target, j *Job) error {
	err := b.derive(ctx, src, cl, j)
	if err == nil {
		return nil
	}
	if o := classify(err); o.Result == Retried {
		return err
	}
	b.log.Warn("roll-up tags not moved", "registry", j.Registry, "cluster", cl.cfg.Name, "repository", j.Repository,
		"namespace", j.Namespace, "stream", j.Stream, "tag", j.Tag, "reason", classify(err).Reason(), "error", err.Error())
	return nil
}
