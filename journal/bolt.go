package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	bucketPending    = []byte("pending")
	bucketFailed     = []byte("failed")
	bucketQuarantine = []byte("quarantine")
)

// maxBatch bounds how many operations share one transaction.
const maxBatch = 512

// Bolt is a durable store in DIR/journal.db. Appends from concurrent callers
// are committed together: the first caller's transaction starts at once, and
// everything that arrives while it syncs rides the next one, so throughput
// grows with concurrency while a lone caller waits for one fsync only.
type Bolt struct {
	db     *bolt.DB
	path   string
	log    *slog.Logger
	ops    chan op
	wg     sync.WaitGroup
	mu     sync.RWMutex
	closed bool

	// fmu serialises changes of the failed list and guards failedIdx, the seq
	// of the one entry kept per failure key.
	fmu         sync.Mutex
	failedIdx   map[string]uint64
	maxFailed   int
	evicted     atomic.Uint64
	quarantined atomic.Int64
	commits     atomic.Uint64 // write transactions of the loop (two fdatasyncs each)
}

type op struct {
	jobs []*Job
	done uint64
	errc chan error
}

// loop commits operations in batches. Deletions of applied jobs need no fsync
// of their own (a job applied twice after a crash is harmless), so they wait
// for the next append's commit, or for doneFlush when no append comes.
func (b *Bolt) loop() {
	defer b.wg.Done()
	batch := make([]op, 0, maxBatch)
	var done []uint64
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first op
		var ok bool
		select {
		case first, ok = <-b.ops:
		case <-timer.C:
			b.commit(nil, done)
			done = done[:0]
			continue
		}
		if !ok {
			b.commit(nil, done)
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-b.ops:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		appends := batch[:0:0]
		for _, o := range batch {
			if o.done != 0 {
				done = append(done, o.done)
			} else {
				appends = append(appends, o)
			}
		}
		if len(appends) == 0 && len(done) < maxDone {
			if len(done) == len(batch) { // the first deletion since the last commit
				timer.Reset(doneFlush)
			}
			continue
		}
		err := b.commit(appends, done)
		done = done[:0]
		timer.Stop()
		for _, o := range appends {
			o.errc <- err
		}
	}
}

// Deletions wait at most doneFlush, or until maxDone are pending.
const (
	doneFlush = 250 * time.Millisecond
	maxDone   = 4096
)

// commit writes appends and deletions in one transaction (one fsync).
func (b *Bolt) commit(appends []op, done []uint64) error {
	if len(appends) == 0 && len(done) == 0 {
		return nil
	}
	err := b.db.Update(func(tx *bolt.Tx) error {
		pending := tx.Bucket(bucketPending)
		for _, seq := range done {
			if err := pending.Delete(key(seq)); err != nil {
				return err
			}
		}
		for _, o := range appends {
			for _, j := range o.jobs {
				seq, err := pending.NextSequence()
				if err != nil {
					return err
				}
				j.Seq = seq
				v, err := json.Marshal(j)
				if err != nil {
					return err
				}
				if err := pending.Put(key(seq), v); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err == nil {
		b.commits.Add(1)
	}
	return err
}

func key(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// send queues an operation unless the store is closed.
func (b *Bolt) send(o op) error {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return ErrClosed
	}
	b.ops <- o
	return nil
}

// Append commits jobs durably (fsync) before returning.
func (b *Bolt) Append(ctx context.Context, jobs []*Job) error {
	errc := make(chan error, 1)
	if err := b.send(op{jobs: jobs, errc: errc}); err != nil {
		return err
	}
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("append to journal: %w", err)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done deletes a job in the next batch.
func (b *Bolt) Done(seq uint64) { _ = b.send(op{done: seq}) }

// Pending returns the jobs not yet done in Seq order. Records that do not
// decode were moved to quarantine at open; one found later is skipped and logged.
func (b *Bolt) Pending() ([]*Job, error) {
	var out []*Job
	err := b.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPending).ForEach(func(k, v []byte) error {
			var j Job
			if err := json.Unmarshal(v, &j); err != nil {
				b.log.Error("journal: skipping an unreadable pending record", "file", b.path, "key", fmt.Sprintf("%x", k), "err", err)
				return nil
			}
			out = append(out, &j)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}

// Size is the journal file size.
func (b *Bolt) Size() int64 {
	fi, err := os.Stat(b.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Durable is true.
func (b *Bolt) Durable() bool { return true }

// Close commits queued operations and closes the file.
func (b *Bolt) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	close(b.ops)
	b.mu.Unlock()
	b.wg.Wait()
	return b.db.Close()
}
