package bridge

import (
	"context"
	"errors"
)

// Fetcher reads one configured registry (package registry implements it).
// Its errors say what went wrong in the terms of this file, so that classify
// alone decides retry versus permanent: the sentinels below, wrapped with %w;
// an error carrying the registry's HTTP answer (StatusCode); an error wrapping
// context.DeadlineExceeded for a fetch that outlived its deadline; anything
// else is a network failure.
type Fetcher interface {
	// Fetch returns a manifest and, when isImage says it is an image manifest, its config.
	Fetch(ctx context.Context, repository, digest string, isImage func(mediaType string) bool) (*Content, error)
	// Resolve returns the digest a tag points at now.
	Resolve(ctx context.Context, repository, tag string) (string, error)
	// TagGone reports whether the registry itself says the tag does not exist:
	// true only on the registry's own verdict (an error code in the body of its
	// 404); a 404 without one is ErrNoVerdict and any other failure an error.
	// It is the only answer a tag deletion acts on.
	TagGone(ctx context.Context, repository, tag string) (bool, error)
	// RepositoryPages lists the registry's repositories a page at a time:
	// visit gets each page in turn, and the next page is asked for only once
	// visit returns; an error from visit ends the listing and is returned.
	RepositoryPages(ctx context.Context, visit func(page []string) error) error
	// Tags lists the tags of a repository; one the registry says it does not know has none.
	Tags(ctx context.Context, repository string) ([]string, error)
	// TagDigests lists the tags of a repository with the digest each points
	// at, in the requests of one listing, where the registry's kind offers
	// that; ok is false when it does not (then Tags and a Resolve per tag).
	TagDigests(ctx context.Context, repository string) (digests map[string]string, ok bool, err error)
}

// Content is a manifest and, for image manifests, its config blob, as a
// Fetcher read and verified them.
type Content struct {
	MediaType string
	Manifest  []byte
	Config    []byte
}

// Errors a Fetcher's errors wrap; classify takes them as permanent, except
// ErrNoVerdict (retried).
var (
	// ErrTooLarge: content over a fetch cap, a listing over its bounds, or an
	// Image larger than MaxImageBytes.
	ErrTooLarge = errors.New("content too large")
	// ErrDigestMismatch: content that does not hash to the digest it was asked for.
	ErrDigestMismatch = errors.New("content does not match its digest")
	// ErrRedirectRefused: a redirect to a host not in redirectHosts; it was not followed.
	ErrRedirectRefused = errors.New("redirect refused")
	// ErrInvalidName: a repository, tag or digest outside its grammar (event.ValidRepository,
	// event.ValidTag, event.ParseDigest); nothing was asked of the registry.
	ErrInvalidName = errors.New("invalid repository, tag or digest")
	// ErrTokenHostRefused: the registry's Bearer challenge named a token endpoint
	// (realm) on a host that is neither the registry's own nor in tokenHosts, over
	// a weaker scheme, or one go-containerregistry refuses (a private IP literal).
	// No credentials were sent to it.
	ErrTokenHostRefused = errors.New("token endpoint refused")
	// ErrNoVerdict: the registry answered 404 without saying what it does not
	// know (no error body, or no code the registry uses for "unknown"). A proxy,
	// a load balancer or a registry's front end can answer such a 404 for a tag
	// that exists, so it is never taken as "the tag is gone"; the bridge retries it.
	ErrNoVerdict = errors.New("404 without the registry's verdict")
)

// MaxImageBytes is the largest Image the API server can store: etcd refuses
// a request over its --max-request-bytes, 1.5 MiB by default, and an Image is
// stored as one object (docs/security.md says how the bound is derived). A
// Fetcher refuses, with ErrTooLarge, an image whose Image would exceed it;
// apply measures the built mapping against it again.
const MaxImageBytes = 3 << 19

// StatusCode returns the HTTP status of the registry's answer that err
// carries (an error in its chain with a method StatusCode() int), or 0 when
// err is not the registry's answer (no answer at all, or nil).
func StatusCode(err error) int {
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		return sc.StatusCode()
	}
	return 0
}
