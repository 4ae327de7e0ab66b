package journal

import (
	"context"
	"slices"
	"sort"
	"sync"
)

// Memory keeps only the failed list; accepted events are lost with the process.
type Memory struct {
	mu      sync.Mutex
	seq     uint64
	failed  map[uint64]Failed
	idx     map[string]uint64 // failure key -> seq of its one entry
	evicted uint64
	max     int
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{failed: map[uint64]Failed{}, idx: map[string]uint64{}, max: maxFailed}
}

// Append assigns sequence numbers.
func (m *Memory) Append(_ context.Context, jobs []*Job) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, j := range jobs {
		m.seq++
		j.Seq = m.seq
	}
	return nil
}

// Done does nothing: memory keeps no pending jobs.
func (m *Memory) Done(uint64) {}

// Fail records f, replacing an earlier entry of the same key and dropping
// the oldest entry when the list is full.
func (m *Memory) Fail(f Failed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	k := failKey(&f.Job)
	if old, ok := m.idx[k]; ok {
		delete(m.failed, old)
	}
	if len(m.failed) >= m.max {
		oldest := ^uint64(0)
		for s := range m.failed {
			oldest = min(oldest, s)
		}
		m.forget(m.failed[oldest])
		m.evicted++
	}
	m.failed[f.Seq] = f
	m.idx[k] = f.Seq
	return nil
}

// Drop deletes failed entries (all when seqs is empty) and returns how many.
func (m *Memory) Drop(seqs []uint64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for s, f := range m.failed {
		if len(seqs) == 0 || slices.Contains(seqs, s) {
			m.forget(f)
			n++
		}
	}
	return n, nil
}

func (m *Memory) forget(f Failed) {
	delete(m.failed, f.Seq)
	if k := failKey(&f.Job); m.idx[k] == f.Seq {
		delete(m.idx, k)
	}
}

// Quarantined is 0: memory holds no records to damage.
func (m *Memory) Quarantined() int { return 0 }

// Evicted is how many failed entries the cap dropped.
func (m *Memory) Evicted() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.evicted
}

// Pending is always empty.
func (m *Memory) Pending() ([]*Job, error) { return nil, nil }

// FailedList returns the failed list in Seq order.
func (m *Memory) FailedList() ([]Failed, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Failed, 0, len(m.failed))
	for _, f := range m.failed {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, nil
}

// Replay removes failed jobs and returns them with new sequence numbers.
func (m *Memory) Replay(seqs []uint64) ([]*Job, error) {
	list, _ := m.FailedList()
	m.mu.Lock()
	defer m.mu.Unlock()
	want := map[uint64]bool{}
	for _, s := range seqs {
		want[s] = true
	}
	var out []*Job
	for _, f := range list {
		if len(seqs) == 0 || want[f.Seq] {
			m.forget(f)
			j := f.Job
			j.Source = "replay"
			m.seq++
			j.Seq = m.seq
			out = append(out, &j)
		}
	}
	return out, nil
}

// Size is 0.
func (m *Memory) Size() int64 { return 0 }

// Durable is false.
func (m *Memory) Durable() bool { return false }

// Close does nothing.
func (m *Memory) Close() error { return nil }
