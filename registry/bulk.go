package registry

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// Bulk digests: Harbor, Quay, Artifactory and ACR each have an API of their
// own that lists a repository's tags with their manifest digests, a page of
// up to 100 at a time, where the distribution API needs a HEAD per tag.
// TagDigests speaks the sender kind's API (bulk_apis.go says what was read
// for each); it asks only the configured registry host, with the pull
// credentials in the form that API reads, and is bounded like the listings:
// every page is capped in bytes (Options.ListLimit) and ends at the fetch
// deadline, the entries are capped (Options.MaxTags), and a page that adds
// nothing yet links to another ends the listing with bridge.ErrTooLarge.

// bulkBackoff is how long a Client leaves a product API alone after it
// refused (404, 401, 403, a redirect, an answer not in its documented shape):
// resync meanwhile resolves each tag with a HEAD, and a permission granted
// later is picked up at the next try.
const bulkBackoff = 30 * time.Minute

// bulkPageSize is the page size asked of every product API (each one's maximum, or its common default).
const bulkPageSize = 100

// errUnsupported is a product API's answer that it cannot give the listing:
// TagDigests turns it into ok=false.
var errUnsupported = errors.New("product API cannot list tags with digests")

// errNothingThere is an errUnsupported about one repository (a 404, or an
// answer with no tag where that is not trusted): once the API has listed a
// repository, it says only that this repository is not there, so the API
// is not rested; before, it may as well say that the API is not there.
var errNothingThere = errors.New("nothing there")

// tagDigest is one entry of a product API's page; tag "" is an entry that
// names no tag (an untagged artifact), counted but not kept.
type tagDigest struct{ tag, digest string }

// bulkPage is one decoded page: its entries and, when another page
// follows, the request for it (on the registry host).
type bulkPage struct {
	entries []tagDigest
	next    *bulkRequest
}

// bulkRequest is one request to a product API, relative to the registry's base URL.
type bulkRequest struct {
	method    string
	pathQuery string
	body      []byte
	// contentType of body, when there is one.
	contentType string
	// offset is the first entry this page asks for, for APIs paged by offset.
	offset int
}

// bulkAPI is a sender kind's listing of tags with digests.
type bulkAPI struct {
	// name says which API, for errors and the log.
	name string
	// credentials says how the pull credentials reach the API.
	credentials credentialMode
	// first returns the first page's request, or ok=false when the
	// repository's name cannot be put to this API (its layout has no place for it).
	first func(repository string) (req bulkRequest, ok bool)
	// decode reads one page; req is the request that asked for it.
	decode func(c *Client, repository string, req bulkRequest, resp *http.Response, body []byte) (bulkPage, error)
	// emptyUnknown: an answer with no tag at all may mean the API looked in
	// the wrong place, so it is not taken as "no tags" (ok=false).
	emptyUnknown bool
}

// credentialMode is how an API reads the pull credentials.
type credentialMode int

const (
	// credentialsNone: the API reads none of them (it wants a kind of token the bridge does not hold).
	credentialsNone credentialMode = iota
	// credentialsBasic: HTTP Basic with the configured username and password.
	credentialsBasic
	// credentialsRegistryToken: the registry's token service, as for the distribution API, with the API's scope.
	credentialsRegistryToken
)

// bulkState remembers a product API's refusal (see bulkBackoff) and logs the first one.
type bulkState struct {
	mu     sync.Mutex
	until  time.Time
	logged bool
	// listed is set once the API has listed a repository (see errNothingThere).
	listed bool
	// challenge is the registry's answer to GET /v2/, asked once for credentialsRegistryToken.
	challenge challengeCache
}

// TagDigests lists the tags of repository with the digests they point at
// now, in as many requests as the sender kind's product API has pages.
// ok=false means this registry gives no such listing: its kind has none
// (distribution, GitLab), or its API refused or could not answer (a 404, a
// 401 or 403, a redirect, a body not in its documented shape), logged once
// and then left alone for a while; the caller resolves each tag with a HEAD.
// An error is a failure the caller would also meet on the distribution API
// (network, timeout, 5xx, 429, a refused token or redirect host, a listing
// over its bounds wrapping bridge.ErrTooLarge).
func (c *Client) TagDigests(ctx context.Context, repository string) (map[string]string, bool, error) {
	if !event.ValidRepository(repository) {
		return nil, false, fmt.Errorf("%w: repository %q", bridge.ErrInvalidName, repository)
	}
	api := bulkAPIs[c.kind]
	if api == nil || c.bulkResting() {
		return nil, false, nil
	}
	req, ok := api.first(repository)
	if !ok {
		return nil, false, nil
	}
	digests, err := c.bulkList(ctx, api, repository, req)
	if errors.Is(err, errUnsupported) {
		c.bulkRefused(api, repository, err)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("list tag digests of %s: %w", repository, err)
	}
	c.bulk.mu.Lock()
	c.bulk.listed = true
	c.bulk.mu.Unlock()
	return digests, true, nil
}

