// Package reload keeps a value loaded from files fresh: secrets and
// certificates mounted from Kubernetes Secrets are rotated in place, and the
// bridge must pick up the new contents without a restart. It imports nothing
// of ours.
package reload

import (
	"fmt"
	"os"
	"sync"
	"time"
)

// File is a value loaded from one or more files. Get re-reads the files when
// any file's modification time or size changed, checking at most once per
// interval; a reload that fails keeps the last good value.
type File[T any] struct {
	files    []string
	interval time.Duration
	load     func() (T, error)
	now      func() time.Time

	mu      sync.Mutex
	current T
	stamp   string
	checked time.Time
}

// New loads the value once with load (which reads files) and returns the
// File; an error from the first load is returned, as the caller has nothing
// to fall back on. interval 0 checks the files on every Get.
func New[T any](interval time.Duration, load func() (T, error), files ...string) (*File[T], error) {
	f := &File[T]{files: files, interval: interval, load: load, now: time.Now}
	stamp, err := stampOf(files)
	if err != nil {
		return nil, err
	}
	v, err := load()
	if err != nil {
		return nil, err
	}
	f.current, f.stamp, f.checked = v, stamp, f.now()
	return f, nil
}

// Get returns the current value, reloading it first when the files changed
// and the interval has passed since the last check.
func (f *File[T]) Get() T {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if now.Sub(f.checked) < f.interval {
		return f.current
	}
	f.checked = now
	stamp, err := stampOf(f.files)
	if err != nil || stamp == f.stamp {
		return f.current
	}
	v, err := f.load()
	if err != nil {
		return f.current
	}
	f.current, f.stamp = v, stamp
	return f.current
}

// stampOf identifies the files' versions by modification time and size.
func stampOf(files []string) (string, error) {
	s := ""
	for _, name := range files {
		fi, err := os.Stat(name)
		if err != nil {
			return "", fmt.Errorf("stat %s: %w", name, err)
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}
