// Package registry fetches manifests and config blobs by digest from one
// configured registry with go-containerregistry.
//
// Every request goes to the configured URL: nothing in a notification (its
// target URL, its request host) ever chooses where the bridge connects.
// Fetched bytes are verified against their digest, capped in size, and kept
// in a bounded content-addressed cache; concurrent fetches of one digest share
// one round trip.
//
// A Client is the bridge's Fetcher. It speaks the bridge's terms: it returns
// bridge.Content, its errors wrap the bridge's sentinels (bridge.ErrTooLarge,
// bridge.ErrDigestMismatch, ...) and carry the registry's HTTP status
// (bridge.StatusCode), so the bridge classifies them without importing this
// package. Names are checked with package event's grammar before any request.
package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/singleflight"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// imageOverhead is room for what an Image holds besides the manifest and the
// config: names, annotations, layer list, signatures (generous).
const imageOverhead = 64 << 10

// ImageBytes estimates the stored size of an Image built from a manifest and
// a config of these sizes: the manifest once (dockerImageManifest), the
// config twice (dockerImageConfig and the metadata decoded from it), and the
// rest of the object.
func ImageBytes(manifest int, config int64) int64 {
	return int64(manifest) + 2*max(config, 0) + imageOverhead
}

// Options tune a Client. Zero values take the defaults.
type Options struct {
	// ManifestLimit caps a manifest. Default 4 MiB.
	ManifestLimit int64
	// BlobLimit caps a config blob. Default 8 MiB.
	BlobLimit int64
	// CacheBytes bounds the content cache; negative disables it. Default 16 MiB.
	CacheBytes int64
	// Conns is the expected concurrency, sizing the idle connection pool. Default 16.
	Conns int
	// Observe, when set, is called with the duration of each fetch stage ("manifest" or "config").
	Observe func(stage string, d time.Duration, err error)
	// CacheResult, when set, is called with "hit" or "miss" for each lookup.
	CacheResult func(result string)
	// ListLimit caps one page of a catalog or tag listing. Default 4 MiB.
	ListLimit int64
	// MaxRepositories caps the catalog. Default 100,000.
	MaxRepositories int
	// MaxTags caps the tags of one repository. Default 10,000.
	MaxTags int
	// Log receives what the client says once (a product API refusing a
	// bulk listing). Default: slog.Default().
	Log *slog.Logger
}

// Config is where a registry is and how to reach it.
type Config struct {
	// URL is the registry's base URL (scheme and host); every request goes there.
	URL string
	// CAFile verifies the registry's TLS certificate. Default: system roots.
	CAFile string
	// InsecureSkipTLSVerify disables TLS verification. Default false.
	InsecureSkipTLSVerify bool
	// RedirectHosts may receive redirected blob downloads. Default: none.
	RedirectHosts []string
	// TokenHosts may receive the credentials as token endpoints. Default: the registry's own host only.
	TokenHosts []string
	// Username with Password or PasswordFile authenticates pulls. Default: anonymous.
	Username, Password string
	// PasswordFile is re-read when it changes, so a rotated Secret applies without a restart.
	PasswordFile string
	// DockerConfigFile is a docker config.json with credentials for the registry host.
	DockerConfigFile string
	// Repositories, when set, is listed instead of the catalog API.
	Repositories []string
	// FetchTimeout bounds one fetch, one tag lookup and one listing page. Default 10s.
	FetchTimeout time.Duration
	// Sender is the registry's product: it decides which API TagDigests
	// asks. Default (zero) distribution, which has none.
	Sender event.Sender
}

// Client fetches from one registry.
type Client struct {
	reg name.Registry
	// pullerOpts build the Pullers (newPullers).
	pullerOpts []remote.Option
	// mu guards puller, unpaged and listed.
	mu     sync.Mutex
	puller *remote.Puller
	// unpaged lists without a page size (n), for a registry that refuses ours.
	unpaged *remote.Puller
	// listed counts the tag listings of the current Pullers (rotate).
	listed   int
	cache    *cache
	flight   singleflight.Group
	opts     Options
	repoList []string
	// timeout bounds each Fetch, Resolve and listing page.
	timeout time.Duration
	guard   *guard
	// kind, auth, log and bulk serve TagDigests (bulk.go).
	kind event.Sender
	auth authn.Authenticator
	log  *slog.Logger
	bulk bulkState
}

