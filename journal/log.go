package journal

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Log is a durable store in DIR/journal.log: an append-only file of
// checksummed records, read into memory at open and rewritten (compacted)
// when mostly dead. Appends from concurrent callers share one write and one
// fdatasync, as Bolt's transactions do, but a commit is one fdatasync, not
// bbolt's two, and nothing is memory-mapped.
//
// The file is an 8-byte header followed by records: a 4-byte magic, the
// payload's length and its CRC-32C (little-endian), then the payload, a JSON
// entry. A record cut short at the end of the file is what a crash during a
// write leaves: it is cut off (logged at info). A bad record followed by good
// ones, or a last record at its full length failing its checksum, is damage:
// its bytes are moved to
// DIR/journal.log.quarantine (kept, counted by Quarantined, logged at error)
// and the rest proceeds.
type Log struct {
	path string
	dir  *os.File // locked against a second process; synced after renames
	log  *slog.Logger
	ops  chan logOp
	wg   sync.WaitGroup

	mu     sync.RWMutex // guards closed against sends
	closed bool

	// smu guards the state below; only the loop changes it after Open.
	smu          sync.Mutex
	f            *os.File
	size         atomic.Int64
	next         uint64            // the last seq assigned
	pending      map[uint64]uint32 // seq -> bytes its record takes (about)
	pendingBytes int64
	failed       *failedSet
	evictedBase  uint64
	quarantined  int
	err          error // a failed fdatasync: nothing more is written

	syncs     atomic.Uint64
	compactAt int64 // compactBound; tests lower it
}

const (
	logFile        = "journal.log"
	quarantineFile = "journal.log.quarantine"
	logHeader      = "ISBJLOG1"
	recMagic       = 0x01d7524a
	recHeaderLen   = 12
	maxRecordLen   = 256 << 20
	// compactBound: past this size, a log whose live records take less than
	// half of it is rewritten.
	compactBound = 64 << 20
	// compactChunk bounds the jobs or failed entries in one record of a rewrite.
	compactChunk = 512
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// entry is one record: what one operation changes, applied in field order.
type entry struct {
	Next   uint64   `json:"n,omitempty"` // the last seq assigned is at least this
	Done   []uint64 `json:"d,omitempty"` // pending jobs applied
	Unfail []uint64 `json:"u,omitempty"` // failed entries replayed or dropped
	Fail   []Failed `json:"f,omitempty"` // jobs moved to the failed list
	Jobs   []*Job   `json:"a,omitempty"` // jobs added to pending
}

const (
	opAppend = iota
	opDone
	opFail
	opReplay
	opDrop
)

type logOp struct {
	kind int
	jobs []*Job
	seq  uint64
	seqs []uint64
	fail *Failed
	res  chan logResult
}

type logResult struct {
	err  error
	jobs []*Job
	n    int
}

// appendRecord frames payload as one record.
func appendRecord(buf, payload []byte) []byte {
	var h [recHeaderLen]byte
	binary.LittleEndian.PutUint32(h[0:], recMagic)
	binary.LittleEndian.PutUint32(h[4:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:], crc32.Checksum(payload, castagnoli))
	return append(append(buf, h[:]...), payload...)
}

// frameAt returns the payload of the record at the start of data and the
// record's length, or ok false when no whole, intact record starts there.
func frameAt(data []byte) (payload []byte, n int, ok bool) {
	if len(data) < recHeaderLen || binary.LittleEndian.Uint32(data) != recMagic {
		return nil, 0, false
	}
	l := binary.LittleEndian.Uint32(data[4:])
	if l > maxRecordLen || uint64(len(data)-recHeaderLen) < uint64(l) {
		return nil, 0, false
	}
	payload = data[recHeaderLen : recHeaderLen+int(l)]
	if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(data[8:]) {
		return nil, 0, false
	}
	return payload, recHeaderLen + int(l), true
}

// completeFrame is the length of the record at the start of data when its
// header is intact and all its bytes are there (its checksum not checked), or 0.
func completeFrame(data []byte) int {
	if len(data) < recHeaderLen || binary.LittleEndian.Uint32(data) != recMagic {
		return 0
	}
	l := binary.LittleEndian.Uint32(data[4:])
	if l > maxRecordLen || uint64(len(data)-recHeaderLen) < uint64(l) {
		return 0
	}
	return recHeaderLen + int(l)
}

// nextFrame is the offset of the first intact record at or after from, or -1.
func nextFrame(data []byte, from int) int {
	var m [4]byte
	binary.LittleEndian.PutUint32(m[:], recMagic)
	for from < len(data) {
		i := bytes.Index(data[from:], m[:])
		if i < 0 {
			return -1
		}
		if _, _, ok := frameAt(data[from+i:]); ok {
			return from + i
		}
		from += i + 1
	}
	return -1
}

func decodeEntry(payload []byte) (entry, error) {
	var e entry
	if err := json.Unmarshal(payload, &e); err != nil {
		return e, err
	}
	for _, j := range e.Jobs {
		if j == nil || j.Seq == 0 {
			return e, errors.New("a job without a sequence number")
		}
	}
	return e, nil
}

// apply changes the state as the record e of n bytes says. The caller holds smu.
func (l *Log) apply(e *entry, n int) {
	l.next = max(l.next, e.Next)
	for _, s := range e.Done {
		l.forgetPending(s)
	}
	for _, s := range e.Unfail {
		l.failed.remove(s)
	}
	for _, f := range e.Fail {
		l.forgetPending(f.Seq)
		l.failed.put(f)
		l.next = max(l.next, f.Seq)
	}
	per := uint32(n / max(1, len(e.Jobs)))
	for _, j := range e.Jobs {
		l.forgetPending(j.Seq)
		l.pending[j.Seq] = per
		l.pendingBytes += int64(per)
		l.next = max(l.next, j.Seq)
	}
}

func (l *Log) forgetPending(seq uint64) {
	if sz, ok := l.pending[seq]; ok {
		delete(l.pending, seq)
		l.pendingBytes -= int64(sz)
	}
}

// loop commits operations in batches, as Bolt's does: the first caller's
// write starts at once and whatever arrives meanwhile shares the next one.
// Done needs no fdatasync of its own: it rides with the next append's, or is
// written (unsynced) after doneFlush and synced at Close.
func (l *Log) loop() {
	defer l.wg.Done()
	batch := make([]logOp, 0, maxBatch)
	var done []uint64
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var first logOp
		var ok bool
		select {
		case first, ok = <-l.ops:
		case <-timer.C:
			l.commit(nil, done, false)
			done = done[:0]
			continue
		}
		if !ok {
			l.commit(nil, done, true)
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case o, ok := <-l.ops:
				if !ok {
					break drain
				}
				batch = append(batch, o)
			default:
				break drain
			}
		}
		group := batch[:0:0]
		for _, o := range batch {
			switch o.kind {
			case opDone:
				done = append(done, o.seq)
			case opReplay, opDrop:
				// They read the failed list: everything before them commits first.
				if len(group) > 0 {
					l.commit(group, done, true)
					group, done = group[:0], done[:0]
				}
				l.commit([]logOp{o}, done, true)
				done = done[:0]
			default:
				group = append(group, o)
			}
		}
		if len(group) == 0 && len(done) < maxDone {
			if len(done) > 0 {
				timer.Reset(doneFlush)
			}
			continue
		}
		l.commit(group, done, true)
		done = done[:0]
		timer.Stop()
	}
}

