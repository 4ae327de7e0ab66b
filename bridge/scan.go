package bridge

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"sort"
	"sync"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"golang.org/x/time/rate"
)

// pass is one resync run: it lists each registry a page at a time, checks
// each page's repositories with the registry's concurrency and request
// budget (config.Resync), and queues the repair of a drifted tag as soon as
// it is found. It holds a catalog page, the repositories being checked and a
// few namespaces' streams (streamCache), never the whole catalog.
type pass struct {
	b      *Bridge
	dryRun bool
	// visit, when set, sees each drifted tag (one call at a time).
	visit func(Drift)
	// failed holds the failed list's keys (failedKey): those are not queued again.
	failed  map[string]bool
	streams *streamCache

	// start is when the pass began; number counts the process's passes (the first is 0).
	start  time.Time
	number int64
	// trustSince: a digest a notification mapped at or after it is taken without a HEAD.
	trustSince time.Time

	mu     sync.Mutex // guards the fields below and calls to visit
	down   map[string]error
	drift  int
	queued int
	left   int // drifted, but in the failed list
	// fromEvents and idleSkipped count the HEADs saved by notifications and by idle tags.
	fromEvents, idleSkipped int
}

// run checks every registry in config order; a registry whose listing fails
// ends the pass with that error.
func (p *pass) run(ctx context.Context) error {
	for _, name := range p.b.order {
		if err := p.registry(ctx, name, p.b.registries[name]); err != nil {
			return err
		}
	}
	var errs []error
	for _, t := range p.b.clusterOrder() {
		if err := p.down[t]; err != nil {
			errs = append(errs, fmt.Errorf("cluster %s: %w", t, err))
		}
	}
	return errors.Join(errs...)
}

// checkItem is one repository handed to a checker.
type checkItem struct {
	repo  string
	route Route
}

// registry checks one registry: the listing hands each page's repositories,
// in name order, to Resync.Concurrency checkers and asks for the next page
// once the checkers have taken them all.
func (p *pass) registry(ctx context.Context, name string, src *source) error {
	budget := src.cfg.Resync
	lim := rate.NewLimiter(rate.Limit(budget.RequestsPerSecond), max(budget.Concurrency, 1))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	items := make(chan checkItem) // unbuffered: what is not taken stays in the page
	var wg sync.WaitGroup
	for range max(budget.Concurrency, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for it := range items {
				if err := p.repository(ctx, lim, name, src, it); err != nil {
					cancel(err)
				}
			}
		}()
	}
	// Two repositories mapped to one stream can only come from mapping rules;
	// without them the route is the repository's own name.
	var owners map[Route]string // stream → the first repository mapped to it
	if m := src.cfg.Mapping; m.StripPrefix != "" || m.Namespace != "" || m.Join != "" {
		owners = map[Route]string{}
	}
	err := lim.Wait(ctx)
	if err == nil {
		err = src.fetch.RepositoryPages(ctx, func(page []string) error {
			page = slices.Clone(page)
			sort.Strings(page)
			for _, repo := range page {
				route, reason := src.router.route(repo)
				if reason != "" {
					continue
				}
				if owners != nil {
					if first, ok := owners[route]; ok {
						p.b.log.Warn("resync sees two repositories mapped to one image stream: a tag is removed only by the repository whose image it holds",
							"registry", name, "repository", repo, "other_repository", first, "namespace", route.Namespace, "stream", route.Stream)
					} else {
						owners[route] = repo
					}
				}
				select {
				case items <- checkItem{repo: repo, route: route}:
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			}
			return lim.Wait(ctx) // for the next page
		})
	}
	close(items)
	wg.Wait()
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		err = cause // a checker's error, or the caller's deadline
	}
	if err != nil {
		return fmt.Errorf("registry %s: %w", name, err)
	}
	return nil
}

