// Package journal reads the journal that serve kept in dataDir before the
// event log replaced it, so that eventlog.Import can move what it held into
// the log once. Nothing writes a journal any more.
//
// Two formats: journal.log, an append-only file of checksummed records, and
// the older bbolt file journal.db. Read applies the rules the stores that
// wrote them applied at start: a record cut short at the end of journal.log
// (a crash during a write; never acknowledged) is ignored, logged at info; a
// damaged record followed by good ones, or a last record at its full length
// failing its checksum, is copied to journal.log.quarantine and logged at
// error, and the rest proceeds; a record of journal.db that does not decode
// is skipped and logged at error (it stays in the file); a file that cannot be
// read at all is ErrDamaged, whose message says what to do.
package journal

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// Job is a journal record: the domain's job, whose JSON the journal stored.
type Job = bridge.Job

// ActionDelete is the Action of a job that deletes an image stream tag.
const ActionDelete = bridge.ActionDelete

// Failed is a failed-list record: the domain's failed job.
type Failed = bridge.FailedJob

// ErrDamaged is returned by Read when a journal file cannot be read. Its
// message says what to do: move the file aside and restart.
var ErrDamaged = errors.New("journal damaged")

// Files are the names of the journal's files in dataDir: the log, the older
// bbolt journal and the marker written when the journal was created.
var Files = []string{logFile, boltFile, markerFile}

// markerFile was written next to the journal when it was created, so that a
// journal that disappeared is noticed.
const markerFile = "journal.created"

func exists(dir, name string) bool {
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// maxFailed bounds the failed list as the stores did: beyond it the oldest
// entries were dropped, so a journal holds at most this many.
const maxFailed = 10000

// Read reads the journal in dir: journal.log and, when there, journal.db
// (its entries after the log's, as the migration from bbolt added them). It
// returns the jobs that were pending, in the order they were appended, and
// the failed list, oldest first; nothing when dir holds no journal (logged at
// error when its marker says it held one).
func Read(dir string, log *slog.Logger) (pending []*Job, failed []Failed, err error) {
	s := &state{jobs: map[uint64]*Job{}, failed: newFailedSet(maxFailed), log: log}
	if created, err := os.ReadFile(filepath.Join(dir, markerFile)); err == nil && !exists(dir, logFile) && !exists(dir, boltFile) {
		log.Error("journal: the journal file is MISSING although this dataDir held one: the events it held are lost; resync repairs the tags",
			"dir", dir, "created", string(created))
	}
	if err := s.readLog(filepath.Join(dir, logFile)); err != nil {
		return nil, nil, err
	}
	if err := s.readBolt(filepath.Join(dir, boltFile)); err != nil {
		return nil, nil, err
	}
	for _, j := range s.jobs {
		pending = append(pending, j)
	}
	slices.SortFunc(pending, func(a, b *Job) int { return cmp.Compare(a.Seq, b.Seq) })
	return pending, s.failed.list(), nil
}

// state is what the records read so far say.
type state struct {
	jobs   map[uint64]*Job // pending, by seq
	failed *failedSet
	next   uint64 // the highest seq seen
	log    *slog.Logger
}

func damaged(path string, cause error) error {
	return fmt.Errorf("%w: journal %s cannot be read (%v): move it aside (mv %s %s.bad) and restart; "+
		"the bridge then starts without it and resync repairs what it held", ErrDamaged, path, cause, path, path)
}

// failKey is what made two failures the same: a new failure of the same
// registry, repository, tag, digest, cluster and action replaced the old entry.
func failKey(j *Job) string {
	return j.Registry + "\x00" + j.Repository + "\x00" + j.Tag + "\x00" + j.Digest + "\x00" + j.ClusterName() + "\x00" + j.Action
}

// failedSet is the failed list: one entry per failure key, at most max
// entries, the oldest dropped first.
type failedSet struct {
	bySeq map[uint64]Failed
	idx   map[string]uint64 // failure key -> seq of its one entry
	order []uint64          // seqs, ascending
	max   int
}

func newFailedSet(max int) *failedSet {
	return &failedSet{bySeq: map[uint64]Failed{}, idx: map[string]uint64{}, max: max}
}

// put records f, replacing an earlier entry of the same key and dropping the
// oldest entries beyond max.
func (s *failedSet) put(f Failed) {
	k := failKey(&f.Job)
	if old, ok := s.idx[k]; ok {
		s.remove(old)
	}
	s.remove(f.Seq)
	s.bySeq[f.Seq], s.idx[k] = f, f.Seq
	i, _ := slices.BinarySearch(s.order, f.Seq)
	s.order = slices.Insert(s.order, i, f.Seq)
	for len(s.order) > s.max {
		s.remove(s.order[0])
	}
}

// remove deletes the entry of seq, if any.
func (s *failedSet) remove(seq uint64) {
	f, ok := s.bySeq[seq]
	if !ok {
		return
	}
	delete(s.bySeq, seq)
	if k := failKey(&f.Job); s.idx[k] == seq {
		delete(s.idx, k)
	}
	if i, found := slices.BinarySearch(s.order, seq); found {
		s.order = slices.Delete(s.order, i, i+1)
	}
}

// list returns the entries in Seq order.
func (s *failedSet) list() []Failed {
	out := make([]Failed, 0, len(s.order))
	for _, seq := range s.order {
		out = append(out, s.bySeq[seq])
	}
	return out
}