var _ bridge.Fetcher = (*Client)(nil)

// New builds a Client for the registry r.
func New(r Config, opts Options) (*Client, error) {
	if opts.ManifestLimit == 0 {
		opts.ManifestLimit = 4 << 20
	}
	if opts.BlobLimit == 0 {
		opts.BlobLimit = 8 << 20
	}
	if opts.CacheBytes == 0 {
		opts.CacheBytes = 16 << 20
	}
	if opts.Conns == 0 {
		opts.Conns = 16
	}
	if opts.ListLimit == 0 {
		opts.ListLimit = 4 << 20
	}
	if opts.MaxRepositories == 0 {
		opts.MaxRepositories = 100_000
	}
	if opts.MaxTags == 0 {
		opts.MaxTags = 10_000
	}
	u, err := url.Parse(r.URL)
	if err != nil {
		return nil, fmt.Errorf("parse registry url: %w", err)
	}
	var nameOpts []name.Option
	if u.Scheme == "http" {
		nameOpts = append(nameOpts, name.Insecure)
	}
	reg, err := name.NewRegistry(u.Host, nameOpts...)
	if err != nil {
		return nil, fmt.Errorf("parse registry host: %w", err)
	}
	base, err := baseTransport(r.CAFile, r.InsecureSkipTLSVerify, opts.Conns)
	if err != nil {
		return nil, err
	}
	auth, err := authenticator(r, u.Host)
	if err != nil {
		return nil, err
	}
	g := &guard{
		next: base, scheme: u.Scheme, host: reg.RegistryStr(), // the host go-containerregistry puts in URLs
		redirectHosts: r.RedirectHosts, tokenHosts: r.TokenHosts,
		manifestLimit: opts.ManifestLimit, blobLimit: opts.BlobLimit, listLimit: opts.ListLimit,
	}
	pullerOpts := []remote.Option{
		remote.WithTransport(g),
		remote.WithAuth(auth),
		remote.WithUserAgent("imagestream-bridge"),
		remote.WithRetryBackoff(remote.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Jitter: 0.2, Steps: 2}),
	}
	timeout := r.FetchTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	c := &Client{reg: reg, pullerOpts: pullerOpts, opts: opts, repoList: r.Repositories, timeout: timeout, guard: g,
		kind: r.Sender, auth: auth, log: opts.Log}
	if c.puller, c.unpaged, err = newPullers(pullerOpts); err != nil {
		return nil, err
	}
	if opts.CacheBytes > 0 {
		c.cache = newCache(opts.CacheBytes)
	}
	return c, nil
}

// newPullers builds the Puller of every request and the one that lists without a page size.
func newPullers(opts []remote.Option) (puller, unpaged *remote.Puller, err error) {
	// distribution rejects catalog pages larger than its catalog.maxentries (default 100)
	puller, err = remote.NewPuller(append(opts[:len(opts):len(opts)], remote.WithPageSize(100))...)
	if err != nil {
		return nil, nil, fmt.Errorf("create puller: %w", err)
	}
	// a registry whose maxentries is below 100 refuses n=100: then ask without n
	// and follow its own Link pages
	unpaged, err = remote.NewPuller(append(opts[:len(opts):len(opts)], remote.WithPageSize(0))...)
	if err != nil {
		return nil, nil, fmt.Errorf("create puller: %w", err)
	}
	return puller, unpaged, nil
}

// rotateAfter is how many repositories' tags the Pullers list before they
// are replaced: a Puller keeps an authenticated reader per repository for its
// whole life, so a pass over a catalog of 50,000 would otherwise hold 50,000.
// A new Puller authenticates again (a token exchange with Bearer auth; the
// ping is kept, see pings).
const rotateAfter = 1000

// pullers returns the current Pullers; listing counts a tag listing towards rotateAfter.
func (c *Client) pullers(listing bool) (puller, unpaged *remote.Puller) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if listing {
		c.listed++
		if c.listed > rotateAfter {
			if p, u, err := newPullers(c.pullerOpts); err == nil { // the options built them once already
				c.puller, c.unpaged, c.listed = p, u, 1
			}
		}
	}
	return c.puller, c.unpaged
}

