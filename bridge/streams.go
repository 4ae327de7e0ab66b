package bridge

import (
	"container/list"
	"context"
	"sync"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
)

// streamCache holds the image streams of the namespaces a resync pass is
// checking, listed once per cluster and namespace while they stay in it. It
// keeps at most max namespaces (least recently used out): the catalog is
// listed in name order, so a namespace's repositories come together and one
// is rarely listed twice, while the pass holds a few namespaces' streams,
// never the whole catalog's. Concurrent askers of one namespace share its
// listing.
type streamCache struct {
	mu    sync.Mutex
	max   int
	ll    *list.List // of *streamEntry, most recent first
	items map[string]*list.Element
}

type streamEntry struct {
	key     string
	ready   chan struct{} // closed once streams or err is set
	streams map[string]*imagev1.ImageStream
	err     error
}

func newStreamCache(maxNamespaces int) *streamCache {
	return &streamCache{max: max(maxNamespaces, 1), ll: list.New(), items: map[string]*list.Element{}}
}

// get returns the streams of namespace ns in cluster t, by name, listing
// them when they are not held. A namespace that is missing or forbidden has
// no streams; any other error is returned (and not kept).
func (c *streamCache) get(ctx context.Context, b *Bridge, t *target, ns string) (map[string]*imagev1.ImageStream, error) {
	key := t.cfg.Name + "\x00" + ns
	c.mu.Lock()
	if el, ok := c.items[key]; ok {
		c.ll.MoveToFront(el)
		e := el.Value.(*streamEntry)
		c.mu.Unlock()
		select {
		case <-e.ready:
			return e.streams, e.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	e := &streamEntry{key: key, ready: make(chan struct{})}
	c.items[key] = c.ll.PushFront(e)
	for c.ll.Len() > c.max {
		last := c.ll.Back()
		c.ll.Remove(last)
		delete(c.items, last.Value.(*streamEntry).key)
	}
	c.mu.Unlock()

	e.streams, e.err = listStreams(ctx, b, t, ns)
	close(e.ready)
	if e.err != nil {
		c.mu.Lock()
		if el, ok := c.items[key]; ok && el.Value == e {
			c.ll.Remove(el)
			delete(c.items, key)
		}
		c.mu.Unlock()
	}
	return e.streams, e.err
}

// listStreams lists the image streams of a namespace in one cluster. A
// namespace that is missing or forbidden has no streams.
func listStreams(ctx context.Context, b *Bridge, t *target, ns string) (map[string]*imagev1.ImageStream, error) {
	list, err := t.api.ListStreams(ctx, ns)
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return nil, err
	}
	if err != nil {
		b.log.Warn("resync cannot list image streams", "cluster", t.cfg.Name, "namespace", ns, "error", err.Error())
	}
	s := make(map[string]*imagev1.ImageStream, len(list))
	for i := range list {
		s[list[i].Name] = &list[i]
	}
	return s, nil
}