// commit writes the records of ops and done (one write, and one fdatasync
// when sync), applies them and answers the callers.
func (l *Log) commit(ops []logOp, done []uint64, sync bool) {
	if len(ops) == 0 && len(done) == 0 {
		return
	}
	var ents []entry
	if len(done) > 0 {
		ents = append(ents, entry{Done: slices.Clone(done)})
	}
	res := make([]logResult, len(ops))
	for i, o := range ops {
		switch o.kind {
		case opAppend:
			for _, j := range o.jobs {
				l.next++
				j.Seq = l.next
			}
			ents = append(ents, entry{Jobs: o.jobs})
		case opFail:
			ents = append(ents, entry{Fail: []Failed{*o.fail}})
		case opReplay, opDrop:
			l.smu.Lock()
			sel := l.failed.list(o.seqs)
			l.smu.Unlock()
			var e entry
			for _, f := range sel {
				e.Unfail = append(e.Unfail, f.Seq)
				if o.kind == opReplay {
					j := f.Job
					j.Source = "replay"
					l.next++
					j.Seq = l.next
					e.Jobs = append(e.Jobs, &j)
				}
			}
			res[i].jobs, res[i].n = e.Jobs, len(sel)
			if len(sel) > 0 {
				ents = append(ents, e)
			}
		}
	}
	var buf []byte
	sizes := make([]int, len(ents))
	var err error
	for i := range ents {
		p, merr := json.Marshal(&ents[i])
		if merr != nil {
			err = merr
			break
		}
		before := len(buf)
		buf = appendRecord(buf, p)
		sizes[i] = len(buf) - before
	}
	if err == nil {
		err = l.write(buf, sync)
	}
	if err == nil {
		l.smu.Lock()
		for i := range ents {
			l.apply(&ents[i], sizes[i])
		}
		l.smu.Unlock()
		if l.size.Load() > l.compactAt && l.pendingBytes+int64(len(l.failed.order))*1024 < l.size.Load()/2 {
			if cerr := l.compactRunning(); cerr != nil {
				l.log.Error("journal: compaction failed; the log keeps growing until it succeeds", "file", l.path, "err", cerr)
			}
		}
	}
	for i, o := range ops {
		res[i].err = err
		if err != nil {
			res[i].jobs, res[i].n = nil, 0
		}
		o.res <- res[i]
	}
}

