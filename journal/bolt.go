package journal

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"
)

// journal.db is a bbolt file with the buckets pending and failed, each
// record the JSON of a Job or Failed under its seq (8 bytes, big-endian), and
// a bucket quarantine of records moved aside when it was opened.
const boltFile = "journal.db"

var (
	bucketPending = []byte("pending")
	bucketFailed  = []byte("failed")
)

// readBolt adds the pending jobs and failed entries of the bbolt journal at
// path, if there, to the state, numbered after what it holds. The file is
// walked first (checkFile) and opened read-only: bbolt's free-list scan,
// whose panic on a damaged page no recover can catch, runs only for writers.
// A panic while reading, and only there, becomes ErrDamaged.
func (s *state) readBolt(path string) (err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := checkFile(path); err != nil {
		return damaged(path, err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 5 * time.Second})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("read journal %s: locked by another process (an older serve with the same dataDir?)", path)
	case errors.Is(err, os.ErrPermission):
		return fmt.Errorf("read journal %s: %w", path, err)
	case err != nil:
		return damaged(path, err)
	}
	defer db.Close()
	var bad []string // logged after the read: nothing of the caller's runs under the recover
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = damaged(path, fmt.Errorf("bbolt panicked: %v", r))
			}
		}()
		err = db.View(func(tx *bolt.Tx) error { bad = s.readBuckets(tx); return nil })
	}()
	for _, b := range bad {
		s.log.Error("journal: skipped a damaged record (it stays in the file); the rest proceeds", "file", path, "record", b)
	}
	return err
}

// readBuckets reads the pending and failed buckets into the state and
// returns what it skipped.
func (s *state) readBuckets(tx *bolt.Tx) (bad []string) {
	base := s.next
	for _, name := range [][]byte{bucketPending, bucketFailed} {
		b := tx.Bucket(name)
		if b == nil {
			continue
		}
		_ = b.ForEach(func(k, v []byte) error {
			var f Failed // both Job and Failed decode into it; a wrongly typed field fails here
			err := json.Unmarshal(v, &f)
			if err == nil && (len(k) != 8 || f.Seq != binary.BigEndian.Uint64(k)) {
				err = fmt.Errorf("record seq %d does not match its key", f.Seq)
			}
			if err != nil {
				bad = append(bad, fmt.Sprintf("%s/%x: %v", name, k, err))
				return nil
			}
			f.Seq += base
			s.next = max(s.next, f.Seq)
			if string(name) == string(bucketPending) {
				j := f.Job
				s.jobs[j.Seq] = &j
			} else {
				s.failed.put(f)
			}
			return nil
		})
	}
	return bad
}
