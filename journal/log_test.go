package journal

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var quiet = WithLogger(slog.New(slog.DiscardHandler))

func openLog(t *testing.T, dir string, opts ...Option) *Log {
	t.Helper()
	if len(opts) == 0 {
		opts = []Option{quiet}
	}
	l, err := Open(dir, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// seqsOf lists the seqs of pending jobs.
func seqsOf(t *testing.T, st Store) []uint64 {
	t.Helper()
	p, err := st.Pending()
	if err != nil {
		t.Fatal(err)
	}
	var out []uint64
	for _, j := range p {
		out = append(out, j.Seq)
	}
	return out
}

// appendEach appends n jobs, one record each, and closes the log without
// compacting; it returns the file offsets where each record ends.
func appendEach(t *testing.T, dir string, n int) []int64 {
	t.Helper()
	l := openLog(t, dir)
	var ends []int64
	for i := range n {
		if err := l.Append(context.Background(), jobs(1, fmt.Sprint("t", i))); err != nil {
			t.Fatal(err)
		}
		ends = append(ends, l.Size())
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return ends
}

// TestLogTornTailCutAtEveryOffset is the crash model: the last record cut at
// every byte offset reopens with every earlier,
// fully synced append and nothing else, logged at info, not quarantined.
func TestLogTornTailCutAtEveryOffset(t *testing.T) {
	src := t.TempDir()
	ends := appendEach(t, src, 5)
	orig, err := os.ReadFile(filepath.Join(src, logFile))
	if err != nil {
		t.Fatal(err)
	}
	lastStart, lastEnd := ends[3], ends[4]
	cases := map[string][]byte{}
	for cut := lastStart; cut < lastEnd; cut++ {
		cases[fmt.Sprint("cut at ", cut)] = orig[:cut]
	}
	for name, data := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, logFile), data, 0o600); err != nil {
			t.Fatal(err)
		}
		var logs logBuf
		l := openLog(t, dir, WithLogger(logs.logger()))
		got := seqsOf(t, l)
		if !slices.Equal(got, []uint64{1, 2, 3, 4}) {
			t.Errorf("%s: pending %v, want [1 2 3 4]", name, got)
		}
		if int64(len(data)) > lastStart && !strings.Contains(logs.String(), "level=INFO") {
			t.Errorf("%s: the torn tail was not logged: %q", name, logs.String())
		}
		if l.Quarantined() != 0 || strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("%s: a torn tail counted as damage: %q", name, logs.String())
		}
		// Appends continue after the cut: the next seq is new.
		js := jobs(1, "after")
		if err := l.Append(context.Background(), js); err != nil || js[0].Seq <= 4 {
			t.Errorf("%s: append after the cut: seq %d, %v", name, js[0].Seq, err)
		}
		l.Close()
		if got := seqsOf(t, reopen(t, dir)); len(got) != 5 {
			t.Errorf("%s: after reopen pending %v", name, got)
		}
	}
}

func reopen(t *testing.T, dir string) *Log {
	l := openLog(t, dir)
	t.Cleanup(func() { l.Close() })
	return l
}

// TestLogDamagedMiddleQuarantined: a record that fails its checksum followed
// by good ones is moved to the quarantine file, counted and logged at error;
// the records after it are kept, and the count survives a restart.
func TestLogDamagedMiddleQuarantined(t *testing.T) {
	dir := t.TempDir()
	ends := appendEach(t, dir, 5)
	p := filepath.Join(dir, logFile)
	data, _ := os.ReadFile(p)
	data[ends[1]+recHeaderLen+3] ^= 0x40 // in the payload of seq 3's record
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	l := openLog(t, dir, WithLogger(logs.logger()))
	if got := seqsOf(t, l); !slices.Equal(got, []uint64{1, 2, 4, 5}) {
		t.Errorf("pending %v, want [1 2 4 5]", got)
	}
	if l.Quarantined() != 1 || !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "quarantine") {
		t.Errorf("quarantined %d, log %q", l.Quarantined(), logs.String())
	}
	l.Close()
	q, err := os.ReadFile(filepath.Join(dir, quarantineFile))
	if payload, _, ok := frameAt(q); err != nil || !ok || !bytes.Equal(payload, data[ends[1]:ends[2]]) {
		t.Errorf("quarantine file does not hold the damaged record: %v", err)
	}
	if n := reopen(t, dir).Quarantined(); n != 1 {
		t.Errorf("quarantine count after restart %d", n)
	}
}

