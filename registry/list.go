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

// Listing bounds: every page is capped in bytes (Options.ListLimit) and ends at
// the fetch deadline; the totals are capped (Options.MaxRepositories,
// Options.MaxTags); and a page that adds nothing yet links to another ends the
// listing, so an endless Link chain costs bounded time and memory.

// Repositories lists the configured repositories, or the catalog (paginated) when none are configured.
func (c *Client) Repositories(ctx context.Context) ([]string, error) {
	var out []string
	err := c.RepositoryPages(ctx, func(page []string) error {
		out = append(out, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// configuredPage is how many configured repositories RepositoryPages hands over at once.
const configuredPage = 100

// RepositoryPages lists the configured repositories, or the catalog when none
// are configured, a page at a time: visit gets each page in turn and the next
// page is asked for only once visit returns, so a caller holds one page. An
// error from visit ends the listing and is returned as it is.
func (c *Client) RepositoryPages(ctx context.Context, visit func(page []string) error) error {
	if len(c.repoList) > 0 {
		for list := c.repoList; len(list) > 0; {
			n := min(len(list), configuredPage)
			if err := visit(list[:n:n]); err != nil {
				return err
			}
			list = list[n:]
		}
		return nil
	}
	var cat *remoteCatalog
	err := c.bounded(ctx, func(ctx context.Context) (err error) {
		cat, err = c.newCatalog(ctx)
		return err
	})
	if err != nil {
		return fmt.Errorf("list catalog: %w", err)
	}
	var visitErr error
	err = c.pages(ctx, cat.first, cat.more, cat.next, c.opts.MaxRepositories, "repositories in the catalog", func(page []string) bool {
		visitErr = visit(page)
		return visitErr == nil
	})
	if visitErr != nil {
		return visitErr
	}
	if err != nil {
		return fmt.Errorf("list catalog: %w", err)
	}
	return nil
}

// Tags lists the tags of a repository (paginated). A repository the registry
// says it does not know (a 404 carrying its verdict, see IsGone) has none; any
// other 404 (a proxy's bare one) fails the listing: it is never read as "no tags".
func (c *Client) Tags(ctx context.Context, repository string) ([]string, error) {
	if !event.ValidRepository(repository) {
		return nil, fmt.Errorf("%w: %q", bridge.ErrInvalidName, repository)
	}
	repo, err := name.NewRepository(c.reg.Name()+"/"+repository, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", bridge.ErrInvalidName, err)
	}
	var tl *remoteTags
	err = c.bounded(ctx, func(ctx context.Context) (err error) {
		tl, err = c.newTags(ctx, repo)
		return err
	})
	if IsGone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repository, err)
	}
	tags, err := c.collect(ctx, tl.first, tl.more, tl.next, c.opts.MaxTags, "tags in "+repository)
	if err != nil {
		return nil, fmt.Errorf("list tags of %s: %w", repository, err)
	}
	return tags, nil
}

// collect appends pages until none is left, each page under its own deadline.
func (c *Client) collect(ctx context.Context, first []string, more func() bool, next func(context.Context) ([]string, error), limit int, what string) ([]string, error) {
	var out []string
	err := c.pages(ctx, first, more, next, limit, what, func(page []string) bool {
		out = append(out, page...)
		return true
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pages hands each page to visit until none is left or visit returns false,
// each page under its own deadline; more than limit entries in all fail.
func (c *Client) pages(ctx context.Context, first []string, more func() bool, next func(context.Context) ([]string, error), limit int, what string, visit func([]string) bool) error {
	total := len(first)
	if total > limit {
		return fmt.Errorf("%w: more than %d %s", bridge.ErrTooLarge, limit, what)
	}
	if !visit(first) {
		return nil
	}
	for more() {
		var page []string
		err := c.bounded(ctx, func(ctx context.Context) (err error) {
			page, err = next(ctx)
			return libraryError(err)
		})
		if err != nil {
			return err
		}
		if len(page) == 0 && more() {
			return fmt.Errorf("%w: an empty page links to another (%d %s so far)", bridge.ErrTooLarge, total, what)
		}
		total += len(page)
		if total > limit {
			return fmt.Errorf("%w: more than %d %s", bridge.ErrTooLarge, limit, what)
		}
		if !visit(page) {
			return nil
		}
	}
	return nil
}

type remoteCatalog struct {
	first []string
	more  func() bool
	next  func(context.Context) ([]string, error)
}

// newCatalog opens the catalog with our page size, n=100. A registry whose
// catalog.maxentries is lower refuses that with PAGINATION_NUMBER_INVALID
// (distribution's catalog handler): the catalog is then asked for without n,
// so the registry picks its own page size and links the pages.
func (c *Client) newCatalog(ctx context.Context) (*remoteCatalog, error) {
	puller, unpaged := c.pullers(false)
	cg, err := puller.Catalogger(ctx, c.reg)
	if paginationRefused(err) {
		cg, err = unpaged.Catalogger(ctx, c.reg)
	}
	if err != nil {
		return nil, libraryError(err)
	}
	page, err := cg.Next(ctx) // the first page, already fetched
	if err != nil {
		return nil, libraryError(err)
	}
	return &remoteCatalog{first: page.Repos, more: cg.HasNext, next: func(ctx context.Context) ([]string, error) {
		p, err := cg.Next(ctx)
		if err != nil {
			return nil, err
		}
		return p.Repos, nil
	}}, nil
}

type remoteTags = remoteCatalog

func (c *Client) newTags(ctx context.Context, repo name.Repository) (*remoteTags, error) {
	puller, unpaged := c.pullers(true)
	l, err := puller.Lister(ctx, repo)
	if paginationRefused(err) {
		l, err = unpaged.Lister(ctx, repo)
	}
	if err != nil {
		return nil, libraryError(err)
	}
	page, err := l.Next(ctx)
	if err != nil {
		return nil, libraryError(err)
	}
	return &remoteTags{first: page.Tags, more: l.HasNext, next: func(ctx context.Context) ([]string, error) {
		p, err := l.Next(ctx)
		if err != nil {
			return nil, err
		}
		return p.Tags, nil
	}}, nil
}

// paginationRefused reports a registry refusing our page size (n).
func paginationRefused(err error) bool {
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != http.StatusBadRequest {
		return false
	}
	for _, d := range te.Errors {
		if d.Code == "PAGINATION_NUMBER_INVALID" {
			return true
		}
	}
	return false
}