// Fetch returns the manifest of repository@dgst and, for an image manifest,
// its config blob. Both are verified against their digests. The whole fetch
// ends at the registry's fetch deadline.
func (c *Client) Fetch(ctx context.Context, repository, dgst string, isImage func(mediaType string) bool) (*bridge.Content, error) {
	var content *bridge.Content
	err := c.bounded(ctx, func(ctx context.Context) error {
		mediaType, manifest, err := c.manifest(ctx, repository, dgst)
		if err != nil {
			return err
		}
		content = &bridge.Content{MediaType: mediaType, Manifest: manifest}
		if !isImage(mediaType) {
			return nil
		}
		var m struct {
			Config struct {
				Digest string `json:"digest"`
				Size   int64  `json:"size"`
			} `json:"config"`
		}
		if err := json.Unmarshal(manifest, &m); err != nil {
			return nil // the mapping builder reports the invalid manifest
		}
		if need := ImageBytes(len(manifest), m.Config.Size); need > bridge.MaxImageBytes {
			return fmt.Errorf("%w: an Image of a %d-byte manifest and a %d-byte config takes about %d bytes, more than the API server stores (%d)",
				bridge.ErrTooLarge, len(manifest), m.Config.Size, need, bridge.MaxImageBytes)
		}
		content.Config, err = c.blob(ctx, repository, m.Config.Digest)
		return err
	})
	if err != nil {
		return nil, err
	}
	return content, nil
}

// bounded runs f under the fetch deadline. When the deadline (not the
// caller's context) ends f, the error wraps context.DeadlineExceeded whatever
// the library made of it, so that the bridge retries it as a timeout.
func (c *Client) bounded(ctx context.Context, f func(ctx context.Context) error) error {
	tctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	err := f(tctx)
	if err == nil || ctx.Err() != nil || !errors.Is(tctx.Err(), context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("fetch deadline %s: %w", c.timeout, err)
	}
	return fmt.Errorf("fetch deadline %s: %w (%v)", c.timeout, context.DeadlineExceeded, err)
}

// libraryError gives errors go-containerregistry only describes in text their
// sentinel, and a registry's HTTP answer its status (answerError). Every
// error of the library passes here before it leaves the package.
func libraryError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not match requested digest"), strings.Contains(msg, "error verifying"):
		// go-containerregistry verifies digest references itself, with an untyped error.
		return fmt.Errorf("%w: %v", bridge.ErrDigestMismatch, err)
	case strings.Contains(msg, "invalid realm in www-authenticate"):
		// It refuses private IP literals and weaker schemes as token realms, untyped.
		return fmt.Errorf("%w: %v", bridge.ErrTokenHostRefused, err)
	}
	if code := statusCode(err); code != 0 {
		return &answerError{err: err, code: code}
	}
	return err
}

// answerError is a registry's answer with an HTTP status that is not a
// success: StatusCode gives it to the bridge (bridge.StatusCode), Unwrap
// keeps go-containerregistry's *transport.Error with its error codes.
type answerError struct {
	err  error
	code int
}

func (e *answerError) Error() string   { return e.err.Error() }
func (e *answerError) Unwrap() error   { return e.err }
func (e *answerError) StatusCode() int { return e.code }

// cacheKey names content by repository and digest: a digest cached from one
// repository says nothing about whether another repository holds it.
func cacheKey(repository, dgst string) string { return repository + "@" + dgst }

