package webhook

import "testing"

func TestDedupWindow(t *testing.T) {
	d := newDedup(2)
	for _, step := range []struct {
		op   string // add or seen
		key  string
		seen bool
	}{
		{"seen", "a", false},
		{"add", "a", false},
		{"seen", "a", true},
		{"add", "a", false}, // adding twice keeps one slot
		{"add", "b", false},
		{"seen", "a", true},
		{"seen", "b", true},
		{"add", "c", false}, // evicts the oldest, a
		{"seen", "a", false},
		{"seen", "b", true},
		{"seen", "c", true},
	} {
		switch step.op {
		case "add":
			d.add(step.key)
		case "seen":
			if got := d.seen(step.key); got != step.seen {
				t.Fatalf("seen(%q) = %v after the steps before, want %v", step.key, got, step.seen)
			}
		}
	}
}
