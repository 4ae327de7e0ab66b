package eventlog

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Durability of the embedded file store. The embedded server runs without
// SyncAlways: it writes every message to the stream's last block file before
// it acknowledges it (a one-replica file store flushes in place), and this
// package fsyncs that file after the acknowledgement and before Append
// returns, one fsync shared by concurrent appends (groupsync.go). nats-server has no exported call that fsyncs a stream's
// store (committing an atomic batch does, but it creates and deletes a
// staging store per batch, which costs more than it saves), so the file is
// synced from here, by nats-server's store layout:
// <store dir>/jetstream/<account>/streams/<stream>/msgs/<n>.blk, where
// appends go to the block with the highest n and a new block gets a higher n.
// If the layout ever changes, no block is found and every append fails
// (ErrUnavailable): a changed layout is never a silently lost fsync.
//
// What the server rewrites by itself (a block compacted once its events were
// acked) it writes without fsync and syncs on its own timer (SyncInterval, one
// second here); the server's metadata is synced once at Open.

// blockSync fsyncs the blocks that appends go to in one stream's store.
type blockSync struct {
	mu  sync.Mutex
	dir string
	n   int // the last block at the previous sync; 0 before the first
}

// blocks lists the indexes of the block files in dir, ascending.
func blocks(dir string) ([]int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list message blocks: %w", err)
	}
	var out []int
	for _, e := range ents {
		num, ok := strings.CutSuffix(e.Name(), ".blk")
		if !ok {
			continue
		}
		if n, err := strconv.Atoi(num); err == nil && n > 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// sync makes durable everything the server wrote to the stream's blocks
// before the call. Since the previous sync the server has written only to
// the block that was last then and to blocks started since (a higher
// index), so those are fsynced, and the directory when a block was started.
// Listing the directory each time costs microseconds; an fsync costs
// hundreds of them.
func (s *blockSync) sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, err := blocks(s.dir)
	if err != nil {
		return err
	}
	synced := 0
	for _, n := range idx {
		if n < s.n {
			continue
		}
		f, err := os.Open(filepath.Join(s.dir, strconv.Itoa(n)+".blk"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // emptied and removed since the listing: nothing to keep
		}
		if err != nil {
			return fmt.Errorf("open message block: %w", err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("%w: message block %d: %w", errFsync, n, err)
		}
		synced = n
	}
	if synced == 0 {
		return fmt.Errorf("fsync message block: none in %s", s.dir)
	}
	if synced > s.n {
		if err := syncDir(s.dir); err != nil {
			return fmt.Errorf("%w: message blocks directory: %w", errFsync, err)
		}
		s.n = synced
	}
	return nil
}

// msgDir is where the embedded server keeps a stream's message blocks.
func (l *Log) msgDir(stream string) string {
	return filepath.Join(l.srv.JetStreamConfig().StoreDir, l.srv.GlobalAccount().GetName(), "streams", stream, "msgs")
}

// startSync syncs the embedded store once (the metadata of the server and
// the streams, written without fsync) and sets up the group fsyncs of the
// event and failed streams. Without an embedded file store they do nothing:
// memory storage is not durable, and a cluster's durability is its quorum.
func (l *Log) startSync() error {
	l.eventSync, l.failedSync = newGroupSync(nil), newGroupSync(nil)
	if l.srv == nil || !l.Durable() {
		return nil
	}
	if err := syncTree(filepath.Dir(l.srv.JetStreamConfig().StoreDir)); err != nil {
		return err
	}
	if err := syncDir(l.opts.DataDir); err != nil {
		return fmt.Errorf("sync event log store: %w", err)
	}
	events := &blockSync{dir: l.msgDir(l.opts.Stream)}
	failed := &blockSync{dir: l.msgDir(l.opts.Stream + "-failed")}
	l.eventSync, l.failedSync = newGroupSync(events.sync), newGroupSync(failed.sync)
	return nil
}

// syncTree fsyncs every file and directory under dir.
func syncTree(dir string) error {
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
		case d.IsDir():
			err = syncDir(p)
		case d.Type().IsRegular():
			err = syncPath(p)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return nil // a temporary file renamed or removed meanwhile
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("sync event log store: %w", err)
	}
	return nil
}

func syncPath(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes the entries of dir durable (Windows cannot fsync a directory).
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	return syncPath(dir)
}
