package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// goneCodes are the error codes with which a registry itself says, in the
// body of a 404, that a manifest or a repository does not exist:
//   - MANIFEST_UNKNOWN and NAME_UNKNOWN: the distribution spec's codes, sent by
//     distribution, Quay, Artifactory, ACR, GitLab and go-containerregistry's registry;
//   - NOT_FOUND: Harbor's own code (src/lib/errors NotFoundCode), which its
//     /v2 manifest handler answers for an unknown tag or repository.
var goneCodes = map[transport.ErrorCode]bool{
	transport.ManifestUnknownErrorCode: true,
	transport.NameUnknownErrorCode:     true,
	"NOT_FOUND":                        true,
}

// IsGone reports whether err is a 404 whose error body carries the
// registry's own verdict that the manifest or repository does not exist.
func IsGone(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusNotFound {
		return false
	}
	for _, d := range te.Errors {
		if goneCodes[d.Code] {
			return true
		}
	}
	return false
}

// TagGone reports whether the registry says repository:tag does not exist.
// It asks with HEAD and, when that answers 404 (a HEAD has no body to say
// why), with GET, whose error body carries the verdict. It returns true only
// on that verdict; a 404 without it is bridge.ErrNoVerdict, and any other failure
// an error: neither ever means gone.
func (c *Client) TagGone(ctx context.Context, repository, tag string) (bool, error) {
	if !event.ValidRepository(repository) || !event.ValidTag(tag) {
		return false, fmt.Errorf("%w: %s:%s", bridge.ErrInvalidName, repository, tag)
	}
	ref, err := name.NewTag(c.reg.Name()+"/"+repository+":"+tag, name.WeakValidation)
	if err != nil {
		return false, fmt.Errorf("%w: %v", bridge.ErrInvalidName, err)
	}
	gone := false
	err = c.bounded(ctx, func(ctx context.Context) error {
		_, err := c.current().Head(ctx, ref)
		if err == nil || statusCode(err) != http.StatusNotFound {
			return libraryError(err)
		}
		_, err = c.current().Get(ctx, ref)
		switch {
		case err == nil:
			return nil
		case IsGone(err):
			gone = true
			return nil
		case statusCode(err) == http.StatusNotFound:
			return fmt.Errorf("%w: %v", bridge.ErrNoVerdict, err)
		}
		return libraryError(err)
	})
	if err != nil {
		return false, fmt.Errorf("look up tag %s:%s: %w", repository, tag, err)
	}
	return gone, nil
}
