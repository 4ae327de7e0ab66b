package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// errNotConfigured is a job whose registry or cluster left the config after it
// was accepted: it can never apply as it is (FailInvalid).
var errNotConfigured = errors.New("no longer configured")

// errNotAdmitted is a job the config would not have accepted as it stands:
// the log is shared (any client allowed to publish to it can append), so the
// applier trusts no field of a stored job it can check (FailInvalid).
var errNotAdmitted = errors.New("not admitted by the config")

// admits checks a stored job as Accept would have built it from its
// registry's current config: valid names, the repository routed to the job's
// namespace and stream by the registry's mapping and namespaces, and the
// cluster one of the registry's targets that takes the namespace.
func admits(src *source, cl *target, j *Job) error {
	if !event.ValidRepository(j.Repository) || !event.ValidTag(j.Tag) {
		return fmt.Errorf("%w: invalid repository or tag", errNotAdmitted)
	}
	if j.Digest != "" {
		if _, err := event.ParseDigest(j.Digest); err != nil {
			return fmt.Errorf("%w: invalid digest", errNotAdmitted)
		}
	}
	route, reason := src.router.route(j.Repository)
	if reason != "" {
		return fmt.Errorf("%w: repository %q: %s", errNotAdmitted, j.Repository, reason)
	}
	if route.Namespace != j.Namespace || route.Stream != j.Stream {
		return fmt.Errorf("%w: repository %q maps to %s/%s, not %s/%s", errNotAdmitted, j.Repository,
			route.Namespace, route.Stream, j.Namespace, j.Stream)
	}
	if !slices.Contains(src.targets, cl) || !cl.cfg.AllowsNamespace(j.Namespace) {
		return fmt.Errorf("%w: cluster %q does not take namespace %q from registry %q", errNotAdmitted, cl.cfg.Name, j.Namespace, j.Registry)
	}
	return nil
}

// apply performs one job: fetch, build, post. later says whether another job
// of the same tag waits behind this one.
func (b *Bridge) apply(ctx context.Context, j *Job, later bool) error {
	src, ok := b.registries[j.Registry]
	if !ok {
		return fmt.Errorf("%w: registry %q", errNotConfigured, j.Registry)
	}
	cl := b.cluster(j)
	if cl == nil {
		return fmt.Errorf("%w: cluster %q", errNotConfigured, j.ClusterName())
	}
	if err := admits(src, cl, j); err != nil {
		return err
	}
	if !src.filter.Keeps(j.Tag) {
		// Journaled before the tags filter changed: the filter as it stands decides.
		return &skipError{reason: SkipFiltered, detail: "the registry's tags filter leaves the tag out"}
	}
	if j.Action == ActionDelete {
		if err := b.deleteTag(ctx, src, cl, j); err != nil || !derives(src, j) {
			return err
		}
		// The deletion itself is not held up by the lock (it waits for two verdicts).
		defer b.limits.lock(streamKey(cl, j))()
		return b.derived(ctx, src, cl, j)
	}
	digest, err := b.digest(ctx, src, j)
	if err != nil {
		return err
	}
	if (j.Verify || b.draining.Load()) && !later && j.Digest != "" {
		// A push may have moved the tag on since this job was planned or journaled:
		// applying it now would move the tag back.
		now, err := src.fetch.Resolve(ctx, j.Repository, j.Tag)
		if StatusCode(err) == http.StatusNotFound {
			return errSkipStale
		}
		if err != nil {
			return inStage(StageFetch, err)
		}
		if now != j.Digest {
			return errSkipStale
		}
	}
	// The jobs of every cluster of the event share one fetch, parse and build.
	res := b.memo.get(ctx, builtKey{registry: j.Registry, repository: j.Repository, digest: digest, tag: j.Tag,
		namespace: j.Namespace, stream: j.Stream}, func() built { return b.fetchBuild(ctx, src, j, digest) })
	if res.err != nil {
		return res.err
	}
	b.reportEmpty(j, digest, res.warn)
	ism := res.ism
	if cl.cfg.CreateChildImages && mapping.IsList(ism.Image.DockerImageManifestMediaType) {
		b.createChildren(ctx, src, cl, j, ism)
	}
	// One lock per stream, taken once: the tag limit's check and the mapping,
	// then the roll-up tags of a release (derive).
	derive := derives(src, j)
	if src.cfg.MaxTagsPerStream > 0 || derive {
		defer b.limits.lock(streamKey(cl, j))()
	}
	if src.cfg.MaxTagsPerStream > 0 {
		if err := b.checkTagLimit(ctx, src, cl, j); err != nil {
			if derive && classify(err).Result == Skipped {
				// The roll-ups follow the registry's releases, this one too, even
				// when the stream has no room for its own tag.
				if derr := b.derived(ctx, src, cl, j); derr != nil {
					return derr
				}
			}
			return err
		}
	}
	m := *ism // the API client sets the kind on what it encodes: not on the shared mapping
	err = cl.api.CreateMapping(ctx, &m)
	if err != nil && streamMissing(err) && cl.cfg.CreateStreams() {
		b.obs.Retried(string(StageAPI), string(RetryStreamCreated))
		if err := cl.api.CreateStream(ctx, newStream(src.cfg.Streams, j.Namespace, j.Stream)); err != nil {
			return inStage(StageAPI, err)
		}
		b.log.Info("image stream created", "cluster", cl.cfg.Name, "namespace", j.Namespace, "stream", j.Stream)
		m = *ism
		err = cl.api.CreateMapping(ctx, &m)
	}
	if err != nil || !derive {
		return inStage(StageAPI, err)
	}
	return b.derived(ctx, src, cl, j)
}

