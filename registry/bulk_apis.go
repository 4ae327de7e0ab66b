package registry

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// bulkAPIs are the sender kinds whose registry lists tags with digests.
// Distribution has no such API: its tags/list gives names only.
//
// GitLab (sender kind distribution) has none usable either: the Rails API's
// GET /api/v4/projects/:id/registry/repositories/:repository_id/tags lists
// name, path and location only, and the digest comes from
// .../tags/:tag_name, one request per tag (docs.gitlab.com/api/container_registry;
// glab's `tag list --details` says "Makes one API call per tag"). It also
// lives on the GitLab host, not the registry's, and wants a GitLab token.
// (The registry's own /gitlab/v1/repositories/<path>/tags/list/ carries
// digests but only with the metadata database; not used.)
var bulkAPIs = map[event.Sender]*bulkAPI{
	event.Harbor:      harborAPI,
	event.Quay:        quayAPI,
	event.Artifactory: artifactoryAPI,
	event.ACR:         acrAPI,
}

// harborAPI: GET /api/v2.0/projects/{project}/repositories/{repository}/artifacts
// (goharbor/harbor src/server/v2.0/handler/artifact.go ListArtifacts and the
// swagger in api/v2.0/swagger.yaml): a JSON array of artifacts, each with its
// manifest digest and, with with_tag=true, its tags[].name; page and
// page_size (at most 100), X-Total-Count and a Link header (rel="next", a
// path on the same host) for the next page. q=tags=* keeps tagged artifacts
// only. The repository name is a path parameter that must be URL-encoded
// twice when it holds a slash (the handler unescapes it once, Prepare ->
// unescapePathParams). The project is the first segment of the path. The
// API authenticates the pull user or robot with HTTP Basic (its security
// middleware's basic auth generator); the registry's bearer tokens are for /v2 only.
var harborAPI = &bulkAPI{
	name:        "Harbor artifacts API",
	credentials: credentialsBasic,
	first: func(repository string) (bulkRequest, bool) {
		project, repo, ok := strings.Cut(repository, "/")
		if !ok {
			return bulkRequest{}, false
		}
		q := url.Values{}
		q.Set("page", "1")
		q.Set("page_size", strconv.Itoa(bulkPageSize))
		q.Set("with_tag", "true")
		for _, off := range []string{"with_label", "with_scan_overview", "with_signature", "with_immutable_status", "with_accessory"} {
			q.Set(off, "false")
		}
		q.Set("q", "tags=*")
		return bulkRequest{method: http.MethodGet, pathQuery: "/api/v2.0/projects/" + url.PathEscape(project) +
			"/repositories/" + url.PathEscape(url.PathEscape(repo)) + "/artifacts?" + q.Encode()}, true
	},
	decode: func(c *Client, _ string, _ bulkRequest, resp *http.Response, body []byte) (bulkPage, error) {
		var arts []struct {
			Digest string `json:"digest"`
			Tags   []struct {
				Name string `json:"name"`
			} `json:"tags"`
		}
		if err := json.Unmarshal(body, &arts); err != nil {
			return bulkPage{}, err
		}
		var p bulkPage
		for _, a := range arts {
			if len(a.Tags) == 0 {
				p.entries = append(p.entries, tagDigest{digest: a.Digest})
			}
			for _, t := range a.Tags {
				p.entries = append(p.entries, tagDigest{tag: t.Name, digest: a.Digest})
			}
		}
		var err error
		p.next, err = c.nextLink(resp.Header)
		return p, err
	},
}

