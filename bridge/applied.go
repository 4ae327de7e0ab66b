package bridge

import (
	"container/list"
	"sync"
	"time"
)

// appliedCap bounds the tags appliedTags remembers (about 200 bytes each).
const appliedCap = 50_000

// appliedTags remembers, per registry, repository and tag, the digest the
// applier last mapped from a notification and when: a resync pass takes that
// digest for the registry's instead of asking (a HEAD) when it was mapped
// since the previous pass began (pass.trustSince). It holds at most
// appliedCap tags, the least recently mapped out.
type appliedTags struct {
	mu    sync.Mutex
	ll    *list.List // of *appliedTag, most recent first
	items map[string]*list.Element
}

type appliedTag struct {
	key    string
	digest string
	at     time.Time
}

func newAppliedTags() *appliedTags {
	return &appliedTags{ll: list.New(), items: map[string]*list.Element{}}
}

func appliedKey(registry, repository, tag string) string {
	return registry + "\x00" + repository + "\x00" + tag
}

// record notes that a notification's digest was mapped at at.
func (a *appliedTags) record(registry, repository, tag, digest string, at time.Time) {
	key := appliedKey(registry, repository, tag)
	a.mu.Lock()
	defer a.mu.Unlock()
	if el, ok := a.items[key]; ok {
		e := el.Value.(*appliedTag)
		e.digest, e.at = digest, at
		a.ll.MoveToFront(el)
		return
	}
	a.items[key] = a.ll.PushFront(&appliedTag{key: key, digest: digest, at: at})
	for a.ll.Len() > appliedCap {
		last := a.ll.Back()
		a.ll.Remove(last)
		delete(a.items, last.Value.(*appliedTag).key)
	}
}

// forget drops a tag (deleted).
func (a *appliedTags) forget(registry, repository, tag string) {
	key := appliedKey(registry, repository, tag)
	a.mu.Lock()
	defer a.mu.Unlock()
	if el, ok := a.items[key]; ok {
		a.ll.Remove(el)
		delete(a.items, key)
	}
}

// since returns the digest mapped for the tag at or after t, if any.
func (a *appliedTags) since(registry, repository, tag string, t time.Time) (string, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	el, ok := a.items[appliedKey(registry, repository, tag)]
	if !ok {
		return "", false
	}
	e := el.Value.(*appliedTag)
	if e.at.Before(t) {
		return "", false
	}
	return e.digest, true
}
