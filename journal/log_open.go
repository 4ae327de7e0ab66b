package journal

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Open opens (creating) the journal in dir: the Log store in dir/journal.log.
// A bbolt journal (dir/journal.db) left by an earlier version is migrated:
// its pending jobs and failed list are copied into a new log and the old file
// is renamed journal.db.migrated. A log that cannot be read at all is
// reported as ErrDamaged with what to do; a damaged record is moved to
// quarantine and the rest proceeds; a torn last record is cut off.
func Open(dir string, opts ...Option) (*Log, error) {
	o := buildOptions(opts)
	l := &Log{path: filepath.Join(dir, logFile), log: o.log, ops: make(chan logOp, 4*maxBatch),
		pending: map[uint64]uint32{}, failed: newFailedSet(maxFailed), compactAt: compactBound}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create dataDir: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open dataDir: %w", err)
	}
	l.dir = d
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err = lockDir(d); err == nil {
			break
		}
		if time.Now().After(deadline) {
			d.Close()
			return nil, fmt.Errorf("open journal %s: locked by another process (another serve with the same dataDir?)", l.path)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := l.open(dir); err != nil {
		if l.f != nil {
			l.f.Close()
		}
		d.Close()
		return nil, err
	}
	l.wg.Add(1)
	go l.loop()
	return l, nil
}

func (l *Log) open(dir string) error {
	marker := filepath.Join(dir, markerFile)
	created, markerErr := os.ReadFile(marker)
	boltPath := filepath.Join(dir, "journal.db")
	_, boltErr := os.Stat(boltPath)
	data, err := os.ReadFile(l.path)
	switch {
	case errors.Is(err, os.ErrNotExist) && boltErr == nil:
		// migrated below
	case errors.Is(err, os.ErrNotExist) && markerErr == nil:
		l.log.Error("journal: the journal file is MISSING although this dataDir held one: the events it held are lost; starting with an empty journal, resync repairs the tags",
			"file", l.path, "created", string(created))
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("open journal %s: %w", l.path, err)
	case len(data) == 0:
		l.log.Error("journal: the journal file is EMPTY (0 bytes): the events it held are lost; starting with an empty journal, resync repairs the tags",
			"file", l.path)
	case len(data) < len(logHeader) || string(data[:len(logHeader)]) != logHeader:
		return l.damaged(errors.New("the file does not start with the journal header"))
	}
	if err := l.countQuarantine(); err != nil {
		return err
	}
	jobs, err := l.scan(data)
	if err != nil {
		return err
	}
	if boltErr == nil {
		// With a log already there (a migration that stopped before its
		// rename, or a downgrade and upgrade), the bbolt journal's entries are
		// added after the log's: a job applied twice is harmless, one lost is not.
		if jobs, err = l.migrate(dir, boltPath, jobs, len(data) > 0); err != nil {
			return err
		}
	}
	l.evictedBase = l.failed.evicted
	if err := l.rewrite(jobs, l.failed.list(nil)); err != nil {
		return fmt.Errorf("rewrite journal %s: %w", l.path, err)
	}
	if boltErr == nil {
		if err := os.Rename(boltPath, boltPath+".migrated"); err != nil {
			return fmt.Errorf("migrate journal: rename %s: %w", boltPath, err)
		}
		if err := l.dir.Sync(); err != nil {
			return err
		}
	}
	return l.writeMarker(marker, markerErr)
}

func (l *Log) writeMarker(marker string, markerErr error) error {
	if markerErr == nil {
		return nil
	}
	if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", marker, err)
	}
	return nil
}

func (l *Log) damaged(cause error) error {
	return fmt.Errorf("%w: journal %s cannot be read (%v): move it aside (mv %s %s.bad) and restart; "+
		"the bridge then starts with an empty journal and resync repairs what it held", ErrDamaged, l.path, cause, l.path, l.path)
}

