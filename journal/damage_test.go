package journal

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// logBuf collects what the store logs.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// written leaves a real journal in dir: pending jobs and failed entries.
func written(t *testing.T, dir string, pending, failed int) {
	t.Helper()
	b, err := OpenBolt(dir, WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	js := jobs(pending+failed, "w")
	for i, j := range js {
		j.Tag = fmt.Sprint("t", i)
	}
	if err := b.Append(context.Background(), js); err != nil {
		t.Fatal(err)
	}
	for _, j := range js[pending:] {
		if err := b.Fail(Failed{Job: *j, Reason: "forbidden"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// poke rewrites one record of bucket directly in the file.
func poke(t *testing.T, dir string, bucket []byte, seq uint64, value string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "journal.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key(seq), []byte(value)) }); err != nil {
		t.Fatal(err)
	}
}

func wantDamaged(t *testing.T, dir string) {
	t.Helper()
	b, err := OpenBolt(dir, WithLogger(slog.New(slog.DiscardHandler)))
	if err == nil {
		b.Close()
		t.Fatal("a damaged journal opened")
	}
	p := filepath.Join(dir, "journal.db")
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "mv "+p+" "+p+".bad") {
		t.Fatalf("open: %v, want ErrDamaged saying to move the file aside", err)
	}
}

// TestDamagedPageIsAnError: any page of the tree overwritten with garbage
// (bbolt panics on it, in a goroutine of its own) makes OpenBolt return
// ErrDamaged with what to do, and so does a journal truncated mid-tree.
func TestDamagedPageIsAnError(t *testing.T) {
	clean := t.TempDir()
	written(t, clean, 300, 20)
	orig, err := os.ReadFile(filepath.Join(clean, "journal.db"))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := pickMeta(orig)
	w := &walker{data: orig, ps: uint64(m.pageSize), hw: m.highWater, seen: map[uint64]bool{}}
	if !ok || w.page(m.root, 0) != nil || len(w.seen) < 3 {
		t.Fatalf("clean journal: meta %v, %d reachable pages", ok, len(w.seen))
	}
	for id := range w.seen {
		t.Run(fmt.Sprint("page ", id), func(t *testing.T) {
			dir := t.TempDir()
			data := bytes.Clone(orig)
			copy(data[id*w.ps:(id+1)*w.ps], bytes.Repeat([]byte{0xa5}, int(w.ps)))
			if err := os.WriteFile(filepath.Join(dir, "journal.db"), data, 0o600); err != nil {
				t.Fatal(err)
			}
			wantDamaged(t, dir)
		})
	}
	t.Run("truncated", func(t *testing.T) {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "journal.db"), orig[:(m.highWater-1)*w.ps], 0o600); err != nil {
			t.Fatal(err)
		}
		wantDamaged(t, dir)
	})
}

// TestBadRecordsQuarantined: a pending record and a failed record that do
// not decode are moved aside, counted and logged; the rest proceeds.
func TestBadRecordsQuarantined(t *testing.T) {
	dir := t.TempDir()
	written(t, dir, 5, 3)
	poke(t, dir, bucketPending, 2, `{"seq":2,"tag":`)
	poke(t, dir, bucketFailed, 7, `{"seq":"seven"}`)
	var logs logBuf
	b, err := OpenBolt(dir, WithLogger(logs.logger()))
	if err != nil {
		t.Fatalf("open with one bad record: %v", err)
	}
	pending, err := b.Pending()
	if err != nil || len(pending) != 4 {
		t.Fatalf("pending %d, %v; want the 4 good ones", len(pending), err)
	}
	failed, err := b.FailedList()
	if err != nil || len(failed) != 2 {
		t.Fatalf("failed list %d, %v; want the 2 good ones", len(failed), err)
	}
	if r, err := b.Replay(nil); err != nil || len(r) != 2 {
		t.Fatalf("replay %d, %v", len(r), err)
	}
	if b.Quarantined() != 2 || strings.Count(logs.String(), "quarantine") != 2 {
		t.Fatalf("quarantined %d, log:\n%s", b.Quarantined(), logs.String())
	}
	b.Close()
	b, err = OpenBolt(dir, WithLogger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Quarantined() != 2 {
		t.Errorf("quarantine not kept across restarts: %d", b.Quarantined())
	}
	err = b.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketQuarantine).Get(append([]byte("pending/"), key(2)...)); string(v) != `{"seq":2,"tag":` {
			return fmt.Errorf("quarantined pending record is %q", v)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
}

// TestEmptyOrMissingJournalIsLoud: a journal emptied or removed where one
// existed starts empty, with an error in the log; a new one starts quietly.
func TestEmptyOrMissingJournalIsLoud(t *testing.T) {
	dir := t.TempDir()
	var logs logBuf
	b, err := OpenBolt(dir, WithLogger(logs.logger()))
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if logs.String() != "" {
		t.Fatalf("a new journal logged: %s", logs.String())
	}
	written(t, dir, 10, 2)
	p := filepath.Join(dir, "journal.db")
	for _, tc := range []struct {
		name, want string
		damage     func() error
	}{
		{"zero bytes", "EMPTY", func() error { return os.Truncate(p, 0) }},
		{"missing", "MISSING", func() error { return os.Remove(p) }},
	} {
		if err := tc.damage(); err != nil {
			t.Fatal(err)
		}
		var logs logBuf
		b, err := OpenBolt(dir, WithLogger(logs.logger()))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if p, _ := b.Pending(); len(p) != 0 {
			t.Errorf("%s: %d pending", tc.name, len(p))
		}
		b.Close()
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: not logged loudly: %q", tc.name, logs.String())
		}
	}
}

type panicHandler struct{ slog.Handler }

func (panicHandler) Enabled(context.Context, slog.Level) bool { return true }
func (panicHandler) Handle(context.Context, slog.Record) error {
	panic("a bug in the caller's logger")
}

// TestPanicOutsideOpenPropagates: only bbolt's panics while opening become
// ErrDamaged; a panic in other code (here the caller's logger) is not hidden.
func TestPanicOutsideOpenPropagates(t *testing.T) {
	dir := t.TempDir()
	written(t, dir, 2, 0)
	poke(t, dir, bucketPending, 1, `garbage`)
	defer func() {
		if r := recover(); r != "a bug in the caller's logger" {
			t.Fatalf("recovered %v, want the logger's panic", r)
		}
	}()
	b, err := OpenBolt(dir, WithLogger(slog.New(panicHandler{})))
	t.Fatalf("OpenBolt returned (%v, %v) instead of panicking", b, err)
}

// testFailedListBounds: one entry per key, a cap that drops the oldest, and Drop.
func testFailedListBounds(t *testing.T, st Store, setCap func(int)) {
	ctx := context.Background()
	fail := func(tag, dgst string) *Job {
		j := &Job{Registry: "r", Repository: "ns/s", Namespace: "ns", Stream: "s", Tag: tag, Digest: dgst}
		if err := st.Append(ctx, []*Job{j}); err != nil {
			t.Fatal(err)
		}
		if err := st.Fail(Failed{Job: *j, Reason: "forbidden"}); err != nil {
			t.Fatal(err)
		}
		return j
	}
	fail("a", "sha256:1")
	second := fail("a", "sha256:1") // the same failure again: replaces
	fail("a", "sha256:2")           // another digest: a second entry
	list, _ := st.FailedList()
	if len(list) != 2 || list[0].Seq != second.Seq {
		t.Fatalf("failed list %+v, want the newer sha256:1 and sha256:2", list)
	}
	if n, err := st.Drop([]uint64{second.Seq, 999}); n != 1 || err != nil {
		t.Fatalf("drop one: %d, %v", n, err)
	}
	if list, _ := st.FailedList(); len(list) != 1 || list[0].Digest != "sha256:2" {
		t.Fatalf("after drop: %+v", list)
	}
	fail("a", "sha256:1") // dropped key fails again: a new entry
	if n, _ := st.Drop(nil); n != 2 {
		t.Fatalf("drop all removed %d, want 2", n)
	}
	setCap(3)
	for i := range 5 {
		fail(fmt.Sprint("t", i), "sha256:1")
	}
	list, _ = st.FailedList()
	if len(list) != 3 || list[0].Tag != "t2" || st.Evicted() != 2 {
		t.Fatalf("capped list %d entries from %s, evicted %d; want 3 from t2, 2 evicted", len(list), list[0].Tag, st.Evicted())
	}
	fail("t3", "sha256:1") // replacing at the cap evicts nothing
	if list, _ := st.FailedList(); len(list) != 3 || st.Evicted() != 2 {
		t.Fatalf("replacement at the cap: %d entries, %d evicted", len(list), st.Evicted())
	}
}

func TestBoltFailedListBounds(t *testing.T) {
	b, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testFailedListBounds(t, b, func(n int) { b.maxFailed = n })
}

func TestMemoryFailedListBounds(t *testing.T) {
	m := NewMemory()
	testFailedListBounds(t, m, func(n int) { m.max = n })
}

func TestLogFailedListBounds(t *testing.T) {
	l, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	testFailedListBounds(t, l, func(n int) { l.smu.Lock(); l.failed.max = n; l.smu.Unlock() })
}