// repository checks one repository's tags against its stream in every target
// cluster and queues the repairs (unless dry run).
func (p *pass) repository(ctx context.Context, lim *rate.Limiter, name string, src *source, it checkItem) error {
	repo, route := it.repo, it.route
	if err := lim.Wait(ctx); err != nil {
		return err
	}
	digests, bulk, err := src.fetch.TagDigests(ctx, repo)
	if err != nil {
		return err
	}
	var tags []string
	if bulk {
		tags = make([]string, 0, len(digests))
		for tag := range digests {
			tags = append(tags, tag)
		}
	} else if tags, err = src.fetch.Tags(ctx, repo); err != nil { // the token taken above pays for it
		return err
	}
	// Roll-up tags are derived from the whole listing: a roll-up name the
	// registry has as a tag is its own, even when filtered out.
	want := rollups(tags, src.filter.Keeps, src.cfg.DerivedTags)
	tags = slices.DeleteFunc(tags, func(tag string) bool { return !src.filter.Keeps(tag) })
	sort.Strings(tags)
	// The streams first: which tags need a HEAD depends on them (idle tags).
	var views []streamView
	for _, t := range src.targets {
		if !t.cfg.AllowsNamespace(route.Namespace) || p.isDown(t.cfg.Name) {
			continue
		}
		nsStreams, err := p.streams.get(ctx, p.b, t, route.Namespace)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			p.markDown(t.cfg.Name, err)
			continue
		}
		views = append(views, streamView{cluster: t.cfg.Name, stream: nsStreams[route.Stream]})
	}
	if len(views) == 0 {
		return nil // no cluster takes this namespace, or all are out of the run: nothing to compare
	}
	if !bulk {
		if digests, err = p.resolve(ctx, lim, name, src, repo, tags, views); err != nil {
			return err
		}
	}
	var found []Drift
	for _, v := range views {
		d := Drift{Registry: name, Cluster: v.cluster, Repository: repo, Namespace: route.Namespace, Stream: route.Stream}
		for _, tag := range tags {
			dgst := digests[tag]
			current := latestImage(v.stream, tag)
			if dgst == "" || current == dgst {
				continue
			}
			d.Tag, d.Digest, d.Current, d.Kind = tag, dgst, current, DriftStale
			if current == "" {
				d.Kind = DriftMissing
			}
			found = append(found, d)
		}
		found = append(found, rollupDrift(d, v.stream, want, digests)...)
		if src.cfg.DeleteTags {
			s := v.stream
			removed := slices.DeleteFunc(removedTags(s, src.cfg.ReferenceHost+"/"+repo+"@", digests), func(tag string) bool {
				// A filtered tag is never ours to delete, nor is a roll-up tag (the registry never lists one).
				return !src.filter.Keeps(tag) || isRollupName(tag, src.cfg.DerivedTags)
			})
			if len(removed) > 0 && float64(len(removed)) > src.cfg.DeleteTagsMaxShare*float64(len(s.Status.Tags)) {
				// One bad listing must not empty a stream: a pass that would remove
				// most of it removes none, and says so.
				p.b.obs.ResyncDeletesRefused(name)
				p.b.log.Warn("resync refuses to remove most of an image stream's tags", "registry", name,
					"cluster", v.cluster, "repository", repo, "namespace", route.Namespace, "stream", route.Stream,
					"would_remove", len(removed), "tags", len(s.Status.Tags), "deleteTagsMaxShare", src.cfg.DeleteTagsMaxShare)
				removed = nil
			}
			for _, tag := range removed {
				d.Tag, d.Digest, d.Current, d.Kind, d.Release = tag, "", latestImage(s, tag), DriftRemoved, ""
				found = append(found, d)
			}
		}
	}
	return p.repair(ctx, found)
}

// rollupDrift is the drift of the roll-up tags want (roll-up tag → release)
// in one cluster's stream: a roll-up tag missing, or not on its release's
// digest. A release whose digest is not known this pass ("") is not compared.
func rollupDrift(d Drift, stream *imagev1.ImageStream, want, digests map[string]string) []Drift {
	var out []Drift
	for _, name := range slices.Sorted(maps.Keys(want)) {
		release := want[name]
		dgst, current := digests[release], latestImage(stream, name)
		if dgst == "" || current == dgst {
			continue
		}
		d.Tag, d.Digest, d.Current, d.Kind, d.Release = name, dgst, current, DriftStale, release
		if current == "" {
			d.Kind = DriftMissing
		}
		out = append(out, d)
	}
	return out
}

// streamView is a repository's image stream in one target cluster (nil when missing).
type streamView struct {
	cluster string
	stream  *imagev1.ImageStream
}

