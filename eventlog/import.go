package eventlog

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/imagestream-bridge/imagestream-bridge/journal"
)

// ImportedSuffix is added to the journal files once their events are in the log.
const ImportedSuffix = ".imported"

// Import moves a journal left in dir (journal.log, or the older bbolt
// journal.db) into the log once: its pending events are appended (Verify set:
// they may be older than what was applied meanwhile) and its failed list
// recorded, then the journal's files are renamed with ImportedSuffix so
// nothing reads them again. The journal is read by package journal with the
// rules of the stores that wrote it (a damaged record is quarantined and
// logged at ERROR, an unreadable file is ErrDamaged with what to do). A crash
// before the rename imports again: events are deduplicated by id, failed
// entries replace themselves, and an event applied twice is harmless. It
// returns how many pending events and failed entries it imported; 0, 0 and
// nil when there is no journal.
func (l *Log) Import(ctx context.Context, dir string) (pending, failed int, err error) {
	found := false
	for _, f := range journal.Files {
		if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
			found = true
		}
	}
	if !found {
		return 0, 0, nil
	}
	jobs, list, err := journal.Read(dir, l.opts.Logger)
	if err != nil {
		return 0, 0, fmt.Errorf("import journal: %w", err)
	}
	for _, jb := range jobs {
		jb.Verify = true // may be older than what was applied since
	}
	for start := 0; start < len(jobs); start += 256 {
		if err := l.Append(ctx, jobs[start:min(start+256, len(jobs))]); err != nil {
			return 0, 0, fmt.Errorf("import journal: %w", err)
		}
	}
	for _, f := range list {
		f.Seq = 0 // not an event of this log: nothing to ack
		if err := l.Fail(ctx, f); err != nil {
			return 0, 0, fmt.Errorf("import journal: %w", err)
		}
	}
	var kept []string
	for _, f := range journal.Files {
		p := filepath.Join(dir, f)
		err := os.Rename(p, p+ImportedSuffix)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return 0, 0, fmt.Errorf("import journal: %w", err)
		}
		if err == nil {
			kept = append(kept, f+ImportedSuffix)
		}
	}
	l.opts.Logger.Info("event log: imported the journal", "dir", dir, "pending", len(jobs), "failed", len(list), "kept", kept)
	return len(jobs), len(list), nil
}