// scan applies every record of data (the whole file) and returns the live
// pending jobs in Seq order.
func (l *Log) scan(data []byte) ([]*Job, error) {
	if len(data) == 0 {
		return nil, nil
	}
	jobs := map[uint64]*Job{}
	off := len(logHeader)
	for off < len(data) {
		payload, n, ok := frameAt(data[off:])
		if !ok {
			next := nextFrame(data, off+1)
			if next < 0 {
				if full := completeFrame(data[off:]); full > 0 {
					// At its full length a bad checksum is damage, not a torn write.
					if err := l.quarantine(data[off:off+full], off, errors.New("the last record, complete, fails its checksum")); err != nil {
						return nil, err
					}
					off += full
					continue
				}
				l.log.Info("journal: cut off a torn record at the end of the journal (a crash while it was written; it was never acknowledged)",
					"file", l.path, "offset", off, "bytes", len(data)-off)
				break
			}
			if err := l.quarantine(data[off:next], off, errors.New("a record cut short or failing its checksum, followed by good ones")); err != nil {
				return nil, err
			}
			off = next
			continue
		}
		e, err := decodeEntry(payload)
		if err != nil {
			if err := l.quarantine(data[off:off+n], off, err); err != nil {
				return nil, err
			}
			off += n
			continue
		}
		for _, s := range e.Done {
			delete(jobs, s)
		}
		for _, f := range e.Fail {
			delete(jobs, f.Seq)
		}
		for _, j := range e.Jobs {
			jobs[j.Seq] = j
		}
		l.apply(&e, n)
		off += n
	}
	out := make([]*Job, 0, len(jobs))
	for _, j := range jobs {
		out = append(out, j)
	}
	sortJobs(out)
	return out, nil
}

// quarantine appends damaged bytes, framed, to the quarantine file and syncs it.
func (l *Log) quarantine(b []byte, off int, cause error) error {
	q := filepath.Join(filepath.Dir(l.path), quarantineFile)
	f, err := os.OpenFile(q, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open %s: %w", q, err)
	}
	defer f.Close()
	if _, err := f.Write(appendRecord(nil, b)); err != nil {
		return fmt.Errorf("write %s: %w", q, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", q, err)
	}
	l.quarantined++
	l.log.Error("journal: a damaged record was moved to quarantine; the rest proceeds",
		"file", l.path, "offset", off, "bytes", len(b), "quarantine", q, "err", cause)
	return nil
}

// countQuarantine counts the records already in the quarantine file.
func (l *Log) countQuarantine() error {
	data, err := os.ReadFile(filepath.Join(filepath.Dir(l.path), quarantineFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for off := 0; off < len(data); {
		_, n, ok := frameAt(data[off:])
		if !ok {
			break
		}
		l.quarantined++
		off += n
	}
	return nil
}

// migrate adds a bbolt journal's pending jobs and failed list to the state
// (renumbered after the log's own when merge) and returns all pending jobs;
// the caller writes the log and then renames the bbolt file.
func (l *Log) migrate(dir, boltPath string, jobs []*Job, merge bool) ([]*Job, error) {
	b, err := OpenBolt(dir, WithLogger(l.log))
	if err != nil {
		return nil, err
	}
	defer b.Close()
	pending, err := b.Pending()
	if err != nil {
		return nil, fmt.Errorf("migrate journal %s: %w", boltPath, err)
	}
	failed, err := b.FailedList()
	if err != nil {
		return nil, fmt.Errorf("migrate journal %s: %w", boltPath, err)
	}
	var seq uint64
	if err := b.db.View(func(tx *bolt.Tx) error { seq = tx.Bucket(bucketPending).Sequence(); return nil }); err != nil {
		return nil, fmt.Errorf("migrate journal %s: %w", boltPath, err)
	}
	if !merge {
		l.next = max(l.next, seq)
	}
	for _, f := range failed {
		if merge {
			l.next++
			f.Seq = l.next
		}
		l.failed.put(f)
		l.next = max(l.next, f.Seq)
	}
	for _, j := range pending {
		if merge {
			l.next++
			j.Seq = l.next
		}
		l.next = max(l.next, j.Seq)
		l.pending[j.Seq] = 0
	}
	if merge {
		jobs = append(jobs, pending...)
	} else {
		jobs = pending
	}
	sortJobs(jobs)
	l.log.Info("journal: migrated the bbolt journal to the log", "from", boltPath, "to", l.path,
		"pending", len(pending), "failed", len(failed), "kept", boltPath+".migrated", "merged", merge)
	return jobs, nil
}