// quayAPI: GET /api/v1/repository/{namespace/name}/tag/?onlyActiveTags=true&limit=100&page=N
// (quay/quay endpoints/api/tag.py ListRepositoryTags): {"tags": [{"name",
// "manifest_digest", ...}], "page": N, "has_additional": bool}; limit is
// capped at 100. The API authenticates OAuth bearer tokens only
// (endpoints/api/__init__.py: process_oauth), which a robot account's
// registry password is not: the bridge sends no credentials, so a public
// repository is listed anonymously (require_repo_read allows public
// repositories) and a private one answers 401 or 403, after which resync
// falls back to HEADs.
var quayAPI = &bulkAPI{
	name:        "Quay tags API",
	credentials: credentialsNone,
	first: func(repository string) (bulkRequest, bool) {
		return bulkRequest{method: http.MethodGet, pathQuery: quayPage(repository, 1)}, true
	},
	decode: func(_ *Client, repository string, _ bulkRequest, _ *http.Response, body []byte) (bulkPage, error) {
		var page struct {
			Tags []struct {
				Name           string `json:"name"`
				ManifestDigest string `json:"manifest_digest"`
			} `json:"tags"`
			Page          int  `json:"page"`
			HasAdditional bool `json:"has_additional"`
		}
		if err := json.Unmarshal(body, &page); err != nil {
			return bulkPage{}, err
		}
		var p bulkPage
		for _, t := range page.Tags {
			p.entries = append(p.entries, tagDigest{tag: t.Name, digest: t.ManifestDigest})
		}
		if page.HasAdditional {
			if page.Page < 1 {
				return bulkPage{}, fmt.Errorf("has_additional on page %d", page.Page)
			}
			p.next = &bulkRequest{method: http.MethodGet, pathQuery: quayPage(repository, page.Page+1)}
		}
		return p, nil
	},
}

func quayPage(repository string, page int) string {
	return "/api/v1/repository/" + escapeSegments(repository) + "/tag/?onlyActiveTags=true&limit=" +
		strconv.Itoa(bulkPageSize) + "&page=" + strconv.Itoa(page)
}

// acrAPI: GET /acr/v1/{name}/_tags?n=100 (Azure/azure-rest-api-specs
// specification/containerregistry/data-plane/Azure.ContainerRegistry/stable/2021-07-01,
// operation "Tag_GetList", example GetTagList.json): {"registry", "imageName",
// "tags": [{"name", "digest", "createdTime", "lastUpdateTime",
// "changeableAttributes"}]}, paged with last and n and a Link header
// (rel="next") to the next page. It authenticates with the registry's token
// service, scope repository:{name}:metadata_read (the SDKs' scope for this
// operation): the registry's challenge is asked once per Client, then one
// token request per repository, through the same token-host rules as pulls.
var acrAPI = &bulkAPI{
	name:        "ACR tags API",
	credentials: credentialsRegistryToken,
	first: func(repository string) (bulkRequest, bool) {
		return bulkRequest{method: http.MethodGet, pathQuery: "/acr/v1/" + escapeSegments(repository) + "/_tags?n=" + strconv.Itoa(bulkPageSize)}, true
	},
	decode: func(c *Client, _ string, _ bulkRequest, resp *http.Response, body []byte) (bulkPage, error) {
		var list struct {
			Tags []struct {
				Name   string `json:"name"`
				Digest string `json:"digest"`
			} `json:"tags"`
		}
		if err := json.Unmarshal(body, &list); err != nil {
			return bulkPage{}, err
		}
		var p bulkPage
		for _, t := range list.Tags {
			p.entries = append(p.entries, tagDigest{tag: t.Name, digest: t.Digest})
		}
		var err error
		p.next, err = c.nextLink(resp.Header)
		return p, err
	},
}

