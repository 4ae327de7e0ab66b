package bridge

import (
	"context"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
)

// Drift is one tag whose image stream, in one cluster, is out of step with the registry.
type Drift struct {
	Registry   string `json:"registry"`
	Cluster    string `json:"cluster"`
	Repository string `json:"repository"`
	Namespace  string `json:"namespace"`
	Stream     string `json:"stream"`
	Tag        string `json:"tag"`
	// Digest is what the registry's tag points at now ("" when removed).
	Digest string `json:"digest"`
	// Current is the image the stream's tag points at ("" when missing).
	Current string `json:"current"`
	// Kind is missing, stale or removed (the registry no longer has the tag;
	// listed only for a registry with deleteTags).
	Kind string `json:"kind"`
	// Release is, for a roll-up tag (derivedTags), the release tag it follows:
	// the repair maps that release again, which moves the roll-up.
	Release string `json:"release,omitempty"`
}

// Drift kinds.
const (
	DriftMissing = "missing"
	DriftStale   = "stale"
	DriftRemoved = "removed"
)

// SourceResync is the Source of a resync's repair jobs: they have room of their own in the queue.
const SourceResync = "resync"

// removedTags are the status tags of s that the registry no longer lists and
// whose newest image came from this repository (its reference starts with
// prefix, HOST/REPOSITORY@): tags that something else put there (a spec tag,
// an import, another registry) are never removed.
func removedTags(s *imagev1.ImageStream, prefix string, listed map[string]string) []string {
	if s == nil {
		return nil
	}
	spec := map[string]bool{}
	for _, t := range s.Spec.Tags {
		spec[t.Name] = true
	}
	var out []string
	for _, t := range s.Status.Tags {
		if _, ok := listed[t.Tag]; ok || spec[t.Tag] || len(t.Items) == 0 {
			continue
		}
		if strings.HasPrefix(t.Items[0].DockerImageReference, prefix) {
			out = append(out, t.Tag)
		}
	}
	sort.Strings(out)
	return out
}

// clusterOrder is the configured cluster names, the default first.
func (b *Bridge) clusterOrder() []string {
	var out []string
	for _, cl := range b.cfg.Clusters() {
		out = append(out, cl.Name)
	}
	return out
}

// latestImage is the image of a tag's newest history entry.
func latestImage(s *imagev1.ImageStream, tag string) string {
	if s == nil {
		return ""
	}
	for _, t := range s.Status.Tags {
		if t.Tag == tag && len(t.Items) > 0 {
			return t.Items[0].Image
		}
	}
	return ""
}

// Resync checks every registry against the image streams of its target
// clusters and, unless dryRun, queues a repair job for every drifted tag as
// soon as it is found (the checks go on meanwhile). It lists the registry's
// repositories (catalog or configured list) a page at a time and their tags,
// resolves each tag to its digest, and compares with the image streams of each
// target cluster, listed once per cluster and namespace while the pass is in
// that namespace. With deleteTags it also finds the stream tags this
// registry's repository mapped whose registry tag is gone. visit, when set,
// sees each drifted tag (one call at a time). It returns how many tags
// drifted. A cluster whose streams cannot be listed is left out of the rest
// of the run (the others are checked) and named in the returned error; a
// registry whose listing fails ends the run with that error.
func (b *Bridge) Resync(ctx context.Context, dryRun bool, visit func(Drift)) (int, error) {
	start := time.Now()
	p := &pass{b: b, dryRun: dryRun, visit: visit, failed: map[string]bool{}, down: map[string]error{},
		start: start, number: b.passes.Add(1) - 1, trustSince: start}
	if prev := b.lastPass.Swap(&start); prev != nil {
		p.trustSince = *prev
	}
	conc := 1
	for _, src := range b.registries {
		conc = max(conc, src.cfg.Resync.Concurrency)
	}
	p.streams = newStreamCache(2 * conc)
	if !dryRun {
		if list, err := b.events.FailedList(ctx); err == nil {
			for _, f := range list {
				p.failed[failedKey(f.Registry, f.ClusterName(), f.Action, f.Repository, f.Tag, f.Digest)] = true
			}
		}
	}
	err := p.run(ctx)
	b.obs.ResyncRun(time.Since(start), err)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		b.log.Warn("resync finished with an error", "drift", p.drift, "queued", p.queued, "error", err.Error())
		return p.drift, err
	}
	b.log.Info("resync finished", "drift", p.drift, "queued", p.queued, "in_failed_list", p.left, "dry_run", dryRun,
		"heads_saved_by_events", p.fromEvents, "idle_tags_skipped", p.idleSkipped,
		"duration_ms", time.Since(start).Milliseconds())
	return p.drift, nil
}

// enqueueOutside schedules resync jobs in the resync's own room, waiting for
// it. They are not appended to the log: a repair lost in a crash is found
// again by the next pass.
func (b *Bridge) enqueueOutside(ctx context.Context, jobs []*Job) error {
	if err := b.q.ReserveOutside(ctx, len(jobs)); err != nil {
		return err
	}
	b.q.Push(jobs...)
	return nil
}

func failedKey(registry, cluster, action, repository, tag, digest string) string {
	return registry + "\x00" + cluster + "\x00" + action + "\x00" + repository + "\x00" + tag + "\x00" + digest
}

// ResyncLoop runs Resync at start and then every interval until ctx ends.
func (b *Bridge) ResyncLoop(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := b.Resync(ctx, false, nil); err != nil && ctx.Err() == nil {
			b.log.Error("resync failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