// newStream is the image stream the bridge creates for a registry: its
// streams settings, copied so that the API client never shares the config's maps.
func newStream(look config.Streams, namespace, name string) *imagev1.ImageStream {
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name,
		Labels: maps.Clone(look.Labels), Annotations: maps.Clone(look.Annotations)}}
	s.Spec.LookupPolicy.Local = look.LookupPolicyLocal
	return s
}

// deleteTag deletes the image stream tag of a tag deleted in the registry,
// but only on the registry's own verdict that the tag is gone, given twice,
// confirmDelay apart: a late delete never removes a tag that was pushed again
// (it ends as stale), and a bare 404 from a proxy is no verdict (retried as
// no_verdict, never deleting). The API's 404 (no such stream or tag) is success.
func (b *Bridge) deleteTag(ctx context.Context, src *source, cl *target, j *Job) error {
	for i := range 2 {
		if i > 0 {
			t := time.NewTimer(b.confirmDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return ctx.Err()
			case <-t.C:
			}
		}
		gone, err := src.fetch.TagGone(ctx, j.Repository, j.Tag)
		if err != nil {
			return inStage(StageFetch, err)
		}
		if !gone {
			return errSkipStale
		}
	}
	// Resync's ownership rule: two repositories can map to one stream (join), and
	// the tag is removed only when its newest image came from this repository.
	streams, err := cl.api.ListStreams(ctx, j.Namespace)
	if err != nil && !apierrors.IsNotFound(err) {
		return inStage(StageAPI, err)
	}
	for i := range streams {
		if streams[i].Name != j.Stream {
			continue
		}
		if ref := newestReference(&streams[i], j.Tag); ref != "" && !strings.HasPrefix(ref, src.cfg.ReferenceHost+"/"+j.Repository+"@") {
			return &skipError{reason: SkipNotOwner, detail: "the tag's newest image came from another repository: " + clip(ref)}
		}
	}
	return inStage(StageAPI, cl.api.DeleteStreamTag(ctx, j.Namespace, j.Stream, j.Tag))
}

// newestReference is the dockerImageReference of a tag's newest history entry ("" when none).
func newestReference(s *imagev1.ImageStream, tag string) string {
	for _, t := range s.Status.Tags {
		if t.Tag == tag && len(t.Items) > 0 {
			return t.Items[0].DockerImageReference
		}
	}
	return ""
}

// fetchBuild fetches digest and builds the mapping of j's tag: an error
// when it is no image manifest or list (or an artifact the registry skips),
// cannot be built, or is larger than the API server stores.
func (b *Bridge) fetchBuild(ctx context.Context, src *source, j *Job, digest string) built {
	content, err := src.fetch.Fetch(ctx, j.Repository, digest, mapping.IsImageManifest)
	if err != nil {
		return built{err: inStage(StageFetch, err)}
	}
	if !mapping.IsManifest(content.MediaType) {
		return built{err: &skipError{reason: SkipNotManifest, detail: "not an image manifest or list: " + clip(content.MediaType)}}
	}
	if kind := mapping.Artifact(content.MediaType, content.Manifest, content.Config); kind != "" && src.cfg.Artifacts != config.ArtifactsMap {
		return built{err: &skipError{reason: SkipArtifact, detail: "OCI artifact (" + kind + "): skipped with artifacts: skip"}}
	}
	ism, warn, err := b.build(src, j, digest, content)
	if err != nil {
		return built{err: err}
	}
	if raw, err := json.Marshal(ism); err == nil && int64(len(raw)) > MaxImageBytes {
		return built{err: fmt.Errorf("%w: the mapping is %d bytes, more than the API server stores (%d)", ErrTooLarge, len(raw), MaxImageBytes)}
	}
	return built{ism: ism, warn: warn}
}

// build builds the mapping of digest for j's tag. A config the API server
// cannot decode is mapped with empty metadata, as the server stores it (warn).
func (b *Bridge) build(src *source, j *Job, digest string, content *Content) (*imagev1.ImageStreamMapping, error, error) {
	return buildMapping(mapping.Input{
		Namespace: j.Namespace, Stream: j.Stream, Tag: j.Tag, Repository: j.Repository,
		ReferenceHost: src.cfg.ReferenceHost, Digest: digest, MediaType: content.MediaType,
		Manifest: content.Manifest, Config: content.Config,
		Now: b.now,
	})
}

