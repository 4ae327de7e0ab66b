package queue

import (
	"context"
	"testing"
)

// TestOutsideHasItsOwnRoom: outside jobs (a resync's) never take the room
// Reserve gives, and a producer of them waits for room of its own (it is
// admitted when an outside job is done) instead of being refused.
func TestOutsideHasItsOwnRoom(t *testing.T) {
	q := New(Options[job]{
		Capacity: 2, Outside: 2, Workers: 2,
		Key:       func(j job) string { return j.key },
		IsOutside: func(j job) bool { return j.group == "resync" },
	})
	ctx := t.Context()
	if err := q.ReserveOutside(ctx, 2); err != nil {
		t.Fatal(err)
	}
	q.Push(job{group: "resync", key: "a"}, job{group: "resync", key: "b"})
	if !q.Reserve(2) {
		t.Fatal("outside jobs took the webhook's room")
	}
	q.Push(job{key: "c"}, job{key: "d"})
	if q.Reserve(1) {
		t.Fatal("Reserve admitted past its capacity")
	}
	if q.Len() != 4 {
		t.Fatalf("Len %d, want 4 (outside jobs included)", q.Len())
	}

	// The outside room is full: the next outside producer waits, then a
	// finished outside job admits it.
	admitted := make(chan error, 1)
	go func() { admitted <- q.ReserveOutside(ctx, 1) }()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := q.ReserveOutside(cctx, 1); err == nil {
		t.Fatal("ReserveOutside admitted past the outside room")
	}
	for {
		l, _ := q.Next(ctx)
		done := l.Job.group == "resync"
		l.Done()
		if done {
			break
		}
	}
	if err := <-admitted; err != nil {
		t.Fatalf("waiting producer: %v", err)
	}
	if err := q.ReserveOutside(ctx, 3); err == nil {
		t.Fatal("ReserveOutside admitted more than the outside room at once")
	}
}
