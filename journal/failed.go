package journal

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// maxFailed bounds the failed list; beyond it the oldest entries are dropped
// (and counted), so that a failure that repeats forever cannot grow it.
const maxFailed = 10000

// failKey is what makes two failures the same: a new failure of the same
// registry, repository, tag, digest, cluster and action replaces the old entry.
func failKey(j *Job) string {
	return j.Registry + "\x00" + j.Repository + "\x00" + j.Tag + "\x00" + j.Digest + "\x00" + j.ClusterName() + "\x00" + j.Action
}

// Fail moves f from pending to the failed list, replacing an earlier entry
// of the same key and dropping the oldest entry when the list is full.
func (b *Bolt) Fail(f Failed) error {
	v, err := json.Marshal(f)
	if err != nil {
		return err
	}
	b.fmu.Lock()
	defer b.fmu.Unlock()
	k := failKey(&f.Job)
	old, replaced := b.failedIdx[k]
	var evicted []string
	err = b.db.Update(func(tx *bolt.Tx) error {
		fb := tx.Bucket(bucketFailed)
		if err := tx.Bucket(bucketPending).Delete(key(f.Seq)); err != nil {
			return err
		}
		if replaced && old != f.Seq {
			if err := fb.Delete(key(old)); err != nil {
				return err
			}
		}
		if err := fb.Put(key(f.Seq), v); err != nil {
			return err
		}
		n := len(b.failedIdx)
		if !replaced {
			n++
		}
		evicted, err = trimFailed(fb, n, b.maxFailed)
		return err
	})
	if err != nil {
		return fmt.Errorf("record failed event: %w", err)
	}
	b.failedIdx[k] = f.Seq
	for _, ek := range evicted {
		if ek != k {
			delete(b.failedIdx, ek)
		}
	}
	b.evicted.Add(uint64(len(evicted)))
	return nil
}

// trimFailed deletes the oldest of n entries beyond max and returns their keys.
// (Bucket statistics do not see the transaction's own writes, so the caller counts.)
func trimFailed(fb *bolt.Bucket, n, max int) ([]string, error) {
	var out []string
	c := fb.Cursor()
	for k, v := c.First(); k != nil && n > max; k, v = c.First() {
		var f Failed
		if json.Unmarshal(v, &f) == nil {
			out = append(out, failKey(&f.Job))
		}
		if err := fb.Delete(k); err != nil {
			return nil, err
		}
		n--
	}
	return out, nil
}

// FailedList returns the failed list in Seq order.
func (b *Bolt) FailedList() ([]Failed, error) {
	var out []Failed
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFailed).ForEach(func(k, v []byte) error {
			var f Failed
			if err := json.Unmarshal(v, &f); err != nil {
				b.log.Error("journal: skipping an unreadable failed record", "file", b.path, "key", fmt.Sprintf("%x", k), "err", err)
				return nil
			}
			out = append(out, f)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read failed list: %w", err)
	}
	return out, nil
}

// Replay moves failed entries (all when seqs is empty) back to pending in one
// transaction, with new sequence numbers, and returns them.
func (b *Bolt) Replay(seqs []uint64) ([]*Job, error) {
	b.fmu.Lock()
	defer b.fmu.Unlock()
	var out []*Job
	err := b.db.Update(func(tx *bolt.Tx) error {
		pending := tx.Bucket(bucketPending)
		return b.removeFailed(tx, seqs, func(f *Failed) error {
			j := f.Job
			j.Source = "replay"
			var err error
			if j.Seq, err = pending.NextSequence(); err != nil {
				return err
			}
			v, err := json.Marshal(&j)
			if err != nil {
				return err
			}
			if err := pending.Put(key(j.Seq), v); err != nil {
				return err
			}
			out = append(out, &j)
			return nil
		})
	})
	if err != nil {
		b.rebuildIndex()
		return nil, fmt.Errorf("replay failed events: %w", err)
	}
	return out, nil
}

// Drop deletes failed entries (all when seqs is empty) and returns how many.
func (b *Bolt) Drop(seqs []uint64) (int, error) {
	b.fmu.Lock()
	defer b.fmu.Unlock()
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		return b.removeFailed(tx, seqs, func(*Failed) error { n++; return nil })
	})
	if err != nil {
		b.rebuildIndex()
		return 0, fmt.Errorf("drop failed events: %w", err)
	}
	return n, nil
}

