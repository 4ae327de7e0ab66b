package bridge

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
)

// tagLimitWarnEvery is how often a stream at its maxTagsPerStream is warned about.
const tagLimitWarnEvery = time.Hour

// streamLimits serialises, per cluster and stream, the check of a registry's
// maxTagsPerStream with the mapping that follows it, and the roll-up tags
// decided after a release (derive): two new tags of one stream applied by two
// workers at once must not both see room for one, and two releases must not
// move a roll-up from two listings at once.
// It also remembers when each full stream was last warned about.
type streamLimits struct {
	mu     sync.Mutex
	locks  map[string]*streamLock
	warned map[string]time.Time
}

type streamLock struct {
	mu   sync.Mutex
	refs int
}

func newStreamLimits() *streamLimits {
	return &streamLimits{locks: map[string]*streamLock{}, warned: map[string]time.Time{}}
}

// lock takes the lock of key and returns its release; the entry goes when
// nobody holds or waits for it, so the map holds only streams in flight.
func (l *streamLimits) lock(key string) func() {
	l.mu.Lock()
	sl := l.locks[key]
	if sl == nil {
		sl = &streamLock{}
		l.locks[key] = sl
	}
	sl.refs++
	l.mu.Unlock()
	sl.mu.Lock()
	return func() {
		sl.mu.Unlock()
		l.mu.Lock()
		if sl.refs--; sl.refs == 0 {
			delete(l.locks, key)
		}
		l.mu.Unlock()
	}
}

// shouldWarn reports whether key was not warned about in the last hour, and
// records now. Entries older than an hour are dropped as the map grows.
func (l *streamLimits) shouldWarn(key string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if last, ok := l.warned[key]; ok && now.Sub(last) < tagLimitWarnEvery {
		return false
	}
	if len(l.warned) >= 1024 {
		for k, t := range l.warned {
			if now.Sub(t) >= tagLimitWarnEvery {
				delete(l.warned, k)
			}
		}
	}
	l.warned[key] = now
	return true
}

// checkTagLimit returns a skip when j would add a tag to a stream that has
// maxTagsPerStream tags already (spec and status tags, counted once each).
// A tag the stream has keeps moving; a missing stream has room. The caller
// holds the stream's lock until its mapping is posted.
func (b *Bridge) checkTagLimit(ctx context.Context, src *source, cl *target, j *Job) error {
	limit := src.cfg.MaxTagsPerStream
	s, err := cl.api.GetStream(ctx, j.Namespace, j.Stream)
	if err != nil {
		return inStage(StageAPI, err)
	}
	n, has := countTags(s, j.Tag)
	if has || n < limit {
		return nil
	}
	if b.limits.shouldWarn(streamKey(cl, j), b.now()) {
		b.log.Warn("image stream is at maxTagsPerStream: new tags are skipped (tag_limit); warned once an hour",
			"registry", j.Registry, "cluster", cl.cfg.Name, "namespace", j.Namespace, "stream", j.Stream,
			"tag", j.Tag, "tags", n, "maxTagsPerStream", limit)
	}
	return &skipError{reason: SkipTagLimit,
		detail: fmt.Sprintf("the image stream has %d tags, maxTagsPerStream is %s", n, strconv.Itoa(limit))}
}

// countTags counts the distinct tag names of s (spec and status) and says
// whether tag is one of them. A nil stream has none.
func countTags(s *imagev1.ImageStream, tag string) (int, bool) {
	if s == nil {
		return 0, false
	}
	names := make(map[string]struct{}, len(s.Status.Tags))
	for _, t := range s.Spec.Tags {
		names[t.Name] = struct{}{}
	}
	for _, t := range s.Status.Tags {
		names[t.Tag] = struct{}{}
	}
	_, has := names[tag]
	return len(names), has
}
