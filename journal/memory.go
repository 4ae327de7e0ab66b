package journal

import (
	"context"
	"sort"
	"sync"
)

// maxFailed bounds the failed list kept in memory; the oldest entries go first.
const maxFailed = 10000

// Memory keeps only the failed list; accepted events are lost with the process.
type Memory struct {
	mu     sync.Mutex
	seq    uint64
	failed map[uint64]Failed
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{failed: map[uint64]Failed{}} }

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

// Fail records f, dropping the oldest entry when the list is full.
func (m *Memory) Fail(f Failed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.failed) >= maxFailed {
		oldest := ^uint64(0)
		for s := range m.failed {
			oldest = min(oldest, s)
		}
		delete(m.failed, oldest)
	}
	m.failed[f.Seq] = f
	return nil
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
			delete(m.failed, f.Seq)
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
