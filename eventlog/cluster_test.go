package eventlog

import (
	"errors"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// cluster is a 3-node JetStream cluster in this process, on loopback ports.
type cluster struct {
	*sandbox.NATSCluster
	t *testing.T
}

func newCluster(t *testing.T) *cluster {
	t.Helper()
	c, err := sandbox.StartNATSCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return &cluster{NATSCluster: c, t: t}
}

func (c *cluster) start(i int) {
	c.t.Helper()
	if err := c.Start(i); err != nil {
		c.t.Fatal(err)
	}
}

// open connects a bridge replica's log, once the cluster has elected its
// JetStream meta leader (stream creation fails until then).
func (c *cluster) open(o Options) *Log {
	c.t.Helper()
	o.URL, o.Replicas, o.Timeout = c.URL(), 3, 2*time.Second
	deadline := time.Now().Add(30 * time.Second)
	for {
		l, err := Open(c.t.Context(), o)
		if err == nil {
			c.t.Cleanup(func() { l.Close() })
			return l
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("open on the cluster: %v", err)
		}
	}
}

// TestClusterDedupAndQuorumLoss: two bridge replicas on one R3 stream store
// an event both received once; with two of three nodes gone Append fails with
// ErrUnavailable (no 2xx for an event not stored), and it recovers by itself
// when they return.
func TestClusterDedupAndQuorumLoss(t *testing.T) {
	start := time.Now()
	c := newCluster(t)
	a, b := c.open(Options{}), c.open(Options{})
	ja, jb := []*bridge.Job{job("e1", "v1", "sha256:1")}, []*bridge.Job{job("e1", "v1", "sha256:1")}
	if err := a.Append(t.Context(), ja); err != nil {
		t.Fatal(err)
	}
	if err := b.Append(t.Context(), jb); err != nil {
		t.Fatal(err)
	}
	if ja[0].Seq != jb[0].Seq {
		t.Errorf("the same event through two replicas stored twice: seqs %d and %d", ja[0].Seq, jb[0].Seq)
	}
	if n, err := b.Pending(t.Context()); err != nil || n != 1 {
		t.Errorf("Pending = %d, %v; want 1", n, err)
	}

	t.Logf("%s: stored through both replicas", time.Since(start))
	c.Stop(1)
	c.Stop(2)
	err := a.Append(t.Context(), []*bridge.Job{job("e2", "v2", "sha256:2")})
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("append without quorum: %v, want ErrUnavailable", err)
	}
	if err := a.Check(t.Context()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Check without quorum: %v, want ErrUnavailable", err)
	}

	t.Logf("%s: quorum lost, 503", time.Since(start))
	c.start(1)
	c.start(2)
	deadline := time.Now().Add(60 * time.Second)
	for {
		err := a.Append(t.Context(), []*bridge.Job{job("e3", "v3", "sha256:3")})
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("append after the nodes returned: %v", err)
		}
	}
	for {
		err := a.Check(t.Context())
		if err == nil {
			break
		}
		if !errors.Is(err, ErrUnavailable) || time.Now().After(deadline) {
			t.Fatalf("Check after the nodes returned: %v", err)
		}
	}
	t.Logf("%s: recovered", time.Since(start))
	// e2 got no acknowledgement, but the leader may still commit it once the
	// quorum is back (at least once): it may be there, in its place.
	n, err := b.Pending(t.Context())
	if err != nil || n < 2 || n > 3 {
		t.Fatalf("Pending = %d, %v; want e1, e3 and maybe e2", n, err)
	}
	got := consumeN(t, b, int(n))
	if got[0].Digest != "sha256:1" || got[n-1].Digest != "sha256:3" {
		t.Errorf("consumed %s first, %s last; want sha256:1, sha256:3", got[0].Digest, got[n-1].Digest)
	}
}
