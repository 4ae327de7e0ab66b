//go:build linux

package eventlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// dirtyBlocks returns the page-cache pages of every message block under dir
// (found by walking, not through the package's own idea of the layout) and
// how many of them are not yet on disk (dirty or under writeback), by
// cachestat(2).
func dirtyBlocks(t *testing.T, dir string) (cached, dirty uint64) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !strings.HasSuffix(p, ".blk") {
			return err
		}
		f, err := os.Open(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		defer f.Close()
		var st unix.Cachestat_t
		if err := unix.Cachestat(uint(f.Fd()), &unix.CachestatRange{}, &st, 0); err != nil {
			return err
		}
		cached += st.Cache
		dirty += st.Dirty + st.Writeback
		return nil
	})
	if errors.Is(err, unix.ENOSYS) {
		t.Skip("cachestat(2) needs Linux 6.5")
	}
	if err != nil {
		t.Fatal(err)
	}
	return cached, dirty
}

// realDiskDir is a directory whose pages can be clean: on tmpfs every page
// is dirty for good, and an fsync changes nothing.
func realDiskDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	if st.Type == unix.TMPFS_MAGIC {
		t.Skipf("%s is on tmpfs: page cache state says nothing about fsync", dir)
	}
	return dir
}

// TestAcknowledgedEventsAreOnDisk: when Append returns, no page of the
// event stream's block files is dirty any more: the events were fsynced,
// not merely written (which is all a kill -9 test can tell). The same for a
// failed entry when Fail returns (it acks the event right after). Fails when
// nobody fsyncs after the server's write.
func TestAcknowledgedEventsAreOnDisk(t *testing.T) {
	dir := realDiskDir(t)
	l := openEmbedded(t, dir, Options{})
	for round := range 20 {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				jobs := []*bridge.Job{job(fmt.Sprintf("r%d-%d", round, i), "v1", fmt.Sprintf("sha256:%d", i))}
				if i == 0 {
					jobs = append(jobs, job(fmt.Sprintf("r%d-extra", round), "v2", "sha256:x"))
				}
				if err := l.Append(t.Context(), jobs); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		cached, dirty := dirtyBlocks(t, dir)
		if cached == 0 {
			t.Fatalf("round %d: no message block with cached pages under %s", round, dir)
		}
		if dirty != 0 {
			t.Fatalf("round %d: %d of %d pages of the message blocks not on disk after Append returned", round, dirty, cached)
		}
	}
	if err := l.Fail(t.Context(), bridge.FailedJob{Job: *job("f", "v1", "sha256:f"), Reason: "manifest-unknown"}); err != nil {
		t.Fatal(err)
	}
	if cached, dirty := dirtyBlocks(t, dir); dirty != 0 {
		t.Fatalf("%d of %d pages of the message blocks not on disk after Fail returned", dirty, cached)
	}
}

// TestConcurrentAppendsShareAnFsync: appends that arrive together share
// fsyncs, one for many (measured, not assumed: the fsyncs are counted where
// they are issued, and the server does not fsync each message on its own);
// every append still gets its own sequence, and the same event appended
// twice at once is stored once.
func TestConcurrentAppendsShareAnFsync(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), Options{})
	if l.srv.JetStreamConfig().SyncAlways {
		t.Fatal("the embedded server fsyncs every message itself (SyncAlways)")
	}
	const n = 64
	jobs := make([]*bridge.Job, n)
	for i := range jobs {
		jobs[i] = job(fmt.Sprintf("e%d", i), "v1", fmt.Sprintf("sha256:%d", i))
	}
	jobs[n-1].ID = jobs[n-2].ID // the same event, received twice at once
	before := l.eventSync.runs.Load()
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range jobs {
		wg.Go(func() {
			<-start
			if err := l.Append(t.Context(), jobs[i:i+1]); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	fsyncs := l.eventSync.runs.Load() - before
	t.Logf("%d concurrent appends, %d fsyncs", n, fsyncs)
	if fsyncs == 0 || fsyncs >= n {
		t.Errorf("%d concurrent appends took %d fsyncs, want at least 1 and fewer than %d", n, fsyncs, n)
	}
	seen := map[uint64]int{}
	for i, j := range jobs {
		if j.Seq == 0 {
			t.Fatalf("append %d got no sequence", i)
		}
		seen[j.Seq]++
	}
	if jobs[n-1].Seq != jobs[n-2].Seq || len(seen) != n-1 {
		t.Errorf("%d distinct sequences, the twice-received event got %d and %d; want %d distinct, one shared",
			len(seen), jobs[n-2].Seq, jobs[n-1].Seq, n-1)
	}
	if p, err := l.Pending(t.Context()); err != nil || p != n-1 {
		t.Errorf("Pending = %d, %v; want %d", p, err, n-1)
	}
}

// TestAppendFailsWhenItCannotFsync: if the blocks cannot be found (the
// server's store layout changed), Append fails with ErrUnavailable instead
// of answering for events that were not fsynced.
func TestAppendFailsWhenItCannotFsync(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), Options{})
	l.eventSync = newGroupSync((&blockSync{dir: filepath.Join(t.TempDir(), "elsewhere")}).sync)
	err := l.Append(t.Context(), []*bridge.Job{job("a", "v1", "sha256:1")})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Append with its blocks out of reach: %v, want ErrUnavailable", err)
	}
}

// TestFailedFsyncBreaksTheLog: after an fsync fails, every later Append and
// Check fails (the kernel may have dropped the unwritten pages, and a later
// fsync would succeed without them), not only the appends that shared it.
func TestFailedFsyncBreaksTheLog(t *testing.T) {
	l := openEmbedded(t, t.TempDir(), Options{})
	fail := true
	l.eventSync = newGroupSync(func() error {
		if fail {
			fail = false
			return fmt.Errorf("%w: message block 1: %w", errFsync, unix.EIO)
		}
		return nil
	})
	for i, id := range []string{"a", "b"} {
		err := l.Append(t.Context(), []*bridge.Job{job(id, "v1", "sha256:1")})
		if !errors.Is(err, ErrUnavailable) || !errors.Is(err, unix.EIO) {
			t.Fatalf("append %d after a failed fsync: %v, want ErrUnavailable with the EIO", i, err)
		}
	}
	if err := l.Check(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Check after a failed fsync: %v, want ErrUnavailable", err)
	}
}