func (c *Client) bulkList(ctx context.Context, api *bulkAPI, repository string, req bulkRequest) (map[string]string, error) {
	rt, err := c.bulkTransport(ctx, api, repository)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Transport: rt, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	out := map[string]string{}
	entries := 0
	for {
		var page bulkPage
		err := c.bounded(ctx, func(ctx context.Context) (err error) {
			page, err = c.bulkPage(ctx, hc, api, repository, req)
			return err
		})
		if err != nil {
			return nil, err
		}
		entries += len(page.entries)
		if entries > c.opts.MaxTags {
			return nil, fmt.Errorf("%w: more than %d tags in %s (%s)", bridge.ErrTooLarge, c.opts.MaxTags, repository, api.name)
		}
		for _, e := range page.entries {
			if e.tag == "" {
				continue
			}
			if !event.ValidTag(e.tag) {
				return nil, fmt.Errorf("%w: %s names tag %q", errUnsupported, api.name, e.tag)
			}
			if _, err := event.ParseDigest(e.digest); err != nil {
				return nil, fmt.Errorf("%w: %s gives tag %s the digest %q", errUnsupported, api.name, e.tag, e.digest)
			}
			if d, dup := out[e.tag]; dup && d != e.digest {
				return nil, fmt.Errorf("%w: %s gives tag %s two digests", errUnsupported, api.name, e.tag)
			}
			out[e.tag] = e.digest
		}
		if page.next == nil {
			break
		}
		if len(page.entries) == 0 {
			return nil, fmt.Errorf("%w: an empty page links to another (%d tags of %s so far, %s)", bridge.ErrTooLarge, len(out), repository, api.name)
		}
		req = *page.next
	}
	if len(out) == 0 && api.emptyUnknown {
		return nil, fmt.Errorf("%w: %w: %s found no tag", errUnsupported, errNothingThere, api.name)
	}
	return out, nil
}

// bulkPage sends one request and decodes its answer.
func (c *Client) bulkPage(ctx context.Context, hc *http.Client, api *bulkAPI, repository string, br bulkRequest) (bulkPage, error) {
	u, err := url.Parse(c.guard.scheme + "://" + c.guard.host + br.pathQuery)
	if err != nil {
		return bulkPage{}, fmt.Errorf("build %s url: %w", api.name, err)
	}
	var body io.Reader
	if br.body != nil {
		body = bytes.NewReader(br.body)
	}
	req, err := http.NewRequestWithContext(ctx, br.method, u.String(), body)
	if err != nil {
		return bulkPage{}, fmt.Errorf("build %s request: %w", api.name, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "imagestream-bridge")
	if br.contentType != "" {
		req.Header.Set("Content-Type", br.contentType)
	}
	if api.credentials == credentialsBasic {
		if h := basicHeader(c.auth); h != "" {
			req.Header.Set("Authorization", h)
		}
	}
	resp, err := hc.Do(req)
	if err != nil {
		return bulkPage{}, err
	}
	defer resp.Body.Close()
	limit := c.opts.ListLimit
	if resp.ContentLength > limit {
		return bulkPage{}, fmt.Errorf("%w: %s answer is %d bytes, limit %d", bridge.ErrTooLarge, api.name, resp.ContentLength, limit)
	}
	data, err := io.ReadAll(&limitedBody{rc: resp.Body, left: limit, limit: limit})
	if err != nil {
		return bulkPage{}, fmt.Errorf("read %s answer: %w", api.name, err)
	}
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		return bulkPage{}, fmt.Errorf("%w: %w: %s answered %s", errUnsupported, errNothingThere, api.name, resp.Status)
	case resp.StatusCode >= 300 && resp.StatusCode < 400,
		resp.StatusCode == http.StatusUnauthorized, resp.StatusCode == http.StatusForbidden,
		resp.StatusCode == http.StatusMethodNotAllowed,
		resp.StatusCode == http.StatusNotImplemented, resp.StatusCode == http.StatusBadRequest:
		return bulkPage{}, fmt.Errorf("%w: %s answered %s", errUnsupported, api.name, resp.Status)
	default:
		return bulkPage{}, &answerError{err: fmt.Errorf("%s answered %s", api.name, resp.Status), code: resp.StatusCode}
	}
	page, err := api.decode(c, repository, br, resp, data)
	switch {
	case errors.Is(err, bridge.ErrRedirectRefused) || errors.Is(err, errUnsupported):
		return bulkPage{}, fmt.Errorf("decode %s answer: %w", api.name, err)
	case err != nil:
		return bulkPage{}, fmt.Errorf("%w: decode %s answer: %v", errUnsupported, api.name, err)
	}
	return page, nil
}

