package bridge

import (
	"context"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
)

// ImageAPI is what the bridge needs of the OpenShift image API (package
// openshift implements it).
type ImageAPI interface {
	CreateMapping(ctx context.Context, m *imagev1.ImageStreamMapping) error
	// CreateStream creates the image stream s (its namespace, name, labels,
	// annotations and spec); one that exists is fine and is left as it is.
	CreateStream(ctx context.Context, s *imagev1.ImageStream) error
	// CreateImage creates a cluster-scoped Image; one that exists is fine.
	CreateImage(ctx context.Context, img *imagev1.Image) error
	ListStreams(ctx context.Context, namespace string) ([]imagev1.ImageStream, error)
	// GetStream reads one image stream; nil (and no error) when it does not exist.
	GetStream(ctx context.Context, namespace, name string) (*imagev1.ImageStream, error)
	// DeleteStreamTag deletes the image stream tag STREAM:TAG; one that does not exist is fine.
	DeleteStreamTag(ctx context.Context, namespace, stream, tag string) error
	// Probe asks the server for something cheap; nil means it answered.
	Probe(ctx context.Context) error
}

// Observer receives every measurement the bridge makes (package metrics
// implements it). Reasons, stages and kinds are the strings of this package's
// closed sets.
type Observer interface {
	Skipped(registry, reason string)
	// Mapped, PushToMapped, Failed and TagDeleted name the cluster of the job.
	Mapped(registry, cluster string)
	// PushToMapped is the time from a notification's timestamp to its mapping.
	PushToMapped(registry, cluster string, d time.Duration)
	Failed(registry, cluster, reason string)
	// TagDeleted counts an image stream tag deleted because its registry tag was.
	TagDeleted(registry, cluster string)
	// Derived counts one roll-up tag moved, deleted or left out (DerivedResult) in cluster.
	Derived(registry, cluster, result string)
	Retried(stage, reason string)
	// FailedEvents is the length of the failed list.
	FailedEvents(n int)
	MetadataEmpty(registry string)
	ChildFailed(registry string)
	QueueCapacity(n int)
	// ResyncRun reports one reconciliation run; err is its error, nil on success.
	ResyncRun(d time.Duration, err error)
	ResyncDrift(registry, kind string)
	ResyncFixed(registry string)
	// ResyncDeletesRefused counts a stream whose removals one pass refused (deleteTagsMaxShare).
	ResyncDeletesRefused(registry string)
}
