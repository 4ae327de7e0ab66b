package journal

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestWriteFixtures writes testdata/log and testdata/bolt with the journal's
// write side, as serve left them before the event log replaced it. It ran
// once (JOURNAL_WRITE_FIXTURES=1) before the write side was deleted (issue
// 22 item 7); the files are committed and the read side's tests read them.
func TestWriteFixtures(t *testing.T) {
	if os.Getenv("JOURNAL_WRITE_FIXTURES") == "" {
		t.Skip("set JOURNAL_WRITE_FIXTURES=1 to write testdata")
	}
	ctx := context.Background()
	at := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
	job := func(id, tag, digest string) *Job {
		return &Job{ID: id, Registry: "quay", Repository: "team/app", Namespace: "team", Stream: "app", Tag: tag,
			Digest: digest, PushedAt: at, Source: "notification"}
	}
	reset := func(dir string) {
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}

	// The log: a, b, c appended together; d; a done; c and d failed; d
	// replayed; e, a delete in a second cluster, appended. Left: b, d
	// (replayed), e pending; c failed.
	dir := filepath.Join("testdata", "log")
	reset(dir)
	l, err := Open(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	abc := []*Job{job("a", "v1", "sha256:"+hex('1')), job("b", "v2", "sha256:"+hex('2')), job("c", "v3", "sha256:"+hex('3'))}
	d := job("d", "v4", "sha256:"+hex('4'))
	e := job("e", "v0", "sha256:"+hex('5'))
	e.Cluster, e.Action = "east", ActionDelete
	must(t, l.Append(ctx, abc))
	must(t, l.Append(ctx, []*Job{d}))
	l.Done(abc[0].Seq)
	must(t, l.Fail(Failed{Job: *abc[2], Reason: "manifest-unknown", Message: "manifest unknown", FailedAt: at}))
	must(t, l.Fail(Failed{Job: *d, Reason: "forbidden", Message: "403 from the API", FailedAt: at}))
	if _, err := l.Replay([]uint64{d.Seq}); err != nil {
		t.Fatal(err)
	}
	must(t, l.Append(ctx, []*Job{e}))
	must(t, l.Close())

	// The older bbolt journal: a, b, c appended; a done; c failed. Left: b
	// pending, c failed.
	dir = filepath.Join("testdata", "bolt")
	reset(dir)
	b, err := OpenBolt(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	abc = []*Job{job("a", "v1", "sha256:"+hex('1')), job("b", "v2", "sha256:"+hex('2')), job("c", "v3", "sha256:"+hex('3'))}
	must(t, b.Append(ctx, abc))
	b.Done(abc[0].Seq)
	must(t, b.Fail(Failed{Job: *abc[2], Reason: "manifest-unknown", Message: "manifest unknown", FailedAt: at}))
	must(t, b.Close())
}

func hex(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