// bulkTransport is the guard (every request pinned to the registry host,
// token endpoints to tokenHosts) and, for an API that reads the registry's
// tokens, a token for the API's scope (one token request per repository).
func (c *Client) bulkTransport(ctx context.Context, api *bulkAPI, repository string) (http.RoundTripper, error) {
	if api.credentials != credentialsRegistryToken {
		return c.guard, nil
	}
	var rt http.RoundTripper
	err := c.bounded(ctx, func(ctx context.Context) (err error) {
		rt, err = c.bulk.challenge.transport(ctx, c, []string{"repository:" + repository + ":metadata_read"})
		return err
	})
	if code := bridge.StatusCode(err); code == http.StatusUnauthorized || code == http.StatusForbidden {
		// The token service refuses the API's scope to the pull account.
		return nil, fmt.Errorf("%w: token for %s: %v", errUnsupported, api.name, err)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate to %s: %w", api.name, err)
	}
	return rt, nil
}

// bulkResting reports whether a product API refused lately.
func (c *Client) bulkResting() bool {
	c.bulk.mu.Lock()
	defer c.bulk.mu.Unlock()
	return time.Now().Before(c.bulk.until)
}

// bulkRefused rests the product API and logs the first refusal; a
// repository that is not there, once the API has listed one, does neither.
func (c *Client) bulkRefused(api *bulkAPI, repository string, err error) {
	c.bulk.mu.Lock()
	if c.bulk.listed && errors.Is(err, errNothingThere) {
		c.bulk.mu.Unlock()
		return
	}
	c.bulk.until = time.Now().Add(bulkBackoff)
	first := !c.bulk.logged
	c.bulk.logged = true
	c.bulk.mu.Unlock()
	if first {
		c.log.Warn("the registry's own API does not list tags with digests: resync resolves each tag with a HEAD (logged once)",
			"registry", c.guard.host, "api", api.name, "repository", repository, "retry_after", bulkBackoff, "error", err)
	}
}

// basicHeader is the Authorization header of the configured username and
// password, or "" for anonymous access or credentials that are tokens.
func basicHeader(a authn.Authenticator) string {
	if a == nil {
		return ""
	}
	cfg, err := a.Authorization()
	if err != nil || cfg == nil {
		return ""
	}
	switch {
	case cfg.Username != "" && cfg.Password != "":
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(cfg.Username+":"+cfg.Password))
	case cfg.Auth != "":
		return "Basic " + cfg.Auth
	}
	return ""
}

// nextLink returns the GET of a Link header's rel="next" target (RFC 8288,
// as Harbor and ACR send it), or nil when there is none. A target on
// another host than the registry's is refused: nothing is sent there.
func (c *Client) nextLink(h http.Header) (*bulkRequest, error) {
	for _, v := range h.Values("Link") {
		for _, link := range strings.Split(v, ",") {
			target, params, ok := strings.Cut(strings.TrimSpace(link), ";")
			if !ok || !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			next := false
			for _, p := range strings.Split(params, ";") {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") && strings.Trim(v, `"`) == "next" {
					next = true
				}
			}
			if !next {
				continue
			}
			u, err := url.Parse(strings.Trim(target, "<>"))
			if err != nil {
				return nil, fmt.Errorf("parse next page link: %w", err)
			}
			if u.Host != "" && (u.Scheme != c.guard.scheme || canonicalHost(u.Scheme, u.Host) != canonicalHost(c.guard.scheme, c.guard.host)) {
				return nil, fmt.Errorf("%w: next page link to %s://%s, not the registry host", bridge.ErrRedirectRefused, u.Scheme, u.Host)
			}
			if !strings.HasPrefix(u.EscapedPath(), "/") {
				return nil, fmt.Errorf("%w: next page link %q is not an absolute path", errUnsupported, target)
			}
			pq := u.EscapedPath()
			if u.RawQuery != "" {
				pq += "?" + u.RawQuery
			}
			return &bulkRequest{method: http.MethodGet, pathQuery: pq}, nil
		}
	}
	return nil, nil
}
