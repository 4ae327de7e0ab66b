package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// ErrDamaged is returned by OpenBolt when the journal file cannot be read.
// Its message says what to do: move the file aside and restart.
var ErrDamaged = errors.New("journal damaged")

// Option tunes Open and OpenBolt.
type Option func(*options)

type options struct{ log *slog.Logger }

// WithLogger receives what the store has to report: records moved to
// quarantine, a torn tail cut off, and a journal that is empty or missing
// where one existed. Default: slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

func buildOptions(opts []Option) options {
	o := options{log: slog.Default()}
	for _, f := range opts {
		f(&o)
	}
	return o
}

// markerFile sits next to the journal once it has been created, so that a
// journal that disappears (or is replaced by an empty file) is noticed.
const markerFile = "journal.created"

// OpenBolt opens (creating) the journal in dir. A file bbolt cannot read
// (even one that makes it panic) is reported as ErrDamaged with what to do;
// a record that does not decode is moved to quarantine and the rest proceeds.
func OpenBolt(dir string, opts ...Option) (*Bolt, error) {
	b := &Bolt{path: filepath.Join(dir, "journal.db"), log: buildOptions(opts).log, ops: make(chan op, 4*maxBatch), maxFailed: maxFailed}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create dataDir: %w", err)
	}
	marker := filepath.Join(dir, markerFile)
	fi, statErr := os.Stat(b.path)
	created, markerErr := os.ReadFile(marker)
	switch {
	case statErr == nil && fi.Size() == 0:
		b.log.Error("journal: the journal file is EMPTY (0 bytes): the events it held are lost; starting with an empty journal, resync repairs the tags",
			"file", b.path)
	case errors.Is(statErr, os.ErrNotExist) && markerErr == nil:
		b.log.Error("journal: the journal file is MISSING although this dataDir held one: the events it held are lost; starting with an empty journal, resync repairs the tags",
			"file", b.path, "created", string(created))
	}

	var bad []badRecord
	err := b.openAndScan(&bad)
	if err != nil {
		return nil, err
	}
	for _, r := range bad {
		b.log.Error("journal: a damaged record was moved to quarantine; the rest proceeds",
			"file", b.path, "list", r.list, "key", fmt.Sprintf("%x", r.key), "err", r.err)
	}
	if markerErr != nil {
		if err := os.WriteFile(marker, []byte(time.Now().UTC().Format(time.RFC3339)), 0o600); err != nil {
			b.db.Close()
			return nil, fmt.Errorf("write %s: %w", marker, err)
		}
	}
	b.wg.Add(1)
	go b.loop()
	return b, nil
}

type badRecord struct {
	list string
	key  []byte
	err  error
}

// openAndScan opens the file and reads every record once. bbolt panics on
// some damaged pages; a panic here, and only here, becomes ErrDamaged.
// Nothing in this function calls code of the caller's (the logger runs after).
func (b *Bolt) openAndScan(bad *[]badRecord) (err error) {
	defer func() {
		if r := recover(); r != nil {
			if b.db != nil {
				_ = b.db.Close()
			}
			err = b.damaged(fmt.Errorf("bbolt panicked: %v", r))
		}
	}()
	if err := checkFile(b.path); err != nil {
		return b.damaged(err)
	}
	db, err := bolt.Open(b.path, 0o600, &bolt.Options{Timeout: 5 * time.Second, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("open journal %s: locked by another process (another serve with the same dataDir?)", b.path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("open journal %s: %w", b.path, err)
	case err != nil:
		return b.damaged(err)
	}
	b.db = db
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketPending, bucketFailed, bucketQuarantine} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		q := tx.Bucket(bucketQuarantine)
		for _, name := range [][]byte{bucketPending, bucketFailed} {
			if err := quarantine(tx.Bucket(name), q, string(name), bad); err != nil {
				return err
			}
		}
		var err error
		b.failedIdx, err = indexFailed(tx.Bucket(bucketFailed), b.maxFailed)
		if err != nil {
			return err
		}
		n := 0
		if err := q.ForEach(func(_, _ []byte) error { n++; return nil }); err != nil {
			return err
		}
		b.quarantined.Store(int64(n))
		return nil
	})
	if err != nil {
		db.Close()
		return b.damaged(err)
	}
	return nil
}

func (b *Bolt) damaged(cause error) error {
	return fmt.Errorf("%w: journal %s cannot be read (%v): move it aside (mv %s %s.bad) and restart; "+
		"the bridge then starts with an empty journal and resync repairs what it held", ErrDamaged, b.path, cause, b.path, b.path)
}

// quarantine moves records of bucket that do not decode into q, under "LIST/KEY".
func quarantine(bucket, q *bolt.Bucket, list string, bad *[]badRecord) error {
	var moved []badRecord
	var vals [][]byte
	err := bucket.ForEach(func(k, v []byte) error {
		var probe map[string]any
		err := json.Unmarshal(v, &probe)
		if err == nil && len(k) != 8 {
			err = fmt.Errorf("key of %d bytes, want 8", len(k))
		}
		if err == nil {
			var f Failed // both Job and Failed decode into it; a wrongly typed field fails here
			err = json.Unmarshal(v, &f)
			if err == nil && f.Seq != binary.BigEndian.Uint64(k) {
				err = fmt.Errorf("record seq %d does not match its key", f.Seq)
			}
		}
		if err != nil {
			moved = append(moved, badRecord{list: list, key: append([]byte(nil), k...), err: err})
			vals = append(vals, append([]byte(nil), v...))
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, r := range moved {
		if err := q.Put(append([]byte(list+"/"), r.key...), vals[i]); err != nil {
			return err
		}
		if err := bucket.Delete(r.key); err != nil {
			return err
		}
	}
	*bad = append(*bad, moved...)
	return nil
}

// indexFailed keeps one entry per failure key (the newest) and at most
// max entries, and returns the index.
func indexFailed(fb *bolt.Bucket, max int) (map[string]uint64, error) {
	idx := map[string]uint64{}
	var stale [][]byte
	err := fb.ForEach(func(k, v []byte) error {
		var f Failed
		if json.Unmarshal(v, &f) != nil {
			return nil
		}
		fk := failKey(&f.Job)
		if old, ok := idx[fk]; ok {
			stale = append(stale, key(old))
		}
		idx[fk] = f.Seq
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range stale {
		if err := fb.Delete(k); err != nil {
			return nil, err
		}
	}
	evicted, err := trimFailed(fb, len(idx), max)
	if err != nil {
		return nil, err
	}
	for _, fk := range evicted {
		delete(idx, fk)
	}
	return idx, nil
}