// reportEmpty reports, for each job, an image mapped with empty metadata.
func (b *Bridge) reportEmpty(j *Job, digest string, warn error) {
	if warn == nil {
		return
	}
	b.obs.MetadataEmpty(j.Registry)
	b.log.Warn("image mapped with empty metadata, as OpenShift stores it", "registry", j.Registry,
		"repository", j.Repository, "digest", digest, "reason", warn.Error())
}

// createChildren creates the Image of each child of a list, as OpenShift's
// PreserveOriginal import does, so every platform can be pulled by digest.
// OpenShift never checks children when a list is pushed, so a child that
// cannot be fetched, built or created is reported and the list is mapped anyway.
func (b *Bridge) createChildren(ctx context.Context, src *source, cl *target, j *Job, list *imagev1.ImageStreamMapping) {
	for _, child := range list.Image.DockerImageManifests {
		err := b.createChild(ctx, src, cl, j, child.Digest)
		if err == nil {
			continue
		}
		b.obs.ChildFailed(j.Registry)
		b.log.Warn("child image not created; the list is mapped anyway", "registry", j.Registry,
			"repository", j.Repository, "digest", j.Digest, "child", child.Digest, "reason", classify(err).Reason(),
			"error", err.Error())
	}
}

func (b *Bridge) createChild(ctx context.Context, src *source, cl *target, j *Job, digest string) error {
	res := b.memo.get(ctx, builtKey{registry: j.Registry, repository: j.Repository, digest: digest, tag: j.Tag,
		namespace: j.Namespace, stream: j.Stream, child: true}, func() built {
		content, err := src.fetch.Fetch(ctx, j.Repository, digest, mapping.IsImageManifest)
		if err != nil {
			return built{err: inStage(StageFetch, err)}
		}
		ism, warn, err := b.build(src, j, digest, content)
		return built{ism: ism, warn: warn, err: err}
	})
	if res.err != nil {
		return res.err
	}
	b.reportEmpty(j, digest, res.warn)
	img := res.ism.Image // a copy of the top level: the shared mapping is not modified
	return inStage(StageAPI, cl.api.CreateImage(ctx, &img))
}

// report logs one line per job outcome and counts it.
func (b *Bridge) report(j *Job, o Outcome, attempts int, d time.Duration) {
	cluster := j.ClusterName()
	attrs := []any{"event", j.ID, "registry", j.Registry, "cluster", cluster, "repository", j.Repository, "namespace", j.Namespace,
		"stream", j.Stream, "tag", j.Tag, "digest", j.Digest, "source", j.Source, "attempts", attempts,
		"duration_ms", strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 2, 64)}
	if j.Source == SourceResync {
		switch o.Result {
		case Mapped:
			b.resyncApplied.Add(1)
		case Skipped:
			b.resyncSkipped.Add(1)
		}
	}
	switch o.Result {
	case Retried:
		if o.clusterDown() {
			if cl := b.cluster(j); cl != nil {
				b.gate.failed(cl, o.Err) // before the lane is parked: no other job of cl starts
			}
		}
		b.obs.Retried(string(o.Stage), string(o.Retry))
		b.log.Warn("event retry", append(attrs, "outcome", "retry", "reason", o.Reason(), "error", errString(o.Err))...)
	case Failed:
		b.obs.Failed(j.Registry, cluster, string(o.Failure))

		b.log.Error("event failed", append(attrs, "outcome", "failed", "reason", o.Reason(), "error", errString(o.Err))...)
	case Skipped:
		b.obs.Skipped(j.Registry, string(o.Skip))
		b.log.Info("event skipped", append(attrs, "outcome", "skipped", "reason", o.Reason(), "detail", errString(o.Err))...)
	default:
		if j.Action == ActionDelete {
			b.applied.forget(j.Registry, j.Repository, j.Tag)
			b.obs.TagDeleted(j.Registry, cluster)
			b.log.Info("image stream tag deleted", append(attrs, "outcome", "deleted")...)
			return
		}
		b.obs.Mapped(j.Registry, cluster)
		if j.Source == "notification" {
			b.applied.record(j.Registry, j.Repository, j.Tag, j.Digest, b.now())
		}
		if !j.PushedAt.IsZero() && j.Source == "notification" {
			b.obs.PushToMapped(j.Registry, cluster, b.now().Sub(j.PushedAt))
		}
		b.log.Info("event mapped", append(attrs, "outcome", "mapped")...)
	}
}

// ResyncOutcomes counts the resync jobs this process finished: applied (mapped
// or deleted) and skipped (the tag moved on, or another repository owns it).
// Failed ones are in the failed list.
func (b *Bridge) ResyncOutcomes() (applied, skipped int64) {
	return b.resyncApplied.Load(), b.resyncSkipped.Load()
}
