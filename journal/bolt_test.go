package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"
)

// writeBolt leaves a bbolt journal in dir as the store wrote them: pending
// jobs and failed entries under their seq. It uses bbolt itself; the store is gone.
func writeBolt(t *testing.T, dir string, pending, failed int) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, boltFile), 0o600, &bolt.Options{NoFreelistSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(func(tx *bolt.Tx) error {
		for seq := 1; seq <= pending+failed; seq++ {
			j := Job{Seq: uint64(seq), ID: fmt.Sprint("w", seq), Registry: "r", Repository: "ns/app", Tag: fmt.Sprint("t", seq), Digest: "sha256:1"}
			bucket, v := bucketPending, any(j)
			if seq > pending {
				bucket, v = bucketFailed, Failed{Job: j, Reason: "forbidden"}
			}
			b, err := tx.CreateBucketIfNotExists(bucket)
			if err != nil {
				return err
			}
			data, _ := json.Marshal(v)
			if err := b.Put(key(uint64(seq)), data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// poke rewrites one record of bucket directly in the file.
func poke(t *testing.T, dir string, bucket []byte, seq uint64, value string) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, boltFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(key(seq), []byte(value)) }); err != nil {
		t.Fatal(err)
	}
}

// TestReadBolt: the older bbolt journal reads back as the store left it.
func TestReadBolt(t *testing.T) {
	p, f := read(t, fixture(t, "bolt"), quiet)
	if !slices.Equal(p, []string{"b"}) || !slices.Equal(f, []string{"c"}) {
		t.Errorf("pending %v, failed %v; want b and c", p, f)
	}
}

// TestReadBoltAfterLog: a journal.db beside a journal.log (a migration that
// stopped before its rename) adds its entries after the log's: a job read
// twice is applied twice, which is harmless; its failure of c replaces the log's.
func TestReadBoltAfterLog(t *testing.T) {
	dir := fixture(t, "log")
	data, err := os.ReadFile(filepath.Join("testdata", "bolt", boltFile))
	if err != nil {
		t.Fatal(err)
	}
	rewrite(t, filepath.Join(dir, boltFile), data)
	pending, failed, err := Read(dir, quiet)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, j := range pending {
		ids = append(ids, j.ID)
	}
	if !slices.Equal(ids, []string{"b", "d", "e", "b"}) || len(failed) != 1 || failed[0].ID != "c" || failed[0].Seq <= pending[2].Seq {
		t.Errorf("pending %v, failed %+v; want b, d, e, b and the bbolt file's c", ids, failed)
	}
}

// TestDamagedPageIsAnError: any page of the tree overwritten with garbage
// (bbolt panics on it) makes Read return ErrDamaged with what to do, and so
// does a journal truncated mid-tree.
func TestDamagedPageIsAnError(t *testing.T) {
	clean := t.TempDir()
	writeBolt(t, clean, 300, 20)
	orig, err := os.ReadFile(filepath.Join(clean, boltFile))
	if err != nil {
		t.Fatal(err)
	}
	m, ok := pickMeta(orig)
	w := &walker{data: orig, ps: uint64(m.pageSize), hw: m.highWater, seen: map[uint64]bool{}}
	if !ok || w.page(m.root, 0) != nil || len(w.seen) < 3 {
		t.Fatalf("clean journal: meta %v, %d reachable pages", ok, len(w.seen))
	}
	wantDamaged := func(t *testing.T, data []byte) {
		dir := t.TempDir()
		p := filepath.Join(dir, boltFile)
		rewrite(t, p, data)
		if _, _, err := Read(dir, quiet); !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "mv "+p+" "+p+".bad") {
			t.Fatalf("read: %v, want ErrDamaged saying to move the file aside", err)
		}
	}
	for id := range w.seen {
		t.Run(fmt.Sprint("page ", id), func(t *testing.T) {
			data := bytes.Clone(orig)
			copy(data[id*w.ps:(id+1)*w.ps], bytes.Repeat([]byte{0xa5}, int(w.ps)))
			wantDamaged(t, data)
		})
	}
	t.Run("truncated", func(t *testing.T) { wantDamaged(t, orig[:(m.highWater-1)*w.ps]) })
}

// TestBadRecordsSkipped: a pending record and a failed record that do not
// decode are skipped and logged at error (they stay in the file); the rest
// is read.
func TestBadRecordsSkipped(t *testing.T) {
	dir := t.TempDir()
	writeBolt(t, dir, 5, 3)
	poke(t, dir, bucketPending, 2, `{"seq":2,"tag":`)
	poke(t, dir, bucketFailed, 7, `{"seq":"seven"}`)
	var logs logBuf
	p, f := read(t, dir, logs.logger())
	if !slices.Equal(p, []string{"w1", "w3", "w4", "w5"}) || !slices.Equal(f, []string{"w6", "w8"}) {
		t.Errorf("pending %v, failed %v; want the good ones", p, f)
	}
	if strings.Count(logs.String(), "level=ERROR") != 2 {
		t.Errorf("log %q, want the two records", logs.String())
	}
}
