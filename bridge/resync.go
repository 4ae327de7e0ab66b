package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
}

// Drift kinds.
const (
	DriftMissing = "missing"
	DriftStale   = "stale"
	DriftRemoved = "removed"
)

// SourceResync is the Source of a resync's repair jobs: they have room of their own in the queue.
const SourceResync = "resync"

// resyncRate bounds registry requests of one reconciliation run (per second).
const resyncRate = 50

// Plan lists every drifted tag: it lists the registry's repositories (catalog
// or configured list) and tags, resolves each tag to its digest, and compares
// with the image streams of each target cluster, listed once per cluster and
// namespace. With deleteTags it also lists the stream tags this registry's
// repository mapped whose registry tag is gone. A cluster whose streams cannot
// be listed is left out of this run (the others are planned) and named in the
// returned error.
func (b *Bridge) Plan(ctx context.Context) ([]Drift, error) {
	lim := rate.NewLimiter(resyncRate, resyncRate)
	streams := map[string]map[string]*imagev1.ImageStream{} // cluster, namespace → stream name → stream
	down := map[string]error{}                              // clusters left out of this run
	var out []Drift
	for _, name := range b.order {
		src := b.registries[name]
		if err := lim.Wait(ctx); err != nil {
			return nil, err
		}
		repos, err := src.fetch.Repositories(ctx)
		if err != nil {
			return nil, fmt.Errorf("registry %s: %w", name, err)
		}
		sort.Strings(repos)
		owners := map[Route]string{} // stream → the first repository mapped to it
		for _, repo := range repos {
			route, reason := src.router.route(repo)
			if reason != "" {
				continue
			}
			if first, ok := owners[route]; ok {
				b.log.Warn("resync sees two repositories mapped to one image stream: a tag is removed only by the repository whose image it holds",
					"registry", name, "repository", repo, "other_repository", first, "namespace", route.Namespace, "stream", route.Stream)
			} else {
				owners[route] = repo
			}
			if err := lim.Wait(ctx); err != nil {
				return nil, err
			}
			tags, err := src.fetch.Tags(ctx, repo)
			if err != nil {
				return nil, fmt.Errorf("registry %s: %w", name, err)
			}
			sort.Strings(tags)
			digests := make(map[string]string, len(tags))
			for _, tag := range tags {
				if err := lim.Wait(ctx); err != nil {
					return nil, err
				}
				dgst, err := src.fetch.Resolve(ctx, repo, tag)
				if err != nil {
					b.log.Warn("resync cannot resolve tag", "registry", name, "repository", repo, "tag", tag, "error", err.Error())
					dgst = "" // listed, so not removed; not compared either
				}
				digests[tag] = dgst
			}
			for _, t := range src.targets {
				cl := t.cfg.Name
				if !t.cfg.AllowsNamespace(route.Namespace) || down[cl] != nil {
					continue
				}
				nsStreams, err := b.listStreams(ctx, t, route.Namespace, streams)
				if err != nil {
					b.log.Warn("resync leaves a cluster out of this run", "cluster", cl, "error", err.Error())
					down[cl] = err
					continue
				}
				d := Drift{Registry: name, Cluster: cl, Repository: repo, Namespace: route.Namespace, Stream: route.Stream}
				for _, tag := range tags {
					dgst := digests[tag]
					current := latestImage(nsStreams[route.Stream], tag)
					if dgst == "" || current == dgst {
						continue
					}
					d.Tag, d.Digest, d.Current, d.Kind = tag, dgst, current, DriftStale
					if current == "" {
						d.Kind = DriftMissing
					}
					out = append(out, d)
				}
				if src.cfg.DeleteTags {
					s := nsStreams[route.Stream]
					removed := removedTags(s, src.cfg.ReferenceHost+"/"+repo+"@", digests)
					if len(removed) > 0 && float64(len(removed)) > src.cfg.DeleteTagsMaxShare*float64(len(s.Status.Tags)) {
						// One bad listing must not empty a stream: a pass that would remove
						// most of it removes none, and says so.
						b.obs.ResyncDeletesRefused(name)
						b.log.Warn("resync refuses to remove most of an image stream's tags", "registry", name,
							"cluster", cl, "repository", repo, "namespace", route.Namespace, "stream", route.Stream,
							"would_remove", len(removed), "tags", len(s.Status.Tags), "deleteTagsMaxShare", src.cfg.DeleteTagsMaxShare)
						removed = nil
					}
					for _, tag := range removed {
						d.Tag, d.Digest, d.Current, d.Kind = tag, "", latestImage(s, tag), DriftRemoved
						out = append(out, d)
					}
				}
			}
		}
	}
	var errs []error
	for _, t := range b.clusterOrder() {
		if err := down[t]; err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", t, err))
		}
	}
	return out, errors.Join(errs...)
}