// removeFailed deletes the selected failed entries, calling each on them
// first; it updates the index as it goes (rebuilt by the caller on error).
func (b *Bolt) removeFailed(tx *bolt.Tx, seqs []uint64, each func(*Failed) error) error {
	fb := tx.Bucket(bucketFailed)
	want := map[uint64]bool{}
	for _, s := range seqs {
		want[s] = true
	}
	var sel [][]byte
	var list []Failed
	err := fb.ForEach(func(k, v []byte) error {
		if len(k) != 8 || (len(seqs) > 0 && !want[binary.BigEndian.Uint64(k)]) {
			return nil
		}
		var f Failed
		if json.Unmarshal(v, &f) != nil {
			return nil // quarantined at the next open
		}
		sel, list = append(sel, append([]byte(nil), k...)), append(list, f)
		return nil
	})
	if err != nil {
		return err
	}
	for i, k := range sel {
		if err := each(&list[i]); err != nil {
			return err
		}
		if err := fb.Delete(k); err != nil {
			return err
		}
		if fk := failKey(&list[i].Job); b.failedIdx[fk] == list[i].Seq {
			delete(b.failedIdx, fk)
		}
	}
	return nil
}

// rebuildIndex reloads failedIdx from the file (after a failed transaction).
func (b *Bolt) rebuildIndex() {
	idx := map[string]uint64{}
	_ = b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketFailed).ForEach(func(k, v []byte) error {
			var f Failed
			if json.Unmarshal(v, &f) == nil {
				idx[failKey(&f.Job)] = f.Seq
			}
			return nil
		})
	})
	b.failedIdx = idx
}

// Quarantined is how many damaged records were moved aside into the
// quarantine bucket (kept for inspection) since the journal was created.
func (b *Bolt) Quarantined() int { return int(b.quarantined.Load()) }

// Evicted is how many failed entries the cap dropped since the store opened.
func (b *Bolt) Evicted() uint64 { return b.evicted.Load() }

// failedSet is the failed list held in memory (the Log store's): one entry
// per failure key, at most max entries, the oldest evicted first.
type failedSet struct {
	bySeq   map[uint64]Failed
	idx     map[string]uint64 // failure key -> seq of its one entry
	order   []uint64          // seqs, ascending
	max     int
	evicted uint64
}

func newFailedSet(max int) *failedSet {
	return &failedSet{bySeq: map[uint64]Failed{}, idx: map[string]uint64{}, max: max}
}

// put records f, replacing an earlier entry of the same key and evicting the
// oldest entries beyond max (counted).
func (s *failedSet) put(f Failed) {
	k := failKey(&f.Job)
	if old, ok := s.idx[k]; ok {
		s.remove(old)
	}
	s.remove(f.Seq)
	s.bySeq[f.Seq] = f
	s.idx[k] = f.Seq
	i, _ := slices.BinarySearch(s.order, f.Seq)
	s.order = slices.Insert(s.order, i, f.Seq)
	for len(s.order) > s.max {
		s.remove(s.order[0])
		s.evicted++
	}
}

// remove deletes the entry of seq, reporting whether there was one.
func (s *failedSet) remove(seq uint64) bool {
	f, ok := s.bySeq[seq]
	if !ok {
		return false
	}
	delete(s.bySeq, seq)
	if k := failKey(&f.Job); s.idx[k] == seq {
		delete(s.idx, k)
	}
	if i, found := slices.BinarySearch(s.order, seq); found {
		s.order = slices.Delete(s.order, i, i+1)
	}
	return true
}

// list returns the entries in Seq order; with seqs, only those.
func (s *failedSet) list(seqs []uint64) []Failed {
	out := make([]Failed, 0, len(s.order))
	if len(seqs) == 0 {
		for _, seq := range s.order {
			out = append(out, s.bySeq[seq])
		}
		return out
	}
	want := map[uint64]bool{}
	for _, seq := range seqs {
		want[seq] = true
	}
	for _, seq := range s.order {
		if want[seq] {
			out = append(out, s.bySeq[seq])
		}
	}
	return out
}
