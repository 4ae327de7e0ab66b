package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// ErrQueueFull is Accept's answer when the queue has no room for the events:
// the sender should retry later.
var ErrQueueFull = errors.New("queue is full")

// ErrUnknownRegistry is Accept's answer for a registry name that is not configured.
var ErrUnknownRegistry = errors.New("unknown registry")

// Accept keeps the tagged manifest pushes (and, with deleteTags, the tag
// deletions) among the events of one registry, routes them, journals one job
// per target cluster and schedules them, all or none. It returns, per event,
// why it was skipped ("" when queued); the skips are counted even when the
// queued events are refused with ErrQueueFull or a journal error.
func (b *Bridge) Accept(ctx context.Context, registryName string, evs []event.Event) ([]SkipReason, error) {
	src, ok := b.registries[registryName]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownRegistry, registryName)
	}
	skips := make([]SkipReason, len(evs))
	jobs := make([]*Job, 0, len(evs))
	for i := range evs {
		var job *Job
		var reason SkipReason
		if evs[i].Action == event.Delete && src.cfg.DeleteTags {
			job, reason = toDeleteJob(registryName, src.router, &evs[i])
		} else {
			job, reason = toJob(registryName, src.router, &evs[i])
		}
		if job != nil && !src.filter.Keeps(job.Tag) {
			job, reason = nil, SkipFiltered
		}
		var fanned []*Job
		if job != nil {
			if fanned = fanOut(job, src.targets); len(fanned) == 0 {
				reason = SkipNamespaceNotAllowed
			}
		}
		if len(fanned) == 0 {
			skips[i] = reason
			b.obs.Skipped(registryName, string(reason))
			b.logSkip(registryName, &evs[i], reason)
			continue
		}
		jobs = append(jobs, fanned...)
	}
	return skips, b.enqueue(ctx, jobs)
}

// fanOut copies job once per target cluster that takes its namespace. Each
// copy is journaled and completed on its own: a crash never drops a pending
// target and never repeats a done one.
func fanOut(job *Job, targets []*target) []*Job {
	out := make([]*Job, 0, len(targets))
	for _, t := range targets {
		if !t.cfg.AllowsNamespace(job.Namespace) {
			continue
		}
		j := *job
		j.Cluster = t.cfg.Name
		out = append(out, &j)
	}
	return out
}

// enqueue appends jobs to the log, all or none; the applier consumes them.
func (b *Bridge) enqueue(ctx context.Context, jobs []*Job) error {
	if len(jobs) == 0 {
		return nil
	}
	return b.events.Append(ctx, jobs)
}

// toJob turns a well-formed event into a job, or names why it is skipped.
func toJob(regName string, rt router, ev *event.Event) (*Job, SkipReason) {
	switch {
	case ev.Action == event.Overflow:
		return nil, SkipOverLimit
	case ev.Action != event.Push:
		return nil, SkipNotPush
	case ev.MediaType != "" && !mapping.IsManifest(ev.MediaType):
		// "" is a sender that names no media type (Harbor, Quay, Artifactory): apply learns it.
		return nil, SkipNotManifest
	case ev.Tag == "":
		return nil, SkipUntagged
	}
	if !event.ValidRepository(ev.Repository) || !event.ValidTag(ev.Tag) {
		return nil, SkipInvalidName
	}
	if _, err := event.ParseDigest(ev.Digest); err != nil && ev.Digest != "" {
		// "" is a sender without digests (Quay): the job resolves the tag when it runs.
		return nil, SkipInvalidName
	}
	route, reason := rt.route(ev.Repository)
	if reason != "" {
		return nil, reason
	}
	return &Job{
		ID:         ev.ID,
		Registry:   regName,
		Repository: ev.Repository,
		Namespace:  route.Namespace,
		Stream:     route.Stream,
		Tag:        ev.Tag,
		Digest:     ev.Digest,
		PushedAt:   ev.Timestamp,
		Source:     "notification",
	}, ""
}

// toDeleteJob turns a tag deletion (repository and tag; distribution sends
// no digest) into a job that deletes the image stream tag once the registry
// no longer has the tag. A delete without a tag (a manifest deleted by
// digest) is not a tag deletion.
func toDeleteJob(regName string, rt router, ev *event.Event) (*Job, SkipReason) {
	if ev.Tag == "" {
		return nil, SkipNotPush
	}
	if !event.ValidRepository(ev.Repository) || !event.ValidTag(ev.Tag) {
		return nil, SkipInvalidName
	}
	route, reason := rt.route(ev.Repository)
	if reason != "" {
		return nil, reason
	}
	return &Job{
		ID: ev.ID, Registry: regName, Repository: ev.Repository, Namespace: route.Namespace,
		Stream: route.Stream, Tag: ev.Tag, PushedAt: ev.Timestamp, Source: "notification",
		Action: ActionDelete,
	}, ""
}

// logSkip logs skipped events at debug level: pull and blob noise is most of the traffic.
// Every string from the event is clipped: a log line costs bounded bytes.
func (b *Bridge) logSkip(registry string, ev *event.Event, reason SkipReason) {
	if !b.log.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	b.log.Debug("event skipped", "event", clip(ev.ID), "registry", registry, "action", clip(ev.Action),
		"repository", clip(ev.Repository), "tag", clip(ev.Tag), "digest", clip(ev.Digest),
		"media_type", clip(ev.MediaType), "outcome", "skipped", "reason", string(reason))
}

// maxLogString bounds each string from a sender that reaches a log line.
const maxLogString = 256

// clip shortens s to maxLogString bytes, marking the cut.
func clip(s string) string {
	if len(s) <= maxLogString {
		return s
	}
	return s[:maxLogString] + "...(" + strconv.Itoa(len(s)) + " bytes)"
}