// listStreams lists the image streams of a namespace in one cluster, once per
// run. A namespace that is missing or forbidden has no streams; any other
// error leaves the cluster out of the run.
func (b *Bridge) listStreams(ctx context.Context, t *target, ns string, cache map[string]map[string]*imagev1.ImageStream) (map[string]*imagev1.ImageStream, error) {
	key := t.cfg.Name + "\x00" + ns
	if s, ok := cache[key]; ok {
		return s, nil
	}
	list, err := t.api.ListStreams(ctx, ns)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return nil, err
	}
	if err != nil {
		b.log.Warn("resync cannot list image streams", "cluster", t.cfg.Name, "namespace", ns, "error", err.Error())
	}
	s := map[string]*imagev1.ImageStream{}
	for i := range list {
		s[list[i].Name] = &list[i]
	}
	cache[key] = s
	return s, nil
}

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

// Resync plans and, unless dryRun, queues a repair job for every drifted tag.
// Repair jobs re-check the tag when they run, so a push that lands meanwhile wins.
func (b *Bridge) Resync(ctx context.Context, dryRun bool) ([]Drift, error) {
	start := time.Now()
	drift, planErr := b.Plan(ctx)
	b.obs.ResyncRun(time.Since(start), planErr)
	if planErr != nil && drift == nil {
		return nil, planErr
	}
	for _, d := range drift {
		b.obs.ResyncDrift(d.Registry, d.Kind)
	}
	if dryRun || len(drift) == 0 {
		b.log.Info("resync finished", "drift", len(drift), "dry_run", dryRun, "duration_ms", time.Since(start).Milliseconds())
		return drift, planErr
	}
	// A digest that failed for good stays in the failed list until it is replayed
	// or dropped, or until the tag moves to another digest: queuing it on every
	// run would fail it again and grow the list.
	failed := map[string]bool{}
	if list, err := b.events.FailedList(ctx); err == nil {
		for _, f := range list {
			failed[failedKey(f.Registry, f.ClusterName(), f.Action, f.Repository, f.Tag, f.Digest)] = true
		}
	}
	jobs := make([]*Job, 0, len(drift))
	left := 0
	for _, d := range drift {
		action := ""
		if d.Kind == DriftRemoved {
			action = ActionDelete
		}
		if failed[failedKey(d.Registry, d.Cluster, action, d.Repository, d.Tag, d.Digest)] {
			left++
			continue
		}
		j := &Job{
			Registry: d.Registry, Repository: d.Repository, Namespace: d.Namespace, Stream: d.Stream,
			Tag: d.Tag, Digest: d.Digest, PushedAt: time.Now().UTC(), Source: SourceResync, Verify: true,
			Cluster: d.Cluster, Action: action,
		}
		j.ID = "resync:" + j.Key() + "@" + d.Digest
		if action == ActionDelete {
			j.ID = "resync-delete:" + j.Key()
		}
		jobs = append(jobs, j)
	}
	// Repairs have room of their own (queue.Options.Outside), so they never take
	// the webhook's: the run waits for it instead of stopping at a full queue.
	queued := 0
	for len(jobs) > 0 {
		n := min(len(jobs), 100, b.q.OutsideCapacity())
		if err := b.enqueueOutside(ctx, jobs[:n]); err != nil {
			b.log.Warn("resync stopped early", "left", len(jobs), "error", err.Error())
			return drift, errors.Join(err, planErr)
		}
		for _, j := range jobs[:n] {
			b.obs.ResyncFixed(j.Registry)
		}
		queued += n
		jobs = jobs[n:]
	}
	b.log.Info("resync finished", "drift", len(drift), "queued", queued, "in_failed_list", left,
		"duration_ms", time.Since(start).Milliseconds())
	return drift, planErr
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
		if _, err := b.Resync(ctx, false); err != nil && ctx.Err() == nil {
			b.log.Error("resync failed", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