// write appends buf at the end of the log. A failed write is cut off again;
// a failed fdatasync leaves the file in an unknown state, so nothing more is
// written until a restart (which reads back what is there).
func (l *Log) write(buf []byte, sync bool) error {
	if l.err != nil {
		return l.err
	}
	size := l.size.Load()
	if _, err := l.f.WriteAt(buf, size); err != nil {
		if terr := l.f.Truncate(size); terr != nil {
			l.err = fmt.Errorf("journal %s: a write failed and could not be undone (%v); restart", l.path, terr)
		}
		return err
	}
	if sync {
		if err := fdatasync(l.f); err != nil {
			l.err = fmt.Errorf("journal %s: fdatasync failed (%v); restart to read back what is on disk", l.path, err)
			return l.err
		}
		l.syncs.Add(1)
	}
	l.size.Store(size + int64(len(buf)))
	return nil
}

// send queues an operation unless the store is closed.
func (l *Log) send(o logOp) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.closed {
		return ErrClosed
	}
	l.ops <- o
	return nil
}

// call queues o and waits for its commit.
func (l *Log) call(ctx context.Context, o logOp) (logResult, error) {
	o.res = make(chan logResult, 1)
	if err := l.send(o); err != nil {
		return logResult{}, err
	}
	select {
	case r := <-o.res:
		return r, r.err
	case <-ctx.Done():
		return logResult{}, ctx.Err()
	}
}

// Append commits jobs durably (one fdatasync shared with concurrent callers) before returning.
func (l *Log) Append(ctx context.Context, jobs []*Job) error {
	if _, err := l.call(ctx, logOp{kind: opAppend, jobs: jobs}); err != nil {
		if errors.Is(err, ErrClosed) || errors.Is(err, ctx.Err()) {
			return err
		}
		return fmt.Errorf("append to journal: %w", err)
	}
	return nil
}

// Done forgets a job in the next write.
func (l *Log) Done(seq uint64) { _ = l.send(logOp{kind: opDone, seq: seq}) }

// Fail moves f from pending to the failed list, durably.
func (l *Log) Fail(f Failed) error {
	if _, err := l.call(context.Background(), logOp{kind: opFail, fail: &f}); err != nil {
		return fmt.Errorf("record failed event: %w", err)
	}
	return nil
}

// Replay moves failed entries (all when seqs is empty) back to pending, with
// new sequence numbers, in one record, and returns them.
func (l *Log) Replay(seqs []uint64) ([]*Job, error) {
	r, err := l.call(context.Background(), logOp{kind: opReplay, seqs: seqs})
	if err != nil {
		return nil, fmt.Errorf("replay failed events: %w", err)
	}
	return r.jobs, nil
}

// Drop deletes failed entries (all when seqs is empty) and returns how many.
func (l *Log) Drop(seqs []uint64) (int, error) {
	r, err := l.call(context.Background(), logOp{kind: opDrop, seqs: seqs})
	if err != nil {
		return 0, fmt.Errorf("drop failed events: %w", err)
	}
	return r.n, nil
}

// FailedList returns the failed list in Seq order.
func (l *Log) FailedList() ([]Failed, error) {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.failed.list(nil), nil
}

// Pending returns the jobs not yet done in Seq order, read back from the file
// (only their sequence numbers are kept in memory).
func (l *Log) Pending() ([]*Job, error) {
	l.smu.Lock()
	defer l.smu.Unlock()
	out, err := l.readPending()
	if err != nil {
		return nil, fmt.Errorf("read journal: %w", err)
	}
	return out, nil
}

