package bridge

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/imagestream-bridge/imagestream-bridge/journal"
)

// Drift is one tag whose image stream is out of step with the registry.
type Drift struct {
	Registry   string `json:"registry"`
	Repository string `json:"repository"`
	Namespace  string `json:"namespace"`
	Stream     string `json:"stream"`
	Tag        string `json:"tag"`
	// Digest is what the registry's tag points at now.
	Digest string `json:"digest"`
	// Current is the image the stream's tag points at ("" when missing).
	Current string `json:"current"`
	// Kind is missing or stale.
	Kind string `json:"kind"`
}

// resyncRate bounds registry requests of one reconciliation run (per second).
const resyncRate = 50

// Plan lists every drifted tag: it lists the registry's repositories (catalog
// or configured list) and tags, resolves each tag to its digest, and compares
// with the image streams, listed once per namespace.
func (b *Bridge) Plan(ctx context.Context) ([]Drift, error) {
	lim := rate.NewLimiter(resyncRate, resyncRate)
	streams := map[string]map[string]*imagev1.ImageStream{} // namespace → stream name → stream
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
		for _, repo := range repos {
			route, reason := src.router.route(repo)
			if reason != "" {
				continue
			}
			nsStreams, ok := streams[route.Namespace]
			if !ok {
				list, err := b.api.ListStreams(ctx, route.Namespace)
				if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
					return nil, err
				}
				if err != nil {
					b.log.Warn("resync cannot list image streams", "namespace", route.Namespace, "error", err.Error())
				}
				nsStreams = map[string]*imagev1.ImageStream{}
				for i := range list {
					nsStreams[list[i].Name] = &list[i]
				}
				streams[route.Namespace] = nsStreams
			}
			if err := lim.Wait(ctx); err != nil {
				return nil, err
			}
			tags, err := src.fetch.Tags(ctx, repo)
			if err != nil {
				return nil, fmt.Errorf("registry %s: %w", name, err)
			}
			sort.Strings(tags)
			for _, tag := range tags {
				if err := lim.Wait(ctx); err != nil {
					return nil, err
				}
				dgst, err := src.fetch.Resolve(ctx, repo, tag)
				if err != nil {
					b.log.Warn("resync cannot resolve tag", "registry", name, "repository", repo, "tag", tag, "error", err.Error())
					continue
				}
				current := latestImage(nsStreams[route.Stream], tag)
				if current == dgst {
					continue
				}
				kind := "stale"
				if current == "" {
					kind = "missing"
				}
				out = append(out, Drift{Registry: name, Repository: repo, Namespace: route.Namespace,
					Stream: route.Stream, Tag: tag, Digest: dgst, Current: current, Kind: kind})
			}
		}
	}
	return out, nil
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
	drift, err := b.Plan(ctx)
	b.obs.ResyncRun(time.Since(start), err)
	if err != nil {
		return nil, err
	}
	for _, d := range drift {
		b.obs.ResyncDrift(d.Registry, d.Kind)
	}
	if dryRun || len(drift) == 0 {
		b.log.Info("resync finished", "drift", len(drift), "dry_run", dryRun, "duration_ms", time.Since(start).Milliseconds())
		return drift, nil
	}
	// A digest that failed for good stays in the failed list until it is replayed
	// or dropped, or until the tag moves to another digest: queuing it on every
	// run would fail it again and grow the list.
	failed := map[string]bool{}
	if list, err := b.store.FailedList(); err == nil {
		for _, f := range list {
			failed[failedKey(f.Registry, f.Repository, f.Tag, f.Digest)] = true
		}
	}
	jobs := make([]*journal.Job, 0, len(drift))
	left := 0
	for _, d := range drift {
		if failed[failedKey(d.Registry, d.Repository, d.Tag, d.Digest)] {
			left++
			continue
		}
		jobs = append(jobs, &journal.Job{
			ID:       fmt.Sprintf("resync:%s/%s:%s@%s", d.Namespace, d.Stream, d.Tag, d.Digest),
			Registry: d.Registry, Repository: d.Repository, Namespace: d.Namespace, Stream: d.Stream,
			Tag: d.Tag, Digest: d.Digest, PushedAt: time.Now().UTC(), Source: "resync", Verify: true,
		})
	}
	queued := 0
	for len(jobs) > 0 {
		n := min(len(jobs), 100)
		err := b.enqueue(ctx, jobs[:n])
		if errors.Is(err, ErrQueueFull) {
			b.log.Warn("resync stopped early: queue full", "left", len(jobs))
			break
		}
		if err != nil {
			return drift, err
		}
		for _, j := range jobs[:n] {
			b.obs.ResyncFixed(j.Registry)
		}
		queued += n
		jobs = jobs[n:]
	}
	b.log.Info("resync finished", "drift", len(drift), "queued", queued, "in_failed_list", left,
		"duration_ms", time.Since(start).Milliseconds())
	return drift, nil
}

func failedKey(registry, repository, tag, digest string) string {
	return registry + "\x00" + repository + "\x00" + tag + "\x00" + digest
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
