package journal

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func jobs(n int, tag string) []*Job {
	out := make([]*Job, n)
	for i := range out {
		out[i] = &Job{ID: fmt.Sprintf("%s-%d", tag, i), Namespace: "ns", Stream: "s", Tag: tag, Digest: "sha256:x"}
	}
	return out
}

// durableStores are the stores the contract tests run against.
var durableStores = []struct {
	name string
	open func(dir string) (Store, error)
}{
	{"bolt", func(dir string) (Store, error) { return OpenBolt(dir) }},
	{"log", func(dir string) (Store, error) { return Open(dir) }},
}

// TestDurableSurvivesReopen appends concurrently, marks some done and one
// failed, reopens the file and finds exactly the rest, in order.
func TestDurableSurvivesReopen(t *testing.T) {
	for _, st := range durableStores {
		t.Run(st.name, func(t *testing.T) { testSurvivesReopen(t, st.open) })
	}
}

func testSurvivesReopen(t *testing.T, open func(string) (Store, error)) {
	dir := t.TempDir()
	b, err := open(dir)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	all := make([][]*Job, 8)
	for i := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			all[i] = jobs(25, fmt.Sprint(i))
			if err := b.Append(context.Background(), all[i]); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	seen := map[uint64]bool{}
	for _, js := range all {
		for _, j := range js {
			if j.Seq == 0 || seen[j.Seq] {
				t.Fatalf("sequence %d missing or repeated", j.Seq)
			}
			seen[j.Seq] = true
		}
	}
	for _, j := range all[0] {
		b.Done(j.Seq)
	}
	failed := all[1][0]
	if err := b.Fail(Failed{Job: *failed, Reason: "forbidden"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}

	b, err = open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pending, err := b.Pending()
	if err != nil {
		t.Fatal(err)
	}
	if len(pending) != 8*25-25-1 {
		t.Fatalf("%d pending after reopen, want %d", len(pending), 8*25-26)
	}
	for i := 1; i < len(pending); i++ {
		if pending[i-1].Seq >= pending[i].Seq {
			t.Fatal("pending not in sequence order")
		}
	}
	list, _ := b.FailedList()
	if len(list) != 1 || list[0].ID != failed.ID || list[0].Reason != "forbidden" {
		t.Fatalf("failed list %+v", list)
	}
	replayed, err := b.Replay(nil)
	if err != nil || len(replayed) != 1 || replayed[0].Source != "replay" || replayed[0].Seq <= pending[len(pending)-1].Seq {
		t.Fatalf("replay %+v %v", replayed, err)
	}
	if list, _ := b.FailedList(); len(list) != 0 {
		t.Error("replayed entry still in the failed list")
	}
	if p, _ := b.Pending(); len(p) != len(pending)+1 {
		t.Errorf("replayed job not pending: %d", len(p))
	}
	if b.Size() == 0 || !b.Durable() {
		t.Error("size or durability wrong")
	}
}

func TestDurableClosedRefusesAppends(t *testing.T) {
	for _, st := range durableStores {
		b, err := st.open(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		b.Close()
		if err := b.Append(context.Background(), jobs(1, "x")); err != ErrClosed {
			t.Errorf("%s: append after close: %v", st.name, err)
		}
	}
}

func TestMemoryFailedListIsBounded(t *testing.T) {
	m := NewMemory()
	js := jobs(maxFailed+5, "t")
	m.Append(context.Background(), js)
	for i, j := range js {
		j.Tag = fmt.Sprint("t", i) // distinct failures
		m.Fail(Failed{Job: *j, Reason: "x"})
	}
	list, _ := m.FailedList()
	if len(list) != maxFailed || list[0].Seq != 6 {
		t.Errorf("failed list %d entries from seq %d, want %d from 6", len(list), list[0].Seq, maxFailed)
	}
	r, _ := m.Replay([]uint64{6, 7})
	if len(r) != 2 {
		t.Errorf("replayed %d", len(r))
	}
}

func BenchmarkBoltAppendParallel(b *testing.B) {
	st, err := OpenBolt(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := st.Append(context.Background(), jobs(1, "b")); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestFailedListKeepsEachCluster: the same digest failing in two clusters (or
// as a push and a delete) is two entries; a new failure in one cluster
// replaces only that cluster's entry. Jobs without a cluster are the default's.
func TestFailedListKeepsEachCluster(t *testing.T) {
	bolt, err := OpenBolt(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer bolt.Close()
	lg, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer lg.Close()
	for name, st := range map[string]Store{"memory": NewMemory(), "bolt": bolt, "log": lg} {
		t.Run(name, func(t *testing.T) {
			base := Job{Registry: "main", Repository: "team/app", Namespace: "team", Stream: "app", Tag: "v1", Digest: "sha256:aa"}
			var jobs []*Job
			for _, v := range []struct{ cluster, action string }{{"", ""}, {"default", ""}, {"b", ""}, {"b", ActionDelete}} {
				j := base
				j.Cluster, j.Action = v.cluster, v.action
				jobs = append(jobs, &j)
			}
			if err := st.Append(t.Context(), jobs); err != nil {
				t.Fatal(err)
			}
			for _, j := range jobs {
				if err := st.Fail(Failed{Job: *j, Reason: "forbidden"}); err != nil {
					t.Fatal(err)
				}
			}
			list, err := st.FailedList()
			if err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, f := range list {
				keys = append(keys, f.Key()+" "+f.Action)
			}
			// "" and "default" are one cluster: the later failure replaced the earlier.
			want := []string{"team/app:v1 ", "b/team/app:v1 ", "b/team/app:v1 delete"}
			if strings.Join(keys, ",") != strings.Join(want, ",") {
				t.Errorf("failed list %q, want %q", keys, want)
			}
		})
	}
}
