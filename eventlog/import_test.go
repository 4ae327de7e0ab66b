package eventlog

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/journal"
)

// TestImportJournalOnce: a journal left in dataDir is imported into the log
// at the first start (pending events verified, the failed list kept) and
// renamed; a second start imports nothing.
func TestImportJournalOnce(t *testing.T) {
	dir := t.TempDir()
	old, err := journal.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	// The retired journal's own records, as an older version wrote them.
	jobs := []*journal.Job{job("a", "v1", "sha256:1"), job("b", "v2", "sha256:2"), job("c", "v3", "sha256:3")}
	if err := old.Append(t.Context(), jobs); err != nil {
		t.Fatal(err)
	}
	old.Done(jobs[0].Seq)
	if err := old.Fail(journal.Failed{Job: *jobs[2], Reason: "manifest-unknown"}); err != nil {
		t.Fatal(err)
	}
	old.Close()

	l := openEmbedded(t, dir, Options{})
	p, f, err := l.Import(t.Context(), dir)
	if err != nil || p != 1 || f != 1 {
		t.Fatalf("Import = %d pending, %d failed, %v; want 1, 1", p, f, err)
	}
	got := consumeN(t, l, 1)
	if got[0].ID != "b" || !got[0].Verify {
		t.Errorf("imported event %+v, want b with Verify", got[0])
	}
	list, err := l.FailedList(t.Context())
	if err != nil || len(list) != 1 || list[0].ID != "c" {
		t.Errorf("failed list %+v, %v; want c", list, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal.log"+ImportedSuffix)); err != nil {
		t.Errorf("journal not renamed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal.log")); !os.IsNotExist(err) {
		t.Errorf("journal.log still there: %v", err)
	}
	if p, f, err := l.Import(t.Context(), dir); p != 0 || f != 0 || err != nil {
		t.Errorf("second Import = %d, %d, %v; want nothing", p, f, err)
	}
}
