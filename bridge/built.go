package bridge

import (
	"context"
	"sync"
	"time"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
)

// buildMapping builds a mapping (mapping.Build); a variable so that a test
// counts the builds.
var buildMapping = mapping.Build

// builtKey names one mapping: everything it is built from but the content,
// which the digest names. The cluster is not in it: every cluster of an event
// posts the same mapping.
type builtKey struct {
	registry, repository, digest, tag, namespace, stream string
	child                                                bool
}

// built is the outcome of one fetch and build. ism is shared by the jobs of
// every cluster of the event and never modified: a job posts a copy of its
// top level (the API client sets the kind on the object it encodes).
type built struct {
	ism *imagev1.ImageStreamMapping
	// warn is Build's warning (metadata left empty), reported by each job.
	warn error
	err  error
}

// builtMemo keeps the mappings built in the last builtTTL, at most
// builtMaxBytes of them (by the size of their manifest and config), and
// shares one build among the jobs that ask for it at the same time: an event
// for N clusters is fetched, parsed and built once. Errors are shared only
// among the jobs waiting for the same build, never kept (a failed fetch is
// tried again by the next job).
type builtMemo struct {
	mu      sync.Mutex
	entries map[builtKey]*builtEntry
	order   []kept // insertion order, for eviction
	bytes   int
	now     func() time.Time
}

type kept struct {
	key   builtKey
	entry *builtEntry
}

type builtEntry struct {
	done  chan struct{}
	res   built
	at    time.Time
	bytes int
}

const (
	// builtTTL is how long a built mapping is kept: the jobs of one event for
	// the clusters that are up run within it; a cluster that was down builds again.
	builtTTL = time.Minute
	// builtMaxBytes bounds the kept mappings (an Image may reach MaxImageBytes).
	builtMaxBytes = 8 << 20
)

func newBuiltMemo() *builtMemo {
	return &builtMemo{entries: map[builtKey]*builtEntry{}, now: time.Now}
}

// get returns the outcome for k: a kept one, the one being built, or f's.
func (m *builtMemo) get(ctx context.Context, k builtKey, f func() built) built {
	m.mu.Lock()
	if e, ok := m.entries[k]; ok && (e.done != nil || m.now().Sub(e.at) < builtTTL) {
		done := e.done
		m.mu.Unlock()
		if done != nil {
			select {
			case <-done:
			case <-ctx.Done():
				return built{err: ctx.Err()}
			}
		}
		return e.res
	}
	e := &builtEntry{done: make(chan struct{})}
	m.entries[k] = e
	m.mu.Unlock()

	e.res = f()
	m.mu.Lock()
	defer m.mu.Unlock()
	close(e.done)
	e.done = nil
	if e.res.err != nil || e.res.ism == nil {
		if m.entries[k] == e {
			delete(m.entries, k)
		}
		return e.res
	}
	e.at = m.now()
	img := &e.res.ism.Image
	e.bytes = len(img.DockerImageManifest) + len(img.DockerImageConfig) + len(img.DockerImageMetadata.Raw) + 1024
	m.order = append(m.order, kept{k, e})
	m.bytes += e.bytes
	m.evictLocked()
	return e.res
}

// evictLocked drops expired entries, then the oldest while over the byte bound.
func (m *builtMemo) evictLocked() {
	now := m.now()
	for len(m.order) > 0 {
		o := m.order[0]
		if now.Sub(o.entry.at) < builtTTL && m.bytes <= builtMaxBytes {
			break
		}
		m.order[0] = kept{}
		m.order = m.order[1:]
		m.bytes -= o.entry.bytes
		if m.entries[o.key] == o.entry {
			delete(m.entries, o.key)
		}
	}
}