// TestLogDamagedFinalRecordQuarantined: the last record at its full length
// failing its checksum is damage (a torn write leaves a record short), not a
// crash: it is quarantined and logged at error, never dropped as "never
// acknowledged". Issue 19's import of old journals reads through scan too.
func TestLogDamagedFinalRecordQuarantined(t *testing.T) {
	dir := t.TempDir()
	ends := appendEach(t, dir, 5)
	p := filepath.Join(dir, logFile)
	data, _ := os.ReadFile(p)
	data[ends[4]-1] ^= 0xff // the last byte of seq 5's record
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	var logs logBuf
	l := openLog(t, dir, WithLogger(logs.logger()))
	if got := seqsOf(t, l); !slices.Equal(got, []uint64{1, 2, 3, 4}) {
		t.Errorf("pending %v, want [1 2 3 4]", got)
	}
	if l.Quarantined() != 1 || !strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "never acknowledged") {
		t.Errorf("quarantined %d, log %q", l.Quarantined(), logs.String())
	}
	l.Close()
	q, err := os.ReadFile(filepath.Join(dir, quarantineFile))
	if payload, _, ok := frameAt(q); err != nil || !ok || !bytes.Equal(payload, data[ends[3]:ends[4]]) {
		t.Errorf("quarantine file does not hold the damaged record: %v", err)
	}
	if n := reopen(t, dir).Quarantined(); n != 1 {
		t.Errorf("quarantine count after restart %d", n)
	}
}

