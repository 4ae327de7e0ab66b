package registry

import (
	"bytes"
	"container/list"
	"sync"
)

// cache is a byte-bounded LRU of content-addressed blobs. Manifests and configs
// never change for a digest, so an entry is valid until it is evicted.
type cache struct {
	mu       sync.Mutex
	max, cur int64
	ll       *list.List
	items    map[string]*list.Element
}

type cacheEntry struct {
	key       string
	mediaType string
	data      []byte
}

func newCache(maxBytes int64) *cache {
	return &cache{max: maxBytes, ll: list.New(), items: map[string]*list.Element{}}
}

func (c *cache) get(key string) (cacheEntry, bool) {
	if c == nil || c.max <= 0 {
		return cacheEntry{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return cacheEntry{}, false
	}
	c.ll.MoveToFront(e)
	return *e.Value.(*cacheEntry), true
}

// entryOverhead approximates the bookkeeping of one entry (list element, map slot, key).
const entryOverhead = 256

func (c *cache) put(key, mediaType string, data []byte) {
	size := int64(len(data)) + entryOverhead
	if c == nil || size > c.max/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.items[key]; ok {
		return
	}
	// A right-sized copy: buffers from io.ReadAll keep up to twice their length.
	c.items[key] = c.ll.PushFront(&cacheEntry{key: key, mediaType: mediaType, data: bytes.Clone(data)})
	c.cur += size
	for c.cur > c.max {
		last := c.ll.Back()
		ent := last.Value.(*cacheEntry)
		c.ll.Remove(last)
		delete(c.items, ent.key)
		c.cur -= int64(len(ent.data)) + entryOverhead
	}
}
