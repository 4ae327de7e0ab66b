package bridge

// The closed sets of outcomes. Each type's strings are the label values of the
// metrics that count them, and each set is declared once, as a list that
// package app hands to package metrics to pre-create the series: a new reason
// is added here and nowhere else.

// SkipReason is why a well-formed event ends without a mapping.
type SkipReason string

// Skip reasons.
const (
	SkipNotPush             SkipReason = "not_push"
	SkipNotManifest         SkipReason = "not_manifest"
	SkipUntagged            SkipReason = "untagged"
	SkipUnmappedRepository  SkipReason = "unmapped_repository"
	SkipNamespaceNotAllowed SkipReason = "namespace_not_allowed"
	SkipInvalidStreamName   SkipReason = "invalid_stream_name"
	SkipInvalidName         SkipReason = "invalid_name"
	// SkipStale: the tag moved on before a replayed, journaled or resync job ran, or was
	// gone when a job without a digest (Quay) resolved it.
	SkipStale SkipReason = "stale"
	// SkipArtifact: an OCI artifact with artifacts: skip.
	SkipArtifact SkipReason = "artifact"
	// SkipNotOwner: a tag deletion whose image stream tag's newest image came from
	// another repository (two repositories mapped to one stream): it is not removed.
	SkipNotOwner SkipReason = "not_owner"
	// SkipOverLimit: a tag beyond a sender's per-notification bound (Quay's
	// updated_tags beyond sender.MaxQuayTags): left to resync.
	SkipOverLimit SkipReason = "over_limit"
	// SkipFiltered: the registry's tags filter (include, exclude, semver) leaves the tag out.
	SkipFiltered SkipReason = "filtered"
	// SkipTagLimit: the tag would be a new tag of an image stream that has the
	// registry's maxTagsPerStream tags already.
	SkipTagLimit SkipReason = "tag_limit"
)

var skipReasons = []SkipReason{
	SkipNotPush, SkipNotManifest, SkipUntagged, SkipUnmappedRepository,
	SkipNamespaceNotAllowed, SkipInvalidStreamName, SkipInvalidName, SkipStale, SkipArtifact, SkipNotOwner, SkipOverLimit,
	SkipFiltered, SkipTagLimit,
}

// FailureReason is why an accepted event can never be applied (it goes to the failed list).
type FailureReason string

// Failure reasons.
const (
	FailForbidden            FailureReason = "forbidden"
	FailInvalid              FailureReason = "invalid"
	FailNamespaceNotFound    FailureReason = "namespace_not_found"
	FailStreamNotFound       FailureReason = "stream_not_found"
	FailQuota                FailureReason = "quota"
	FailManifestNotFound     FailureReason = "manifest_not_found"
	FailRegistryUnauthorized FailureReason = "registry_unauthorized"
	FailInvalidImage         FailureReason = "invalid_image"
	FailTooLarge             FailureReason = "too_large"
	FailDigestMismatch       FailureReason = "digest_mismatch"
	FailRedirectRefused      FailureReason = "redirect_refused"
	FailTokenHostRefused     FailureReason = "token_host_refused"
	FailRegistryError        FailureReason = "registry_error"
	FailAPIError             FailureReason = "api_error"
)

var failureReasons = []FailureReason{
	FailForbidden, FailInvalid, FailNamespaceNotFound, FailStreamNotFound, FailQuota,
	FailManifestNotFound, FailRegistryUnauthorized, FailInvalidImage, FailTooLarge,
	FailDigestMismatch, FailRedirectRefused, FailTokenHostRefused, FailRegistryError, FailAPIError,
}

// RetryReason is why a stage is tried again.
type RetryReason string

// Retry reasons.
const (
	RetryServerError RetryReason = "server_error"
	RetryConflict    RetryReason = "conflict"
	RetryThrottled   RetryReason = "throttled"
	RetryNetwork     RetryReason = "network"
	RetryTimeout     RetryReason = "timeout"
	// RetryStreamCreated: the mapping is posted again after creating its missing stream.
	RetryStreamCreated RetryReason = "stream_created"
	// RetryNoVerdict: a tag deletion found the tag missing without the
	// registry's own verdict (a bare 404): it deletes nothing and asks again.
	RetryNoVerdict RetryReason = "no_verdict"
)

var retryReasons = []RetryReason{
	RetryServerError, RetryConflict, RetryThrottled, RetryNetwork, RetryTimeout, RetryStreamCreated, RetryNoVerdict,
}

// DerivedResult is what became of one roll-up tag (derivedTags) after a release was mapped or deleted.
type DerivedResult string

// Derived results.
const (
	// DerivedMapped: the roll-up tag was moved to its line's highest release.
	DerivedMapped DerivedResult = "mapped"
	// DerivedDeleted: the roll-up tag's line has no release left (deleteTags); it was deleted.
	DerivedDeleted DerivedResult = "deleted"
	// DerivedTagLimit: the roll-up tag would be a new tag of an image stream at maxTagsPerStream.
	DerivedTagLimit DerivedResult = "tag_limit"
)

var derivedResults = []DerivedResult{DerivedMapped, DerivedDeleted, DerivedTagLimit}

// Stage is a step of applying an event.
type Stage string

// Stages.
const (
	StageFetch Stage = "fetch"
	StageAPI   Stage = "api"
)

var stages = []Stage{StageFetch, StageAPI}

// SkipReasons lists every SkipReason, as label values.
func SkipReasons() []string { return labels(skipReasons) }

// FailureReasons lists every FailureReason, as label values.
func FailureReasons() []string { return labels(failureReasons) }

// RetryReasons lists every RetryReason, as label values.
func RetryReasons() []string { return labels(retryReasons) }

// DerivedResults lists every DerivedResult, as label values.
func DerivedResults() []string { return labels(derivedResults) }

// Stages lists every Stage, as label values.
func Stages() []string { return labels(stages) }

func labels[T ~string](set []T) []string {
	out := make([]string, len(set))
	for i, v := range set {
		out[i] = string(v)
	}
	return out
}
