package bridge

import (
	"regexp"
	"strings"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// streamNameRE is the API server's rule for image stream names.
var streamNameRE = regexp.MustCompile(`^[a-z0-9]+(?:[._-][a-z0-9]+)*$`)

// namespaceRE is a Kubernetes namespace (a DNS label).
var namespaceRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Route is where a repository's tags go.
type Route struct{ Namespace, Stream string }

// router maps one registry's repositories to namespaces and image streams.
type router struct {
	mapping config.Mapping
	allowed []string
}

// route applies the mapping rules, then the allow-list and the name rules.
// The reason is empty on success.
func (r router) route(repository string) (Route, SkipReason) {
	repo := repository
	if p := strings.Trim(r.mapping.StripPrefix, "/"); p != "" {
		if !strings.HasPrefix(repo, p+"/") {
			return Route{}, SkipUnmappedRepository
		}
		repo = strings.TrimPrefix(repo, p+"/")
	}
	parts := strings.Split(repo, "/")
	var rt Route
	rest := parts
	if r.mapping.Namespace != "" {
		rt.Namespace = r.mapping.Namespace
	} else {
		if len(parts) < 2 {
			return Route{}, SkipUnmappedRepository
		}
		rt.Namespace, rest = parts[0], parts[1:]
	}
	switch {
	case len(rest) == 1:
		rt.Stream = rest[0]
	case r.mapping.Join != "":
		rt.Stream = strings.Join(rest, r.mapping.Join)
	default:
		return Route{}, SkipUnmappedRepository
	}
	if !namespaceRE.MatchString(rt.Namespace) {
		return Route{}, SkipUnmappedRepository
	}
	if !r.namespaceAllowed(rt.Namespace) {
		return Route{}, SkipNamespaceNotAllowed
	}
	if len(rt.Stream) > 253 || !streamNameRE.MatchString(rt.Stream) {
		return Route{}, SkipInvalidStreamName
	}
	return rt, ""
}

func (r router) namespaceAllowed(ns string) bool { return config.AllowedBy(r.allowed, ns) }