func (c *Client) manifest(ctx context.Context, repository, dgst string) (string, []byte, error) {
	ref, err := c.digestRef(repository, dgst)
	if err != nil {
		return "", nil, err
	}
	key := cacheKey(repository, dgst)
	if e, ok := c.cache.get(key); ok {
		c.cacheResult("hit")
		return e.mediaType, e.data, nil
	}
	c.cacheResult("miss")
	v, err, _ := c.flight.Do("m"+key, func() (any, error) {
		start := time.Now()
		desc, err := c.current().Get(ctx, ref)
		err = libraryError(err)
		if err == nil && desc.Digest.String() != dgst {
			err = fmt.Errorf("%w: manifest %s hashed to %s", bridge.ErrDigestMismatch, dgst, desc.Digest)
		}
		c.observe("manifest", start, err)
		if err != nil {
			return nil, fmt.Errorf("fetch manifest %s@%s: %w", repository, dgst, err)
		}
		e := cacheEntry{mediaType: string(desc.MediaType), data: desc.Manifest}
		c.cache.put(key, e.mediaType, e.data)
		return e, nil
	})
	if err != nil {
		return "", nil, err
	}
	e := v.(cacheEntry)
	return e.mediaType, e.data, nil
}

func (c *Client) blob(ctx context.Context, repository, dgst string) ([]byte, error) {
	ref, err := c.digestRef(repository, dgst)
	if err != nil {
		return nil, err
	}
	key := cacheKey(repository, dgst)
	if e, ok := c.cache.get(key); ok {
		c.cacheResult("hit")
		return e.data, nil
	}
	c.cacheResult("miss")
	v, err, _ := c.flight.Do("b"+key, func() (any, error) {
		start := time.Now()
		data, err := c.readBlob(ctx, ref)
		c.observe("config", start, err)
		if err != nil {
			return nil, fmt.Errorf("fetch config %s@%s: %w", repository, dgst, err)
		}
		c.cache.put(key, "", data)
		return data, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]byte), nil
}

func (c *Client) readBlob(ctx context.Context, ref name.Digest) ([]byte, error) {
	layer, err := c.current().Layer(ctx, ref)
	if err != nil {
		return nil, libraryError(err)
	}
	rc, err := layer.Compressed()
	if err != nil {
		return nil, libraryError(err)
	}
	defer rc.Close()
	// The reader verifies the digest at EOF and the transport caps the size.
	data, err := io.ReadAll(rc)
	if err != nil {
		return nil, libraryError(err)
	}
	return data, nil
}

// Resolve returns the digest a tag points at now.
func (c *Client) Resolve(ctx context.Context, repository, tag string) (string, error) {
	if !event.ValidRepository(repository) || !event.ValidTag(tag) {
		return "", fmt.Errorf("%w: %s:%s", bridge.ErrInvalidName, repository, tag)
	}
	ref, err := name.NewTag(c.reg.Name()+"/"+repository+":"+tag, name.WeakValidation)
	if err != nil {
		return "", fmt.Errorf("%w: %v", bridge.ErrInvalidName, err)
	}
	var dgst string
	err = c.bounded(ctx, func(ctx context.Context) error {
		desc, err := c.current().Head(ctx, ref)
		if err != nil {
			return libraryError(err)
		}
		dgst = desc.Digest.String()
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("resolve %s:%s: %w", repository, tag, err)
	}
	return dgst, nil
}

// current is the Puller of every request but listings.
func (c *Client) current() *remote.Puller {
	p, _ := c.pullers(false)
	return p
}

func (c *Client) digestRef(repository, dgst string) (name.Digest, error) {
	if !event.ValidRepository(repository) {
		return name.Digest{}, fmt.Errorf("%w: repository %q", bridge.ErrInvalidName, repository)
	}
	if _, err := event.ParseDigest(dgst); err != nil {
		return name.Digest{}, fmt.Errorf("%w: %v", bridge.ErrInvalidName, err)
	}
	ref, err := name.NewDigest(c.reg.Name()+"/"+repository+"@"+dgst, name.WeakValidation)
	if err != nil {
		return name.Digest{}, fmt.Errorf("%w: %v", bridge.ErrInvalidName, err)
	}
	return ref, nil
}

func (c *Client) observe(stage string, start time.Time, err error) {
	if c.opts.Observe != nil {
		c.opts.Observe(stage, time.Since(start), err)
	}
}

func (c *Client) cacheResult(r string) {
	if c.opts.CacheResult != nil && c.cache != nil {
		c.opts.CacheResult(r)
	}
}

// statusCode returns the HTTP status of a go-containerregistry error, or 0.
func statusCode(err error) int {
	var te *transport.Error
	if errors.As(err, &te) {
		return te.StatusCode
	}
	return 0
}