// resolve finds the digest of each tag: the one a notification mapped since
// the previous pass began (no request), none for an idle tag this pass
// skips ("": listed, not compared), else a HEAD. A tag that cannot be
// resolved gets "" too.
func (p *pass) resolve(ctx context.Context, lim *rate.Limiter, name string, src *source, repo string, tags []string, views []streamView) (map[string]string, error) {
	digests := make(map[string]string, len(tags))
	for _, tag := range tags {
		if dgst, ok := p.b.applied.since(name, repo, tag, p.trustSince); ok {
			digests[tag] = dgst
			p.count(&p.fromEvents)
			continue
		}
		if p.idle(src, views, tag) && !p.due(src, repo, tag) {
			digests[tag] = ""
			p.count(&p.idleSkipped)
			continue
		}
		if err := lim.Wait(ctx); err != nil {
			return nil, err
		}
		dgst, err := src.fetch.Resolve(ctx, repo, tag)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			p.b.log.Warn("resync cannot resolve tag", "registry", name, "repository", repo, "tag", tag, "error", err.Error())
			dgst = "" // listed, so not removed; not compared either
		}
		digests[tag] = dgst
	}
	return digests, nil
}

// idle reports a tag that every target cluster's stream has, last moved
// longer than idleTagAfter ago.
func (p *pass) idle(src *source, views []streamView, tag string) bool {
	if len(views) == 0 {
		return false
	}
	before := p.start.Add(-src.cfg.Resync.IdleTagAfter.Duration)
	for _, v := range views {
		if v.stream == nil {
			return false
		}
		moved := time.Time{}
		for _, t := range v.stream.Status.Tags {
			if t.Tag == tag && len(t.Items) > 0 {
				moved = t.Items[0].Created.Time
			}
		}
		if moved.IsZero() || !moved.Before(before) {
			return false
		}
	}
	return true
}

// due reports whether this pass checks an idle tag: the first pass of the
// process checks every one, then each is checked every idleTagEvery passes,
// spread over the passes by a hash of its name.
func (p *pass) due(src *source, repo, tag string) bool {
	every := int64(max(src.cfg.Resync.IdleTagEvery, 1))
	if p.number == 0 || every == 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(repo + ":" + tag))
	return (p.number+int64(h.Sum32()))%every == 0
}

func (p *pass) count(n *int) {
	p.mu.Lock()
	*n++
	p.mu.Unlock()
}

func (p *pass) isDown(cluster string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.down[cluster] != nil
}

// markDown leaves a cluster out of the rest of the pass.
func (p *pass) markDown(cluster string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down[cluster] == nil {
		p.b.log.Warn("resync leaves a cluster out of this run", "cluster", cluster, "error", err.Error())
		p.down[cluster] = err
	}
}

// repair counts and shows the drifted tags of one repository and, unless dry
// run, queues a repair job for each one not in the failed list. Repair jobs
// re-check the tag when they run, so a push that lands meanwhile wins.
func (p *pass) repair(ctx context.Context, found []Drift) error {
	if len(found) == 0 {
		return nil
	}
	var jobs []*Job
	queued := map[string]bool{} // job IDs: roll-ups of one release queue it once
	p.mu.Lock()
	for _, d := range found {
		p.drift++
		p.b.obs.ResyncDrift(d.Registry, d.Kind)
		if p.visit != nil {
			p.visit(d)
		}
		if p.dryRun {
			continue
		}
		action := ""
		if d.Kind == DriftRemoved {
			action = ActionDelete
		}
		if d.Release != "" {
			// A roll-up tag is repaired by mapping its release again (derive moves it);
			// several roll-ups of one release, or the release itself, queue one job.
			d.Tag = d.Release
		}
		// A digest that failed for good stays in the failed list until it is replayed
		// or dropped, or until the tag moves to another digest: queuing it on every
		// run would fail it again and grow the list.
		if p.failed[failedKey(d.Registry, d.Cluster, action, d.Repository, d.Tag, d.Digest)] {
			p.left++
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
		if queued[j.ID] {
			continue
		}
		queued[j.ID] = true
		jobs = append(jobs, j)
	}
	p.mu.Unlock()
	// Repairs have room of their own (queue.Options.Outside), so they never take
	// the webhook's: the checker waits for it instead of stopping at a full queue.
	for len(jobs) > 0 {
		n := min(len(jobs), 100, max(p.b.q.OutsideCapacity(), 1))
		if err := p.b.enqueueOutside(ctx, jobs[:n]); err != nil {
			return fmt.Errorf("queue repairs: %w", err)
		}
		for _, j := range jobs[:n] {
			p.b.obs.ResyncFixed(j.Registry)
		}
		p.mu.Lock()
		p.queued += n
		p.mu.Unlock()
		jobs = jobs[n:]
	}
	return nil
}