// artifactoryAPI: POST /artifactory/api/search/aql (JFrog REST API "Artifactory
// Query Language"): the Docker API's tags/list gives names only, and the File
// List API (/api/storage/{repo}/{path}?list&deep=1) needs Artifactory Pro,
// documents sha1 checksums only and lists every layer file of every tag. AQL
// finds the manifest files of an image, one per tag folder
// ({image}/{tag}/manifest.json, or list.manifest.json for an index), with
// their sha256 — the manifest's digest, as the bytes pushed are what is
// stored (unverified against a live Artifactory) — in pages of offset and
// limit, answered as {"results": [{"repo", "path", "name", "sha256"}],
// "range": {...}}. It assumes the repository-path access method, where the
// first segment of the repository is the Docker repository's key; an answer
// with no tag is not trusted (subdomain and port methods put the key in the
// host: the query then finds nothing and resync falls back to HEADs). AQL
// wants an authenticated user (HTTP Basic); anonymous gets 401 or 403.
var artifactoryAPI = &bulkAPI{
	name:         "Artifactory AQL",
	credentials:  credentialsBasic,
	emptyUnknown: true,
	first: func(repository string) (bulkRequest, bool) {
		if !strings.Contains(repository, "/") {
			return bulkRequest{}, false
		}
		return artifactoryPage(repository, 0), true
	},
	decode: func(_ *Client, repository string, req bulkRequest, _ *http.Response, body []byte) (bulkPage, error) {
		var res struct {
			Results []struct {
				Path   string `json:"path"`
				Name   string `json:"name"`
				SHA256 string `json:"sha256"`
			} `json:"results"`
		}
		if err := json.Unmarshal(body, &res); err != nil {
			return bulkPage{}, err
		}
		_, image, _ := strings.Cut(repository, "/")
		var p bulkPage
		for _, r := range res.Results {
			tag, ok := strings.CutPrefix(r.Path, image+"/")
			if !ok || strings.Contains(tag, "/") || (r.Name != "manifest.json" && r.Name != "list.manifest.json") {
				tag = "" // a nested image's manifest, or a file the query should not have found
			}
			p.entries = append(p.entries, tagDigest{tag: tag, digest: "sha256:" + r.SHA256})
		}
		if len(res.Results) >= bulkPageSize {
			next := artifactoryPage(repository, req.offset+bulkPageSize)
			p.next = &next
		}
		return p, nil
	},
}

// artifactoryPage is the AQL query for one page of an image's manifest files.
func artifactoryPage(repository string, offset int) bulkRequest {
	key, image, _ := strings.Cut(repository, "/")
	quote := func(s string) string { b, _ := json.Marshal(s); return string(b) }
	query := fmt.Sprintf(`items.find({"repo":%s,"path":{"$match":%s},"name":{"$in":["manifest.json","list.manifest.json"]}})`+
		`.include("repo","path","name","sha256").sort({"$asc":["path","name"]}).offset(%d).limit(%d)`,
		quote(key), quote(image+"/*"), offset, bulkPageSize)
	return bulkRequest{method: http.MethodPost, pathQuery: "/artifactory/api/search/aql",
		body: []byte(query), contentType: "text/plain", offset: offset}
}

// escapeSegments path-escapes each segment of a repository name.
func escapeSegments(repository string) string {
	segs := strings.Split(repository, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// challengeCache holds the registry's answer to GET /v2/ (its auth
// challenge), asked once, for the APIs that take the registry's tokens.
type challengeCache struct {
	mu sync.Mutex
	ch *transport.Challenge
}

// transport returns a RoundTripper carrying a token for scopes, asked of
// the challenge's token endpoint through the guard (tokenHosts apply).
func (cc *challengeCache) transport(ctx context.Context, c *Client, scopes []string) (http.RoundTripper, error) {
	cc.mu.Lock()
	ch := cc.ch
	cc.mu.Unlock()
	if ch == nil {
		var err error
		ch, err = transport.Ping(ctx, c.reg, c.guard)
		if err != nil {
			return nil, libraryError(err)
		}
		cc.mu.Lock()
		cc.ch = ch
		cc.mu.Unlock()
	}
	if !strings.EqualFold(ch.Scheme, "bearer") {
		rt, err := transport.FromToken(c.reg, c.auth, c.guard, ch, nil)
		return rt, libraryError(err)
	}
	tok, err := transport.Exchange(ctx, c.reg, c.auth, c.guard, scopes, ch)
	if err != nil {
		return nil, libraryError(err)
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken // ACR answers access_token
	}
	rt, err := transport.FromToken(c.reg, c.auth, c.guard, ch, tok)
	return rt, libraryError(err)
}