// TestLogEmptyOrMissingIsLoud: a log emptied or removed where one existed
// starts empty with an error in the log; a log without its header is ErrDamaged.
func TestLogEmptyOrMissingIsLoud(t *testing.T) {
	dir := t.TempDir()
	var logs logBuf
	l := openLog(t, dir, WithLogger(logs.logger()))
	l.Close()
	if logs.String() != "" {
		t.Fatalf("a new journal logged: %s", logs.String())
	}
	appendEach(t, dir, 3)
	p := filepath.Join(dir, logFile)
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
		l := openLog(t, dir, WithLogger(logs.logger()))
		if got := seqsOf(t, l); len(got) != 0 {
			t.Errorf("%s: pending %v", tc.name, got)
		}
		l.Close()
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: not logged loudly: %q", tc.name, logs.String())
		}
	}
	if err := os.WriteFile(p, []byte("not a journal at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(dir, quiet)
	if err == nil || !strings.Contains(err.Error(), "mv "+p+" "+p+".bad") {
		t.Errorf("open of a foreign file: %v, want ErrDamaged saying to move it aside", err)
	}
}

// TestLogCompactionKeepsLiveState: a log grown past the bound with mostly
// done jobs is rewritten while running; pending, failed list and the next
// seq are exactly what they were.
func TestLogCompactionKeepsLiveState(t *testing.T) {
	dir := t.TempDir()
	l := openLog(t, dir)
	l.compactAt = 4 << 20 // set before any commit; the loop reads it
	big := strings.Repeat("x", 16<<10)
	var live []uint64
	var failed Failed
	var peak int64
	for i := 0; l.Size() >= peak || i < 10; i++ {
		peak = max(peak, l.Size())
		js := jobs(16, fmt.Sprint("c", i))
		for _, j := range js {
			j.ID = big
		}
		if err := l.Append(context.Background(), js); err != nil {
			t.Fatal(err)
		}
		switch i {
		case 3:
			live = append(live, js[0].Seq, js[5].Seq)
		case 4:
			failed = Failed{Job: *js[0], Reason: "forbidden"}
			if err := l.Fail(failed); err != nil {
				t.Fatal(err)
			}
		}
		for _, j := range js {
			if i != 3 || (j.Seq != live[0] && j.Seq != live[1]) {
				l.Done(j.Seq)
			}
		}
		if i > 2000 {
			t.Fatal("the log never compacted")
		}
	}
	// One more append forces the dones out and a compaction check.
	last := jobs(1, "last")
	if err := l.Append(context.Background(), last); err != nil {
		t.Fatal(err)
	}
	if peak < 3<<20 || l.Size() > peak/2 {
		t.Fatalf("log is %d bytes after a peak of %d, not compacted", l.Size(), peak)
	}
	live = append(live, last[0].Seq)
	check := func(st *Log, when string) {
		if got := seqsOf(t, st); !slices.Equal(got, live) {
			t.Errorf("%s: pending %v, want %v", when, got, live)
		}
		list, _ := st.FailedList()
		if len(list) != 1 || list[0].Seq != failed.Seq || list[0].Reason != "forbidden" {
			t.Errorf("%s: failed list %d entries", when, len(list))
		}
		js := jobs(1, "next")
		want := live[len(live)-1] + 1
		if err := st.Append(context.Background(), js); err != nil || js[0].Seq != want {
			t.Errorf("%s: next seq %d, want %d", when, js[0].Seq, want)
		}
		live = append(live, js[0].Seq)
	}
	check(l, "running")
	l.Close()
	check(reopen(t, dir), "reopened")
}

// TestLogMigratesBolt: a bbolt journal with pending and failed entries (and
// no log) becomes a log holding exactly them; journal.db is renamed
// journal.db.migrated and the next seq continues after bbolt's.
func TestLogMigratesBolt(t *testing.T) {
	dir := t.TempDir()
	written(t, dir, 6, 3)
	b, err := OpenBolt(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	b.Done(2)
	wantPending, _ := b.Pending()
	wantFailed, _ := b.FailedList()
	b.Close()
	wantPending = slices.DeleteFunc(wantPending, func(j *Job) bool { return j.Seq == 2 })
	var logs logBuf
	l := openLog(t, dir, WithLogger(logs.logger()))
	defer l.Close()
	gotPending, _ := l.Pending()
	gotFailed, _ := l.FailedList()
	if fmt.Sprint(jobValues(gotPending)) != fmt.Sprint(jobValues(wantPending)) || len(gotPending) != 5 {
		t.Errorf("pending %v, want %v", jobValues(gotPending), jobValues(wantPending))
	}
	if fmt.Sprint(gotFailed) != fmt.Sprint(wantFailed) || len(gotFailed) != 3 {
		t.Errorf("failed %v, want %v", gotFailed, wantFailed)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal.db")); !os.IsNotExist(err) {
		t.Errorf("journal.db still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal.db.migrated")); err != nil {
		t.Error(err)
	}
	if !strings.Contains(logs.String(), "level=INFO") || !strings.Contains(logs.String(), "migrated") {
		t.Errorf("migration not logged: %q", logs.String())
	}
	js := jobs(1, "after")
	if err := l.Append(context.Background(), js); err != nil || js[0].Seq != 10 {
		t.Errorf("first seq after migration %d, want 10", js[0].Seq)
	}
}

func jobValues(js []*Job) []Job {
	out := make([]Job, len(js))
	for i, j := range js {
		out[i] = *j
	}
	return out
}

// TestLogOneSyncPerGroupCommit: appends queued while a commit is under way share
// the next write and its one fdatasync, and a Done rides with them. It is
// deterministic: the loop is held after its first fdatasync (on smu, which
// commit takes to apply what it wrote) until the 64 appends and the Done are
// all in its queue, so the group is known; exactly 2 fdatasyncs, where an
// fdatasync per append would be 65.
func TestLogOneSyncPerGroupCommit(t *testing.T) {
	l := openLog(t, t.TempDir())
	defer l.Close()
	base := l.Syncs()

	l.smu.Lock()
	first := make(chan error, 1)
	go func() { first <- l.Append(context.Background(), jobs(1, "a")) }()
	waitFor(t, "the first append's fdatasync", func() bool { return l.Syncs()-base == 1 })

	const n = 64
	l.Done(1)
	errs := make(chan error, n)
	for i := range n {
		go func() { errs <- l.Append(context.Background(), jobs(1, fmt.Sprint(i))) }()
	}
	waitFor(t, "the appends to queue", func() bool { return len(l.ops) == n+1 })
	l.smu.Unlock()

	if err := <-first; err != nil {
		t.Fatal(err)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if got := l.Syncs() - base; got != 2 {
		t.Fatalf("1 append, then %d appends and a Done queued during its commit: %d fdatasyncs, want 2", n, got)
	}
	if got := len(seqsOf(t, l)); got != n {
		t.Errorf("%d pending after the Done of the first, want %d", got, n)
	}
}

// waitFor polls cond (a state the test arranged, not a duration) for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkAppend compares the stores with 1, 4 and 16 concurrent appenders.
func BenchmarkAppend(b *testing.B) {
	for _, conc := range []int{1, 4, 16} {
		for _, kind := range []string{"bolt", "log"} {
			b.Run(fmt.Sprintf("%s/appenders=%d", kind, conc), func(b *testing.B) {
				var st Store
				var syncs func() uint64
				if kind == "bolt" {
					bs, err := OpenBolt(b.TempDir(), quiet)
					if err != nil {
						b.Fatal(err)
					}
					st, syncs = bs, func() uint64 { return 2 * bs.commits.Load() }
				} else {
					ls, err := Open(b.TempDir(), quiet)
					if err != nil {
						b.Fatal(err)
					}
					st, syncs = ls, ls.Syncs
				}
				defer st.Close()
				start := syncs()
				b.SetParallelism(1)
				var wg sync.WaitGroup
				per := (b.N + conc - 1) / conc
				b.ResetTimer()
				for range conc {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for range per {
							js := jobs(1, "b")
							if err := st.Append(context.Background(), js); err != nil {
								b.Error(err)
								return
							}
							st.Done(js[0].Seq)
						}
					}()
				}
				wg.Wait()
				b.ReportMetric(float64(syncs()-start)/float64(per*conc), "syncs/op")
			})
		}
	}
}

// TestLogMergesBoltBesideLog: a journal.db found next to an existing log (a
// migration stopped before its rename, or a downgrade and upgrade) is added
// to the log, renumbered after it: nothing of either is lost.
func TestLogMergesBoltBesideLog(t *testing.T) {
	src, dir := t.TempDir(), t.TempDir()
	appendEach(t, src, 2)
	written(t, dir, 3, 1)
	data, err := os.ReadFile(filepath.Join(src, logFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, logFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	l := reopen(t, dir)
	p, _ := l.Pending()
	var tags []string
	for _, j := range p {
		tags = append(tags, fmt.Sprint(j.Seq, j.Tag))
	}
	if strings.Join(tags, ",") != "1t0,2t1,4t0,5t1,6t2" {
		t.Errorf("pending %v, want the log's two then bbolt's three", tags)
	}
	if f, _ := l.FailedList(); len(f) != 1 || f[0].Tag != "t3" || f[0].Seq != 3 {
		t.Errorf("failed list %+v", f)
	}
	if _, err := os.Stat(filepath.Join(dir, "journal.db")); !os.IsNotExist(err) {
		t.Errorf("journal.db still there: %v", err)
	}
}
