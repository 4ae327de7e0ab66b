package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// logBuf collects what Read logs.
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

var quiet = slog.New(slog.DiscardHandler)

// fixture copies testdata/NAME (journals the write side left before it was
// deleted) into a fresh directory and returns it.
func fixture(t *testing.T, name string) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join("testdata", name, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// read reads dir and returns the ids of the pending jobs and of the failed entries.
func read(t *testing.T, dir string, log *slog.Logger) (pending, failed []string) {
	t.Helper()
	p, f, err := Read(dir, log)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	for _, j := range p {
		pending = append(pending, j.ID)
	}
	for _, e := range f {
		failed = append(failed, e.ID)
	}
	return pending, failed
}

// recordStarts are the offsets of the records of a journal.log.
func recordStarts(t *testing.T, data []byte) []int {
	t.Helper()
	var starts []int
	for off := len(logHeader); off < len(data); {
		_, n, ok := frameAt(data[off:])
		if !ok {
			t.Fatalf("no record at %d", off)
		}
		starts = append(starts, off)
		off += n
	}
	return starts
}

func rewrite(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReadLog: the log's appends, done, failures, replay and a delete in a
// second cluster read back as the store left them.
func TestReadLog(t *testing.T) {
	p, f, err := Read(fixture(t, "log"), quiet)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range p {
		ids = append(ids, j.ID)
	}
	if !slices.Equal(ids, []string{"b", "d", "e"}) || len(f) != 1 || f[0].ID != "c" {
		t.Fatalf("pending %v, failed %+v; want b, d, e and c", ids, f)
	}
	if d, e := p[1], p[2]; d.Source != "replay" || e.Cluster != "east" || e.Action != ActionDelete || f[0].Reason != "manifest-unknown" {
		t.Errorf("records changed on the way: %+v %+v %+v", d, e, f[0])
	}
}

// TestReadNothing: a directory without a journal reads as nothing, quietly.
func TestReadNothing(t *testing.T) {
	var logs logBuf
	if p, f := read(t, t.TempDir(), logs.logger()); len(p)+len(f) != 0 || logs.String() != "" {
		t.Errorf("pending %v, failed %v, log %q", p, f, logs.String())
	}
}

// TestLogTornTailCutAtEveryOffset is the crash model: the last record cut at
// every byte offset reads as every earlier record and nothing else, logged
// at info, not quarantined.
func TestLogTornTailCutAtEveryOffset(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "log", logFile))
	if err != nil {
		t.Fatal(err)
	}
	starts := recordStarts(t, orig)
	for cut := starts[len(starts)-1]; cut < len(orig); cut++ {
		dir := t.TempDir()
		rewrite(t, filepath.Join(dir, logFile), orig[:cut])
		var logs logBuf
		p, f := read(t, dir, logs.logger())
		if !slices.Equal(p, []string{"b", "d"}) || !slices.Equal(f, []string{"c"}) {
			t.Errorf("cut at %d: pending %v, failed %v; want b, d and c", cut, p, f)
		}
		if cut > starts[len(starts)-1] && !strings.Contains(logs.String(), "level=INFO") {
			t.Errorf("cut at %d: the torn tail was not logged: %q", cut, logs.String())
		}
		if _, err := os.Stat(filepath.Join(dir, quarantineFile)); err == nil || strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("cut at %d: a torn tail counted as damage: %q", cut, logs.String())
		}
	}
}

// TestLogDamagedRecordsQuarantined: a record failing its checksum followed
// by good ones, and the last record at its full length failing it (damage:
// a torn write leaves a record short), are copied to the quarantine file and
// logged at error; the other records are read.
func TestLogDamagedRecordsQuarantined(t *testing.T) {
	orig, err := os.ReadFile(filepath.Join("testdata", "log", logFile))
	if err != nil {
		t.Fatal(err)
	}
	starts := append(recordStarts(t, orig), len(orig))
	for _, tc := range []struct {
		name            string
		record          int // which record is damaged
		pending, failed []string
	}{
		{"second record (a, b, c appended; the first is the empty one Open wrote)", 1, []string{"d", "e"}, []string{"c"}},
		{"last record (e appended)", len(starts) - 2, []string{"b", "d"}, []string{"c"}},
	} {
		dir := t.TempDir()
		data := bytes.Clone(orig)
		data[starts[tc.record+1]-1] ^= 0xff // the last byte of its payload
		rewrite(t, filepath.Join(dir, logFile), data)
		var logs logBuf
		p, f := read(t, dir, logs.logger())
		if !slices.Equal(p, tc.pending) || !slices.Equal(f, tc.failed) {
			t.Errorf("%s: pending %v, failed %v; want %v and %v", tc.name, p, f, tc.pending, tc.failed)
		}
		if !strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "never acknowledged") {
			t.Errorf("%s: log %q", tc.name, logs.String())
		}
		q, err := os.ReadFile(filepath.Join(dir, quarantineFile))
		if payload, n, ok := frameAt(q); err != nil || !ok || n != len(q) || !bytes.Equal(payload, data[starts[tc.record]:starts[tc.record+1]]) {
			t.Errorf("%s: the quarantine file does not hold the damaged record alone: %v", tc.name, err)
		}
	}
}

// TestEmptyMissingOrForeign: a log emptied to 0 bytes, or gone where its
// marker says one was, reads as nothing with an error in the log; a file
// without the header is ErrDamaged saying to move it aside.
func TestEmptyMissingOrForeign(t *testing.T) {
	dir := fixture(t, "log")
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
		if pending, failed := read(t, dir, logs.logger()); len(pending)+len(failed) != 0 ||
			!strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), tc.want) {
			t.Errorf("%s: %v, %v, log %q", tc.name, pending, failed, logs.String())
		}
	}
	rewrite(t, p, []byte("not a journal at all"))
	if _, _, err := Read(dir, quiet); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "mv "+p+" "+p+".bad") {
		t.Errorf("a foreign file: %v, want ErrDamaged saying to move it aside", err)
	}
}

// TestFailedListKeepsEachCluster: the same digest failing in two clusters
// (or as a map and a delete) keeps an entry each; failing again in the same
// cluster replaces the entry.
func TestFailedListKeepsEachCluster(t *testing.T) {
	s := newFailedSet(maxFailed)
	base := Job{Registry: "r", Repository: "ns/app", Tag: "v1", Digest: "sha256:1"}
	for i, mod := range []func(*Job){func(*Job) {}, func(j *Job) { j.Cluster = "east" }, func(j *Job) { j.Action = ActionDelete }, func(*Job) {}} {
		j := base
		j.Seq = uint64(i + 1)
		mod(&j)
		s.put(Failed{Job: j})
	}
	var seqs []uint64
	for _, f := range s.list() {
		seqs = append(seqs, f.Seq)
	}
	if !slices.Equal(seqs, []uint64{2, 3, 4}) {
		t.Errorf("failed list seqs %v, want [2 3 4]", seqs)
	}
	for i := range 5 { // and it stays bounded, the oldest dropped
		j := base
		j.Seq, j.Tag = uint64(10+i), string(rune('a'+i))
		s.max = 4
		s.put(Failed{Job: j})
	}
	if l := s.list(); len(l) != 4 || l[0].Seq != 11 {
		t.Errorf("bounded list %+v, want the 4 newest", l)
	}
}

func key(seq uint64) []byte { return binary.BigEndian.AppendUint64(nil, seq) }
