package eventlog

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// journalFixture copies the journal the write side left in
// ../journal/testdata/NAME (before it was deleted) into a fresh dataDir.
func journalFixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	src := filepath.Join("..", "journal", "testdata", name)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestImportJournalOnce: a journal left in dataDir (journal.log, or the
// older bbolt journal.db) is imported into the log at the first start, its
// pending events verified and its failed list kept, and its files renamed;
// a second start imports nothing.
func TestImportJournalOnce(t *testing.T) {
	for _, tc := range []struct {
		fixture, file string
		pending       []string
	}{
		{"log", "journal.log", []string{"b", "d", "e"}}, // a done, c failed, d replayed, e a delete in cluster east
		{"bolt", "journal.db", []string{"b"}},           // a done, c failed
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			dir := journalFixture(t, tc.fixture)
			l := openEmbedded(t, dir, Options{})
			p, f, err := l.Import(t.Context(), dir)
			if err != nil || p != len(tc.pending) || f != 1 {
				t.Fatalf("Import = %d pending, %d failed, %v; want %d, 1", p, f, err, len(tc.pending))
			}
			var ids []string
			for _, j := range consumeN(t, l, len(tc.pending)) {
				ids = append(ids, j.ID)
				if !j.Verify {
					t.Errorf("imported event %+v without Verify", j)
				}
				if j.ID == "e" && (j.Cluster != "east" || j.Action != "delete") {
					t.Errorf("imported delete %+v lost its cluster or action", j)
				}
			}
			slices.Sort(ids)
			if !slices.Equal(ids, tc.pending) {
				t.Errorf("imported events %v, want %v", ids, tc.pending)
			}
			list, err := l.FailedList(t.Context())
			if err != nil || len(list) != 1 || list[0].ID != "c" || list[0].Reason != "manifest-unknown" {
				t.Errorf("failed list %+v, %v; want c (manifest-unknown)", list, err)
			}
			for _, f := range []string{tc.file, "journal.created"} {
				if _, err := os.Stat(filepath.Join(dir, f+ImportedSuffix)); err != nil {
					t.Errorf("%s not renamed: %v", f, err)
				}
				if _, err := os.Stat(filepath.Join(dir, f)); !os.IsNotExist(err) {
					t.Errorf("%s still there: %v", f, err)
				}
			}
			if p, f, err := l.Import(t.Context(), dir); p != 0 || f != 0 || err != nil {
				t.Errorf("second Import = %d, %d, %v; want nothing", p, f, err)
			}
		})
	}
}
