package webhook

import "sync"

// dedup remembers the last N accepted event keys. A sender re-sends an event
// after a timeout with the same id; such a duplicate is acknowledged and not
// queued again. Applying twice would be harmless anyway: this only saves work.
type dedup struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func newDedup(n int) *dedup {
	return &dedup{ids: make(map[string]struct{}, n), ring: make([]string, n)}
}

func (d *dedup) seen(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.ids[key]
	return ok
}

func (d *dedup) add(key string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.ids[key]; ok {
		return
	}
	if old := d.ring[d.next]; old != "" {
		delete(d.ids, old)
	}
	d.ring[d.next] = key
	d.ids[key] = struct{}{}
	d.next = (d.next + 1) % len(d.ring)
}