// readPending reads the live jobs from the file. The caller holds smu.
func (l *Log) readPending() ([]*Job, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(l.f, int64(len(logHeader)), l.size.Load()-int64(len(logHeader))), 1<<16)
	found := make(map[uint64]*Job, len(l.pending))
	var h [recHeaderLen]byte
	var payload []byte
	for {
		if _, err := io.ReadFull(r, h[:]); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		n := binary.LittleEndian.Uint32(h[4:])
		if binary.LittleEndian.Uint32(h[:]) != recMagic || n > maxRecordLen {
			return nil, fmt.Errorf("journal %s changed under the bridge: a record header is wrong", l.path)
		}
		payload = slices.Grow(payload[:0], int(n))[:n]
		if _, err := io.ReadFull(r, payload); err != nil {
			return nil, err
		}
		if crc32.Checksum(payload, castagnoli) != binary.LittleEndian.Uint32(h[8:]) {
			return nil, fmt.Errorf("journal %s changed under the bridge: a record fails its checksum", l.path)
		}
		e, err := decodeEntry(payload)
		if err != nil {
			continue // quarantined at the next open
		}
		for _, j := range e.Jobs {
			if _, live := l.pending[j.Seq]; live {
				found[j.Seq] = j
			}
		}
	}
	out := make([]*Job, 0, len(found))
	for _, j := range found {
		out = append(out, j)
	}
	sortJobs(out)
	return out, nil
}

func sortJobs(js []*Job) {
	slices.SortFunc(js, func(a, b *Job) int { return cmp.Compare(a.Seq, b.Seq) })
}

// Quarantined is how many damaged records were moved to the quarantine file
// (kept for inspection) since the journal was created.
func (l *Log) Quarantined() int {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.quarantined
}

// Evicted is how many failed entries the cap dropped since the store opened.
func (l *Log) Evicted() uint64 {
	l.smu.Lock()
	defer l.smu.Unlock()
	return l.failed.evicted - l.evictedBase
}

// Size is the log file's size.
func (l *Log) Size() int64 { return l.size.Load() }

// Durable is true.
func (l *Log) Durable() bool { return true }

// Syncs is how many fdatasyncs the store issued for appends and other
// changes since it opened (compactions not counted).
func (l *Log) Syncs() uint64 { return l.syncs.Load() }

// Close writes and syncs queued operations and closes the file.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.ops)
	l.mu.Unlock()
	l.wg.Wait()
	err := l.f.Close()
	if derr := l.dir.Close(); err == nil {
		err = derr
	}
	return err
}

// compactRunning rewrites the log with only its live records. Runs in the loop.
func (l *Log) compactRunning() error {
	l.smu.Lock()
	defer l.smu.Unlock()
	jobs, err := l.readPending()
	if err != nil {
		return err
	}
	return l.rewrite(jobs, l.failed.list(nil))
}

// rewrite writes the live state (jobs, failed, l.next) to a new file, syncs
// it, renames it over the log and syncs the directory, then continues on it.
// The caller holds smu (or is Open).
func (l *Log) rewrite(jobs []*Job, failed []Failed) error {
	tmp := l.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_RDWR, 0o600)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		f.Close()
		os.Remove(tmp)
		return err
	}
	w := bufio.NewWriterSize(f, 1<<16)
	size := int64(len(logHeader))
	pending := make(map[uint64]uint32, len(jobs))
	var pendingBytes int64
	put := func(e *entry) (int, error) {
		p, err := json.Marshal(e)
		if err != nil {
			return 0, err
		}
		rec := appendRecord(nil, p)
		if _, err := w.Write(rec); err != nil {
			return 0, err
		}
		size += int64(len(rec))
		return len(rec), nil
	}
	if _, err := w.WriteString(logHeader); err != nil {
		return fail(err)
	}
	if _, err := put(&entry{Next: l.next}); err != nil {
		return fail(err)
	}
	for c := range slices.Chunk(jobs, compactChunk) {
		n, err := put(&entry{Jobs: c})
		if err != nil {
			return fail(err)
		}
		for _, j := range c {
			pending[j.Seq] = uint32(n / len(c))
			pendingBytes += int64(n / len(c))
		}
	}
	for c := range slices.Chunk(failed, compactChunk) {
		if _, err := put(&entry{Fail: c}); err != nil {
			return fail(err)
		}
	}
	if err := w.Flush(); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := os.Rename(tmp, l.path); err != nil {
		return fail(err)
	}
	if err := l.dir.Sync(); err != nil {
		f.Close()
		return err
	}
	if l.f != nil {
		l.f.Close()
	}
	l.f = f
	l.size.Store(size)
	l.pending, l.pendingBytes = pending, pendingBytes
	return nil
}
