package sandbox

import (
	"net"
	"strconv"
	"testing"
	"time"
)

// TestNATSNodeStartsWhenItsPortWasTaken: another process took the client port
// of a stopped node (ports are picked free, then used later); starting it
// again moves it to fresh ports instead of failing, and it rejoins the cluster.
func TestNATSNodeStartsWhenItsPortWasTaken(t *testing.T) {
	c, err := StartNATSCluster(t.TempDir(), 3)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	c.Stop(1)
	port := c.opts[1].Port
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("take the stopped node's port: %v", err)
	}
	defer l.Close()
	if err := c.Start(1); err != nil {
		t.Fatalf("start with its port taken: %v", err)
	}
	if c.opts[1].Port == port {
		t.Errorf("node 1 still on its taken port %d", port)
	}
	if err := c.WaitLeader(30 * time.Second); err != nil {
		t.Errorf("after the move: %v", err)
	}
	if n := c.nodes[1].NumRoutes(); n == 0 {
		t.Errorf("the moved node has no routes to the others")
	}
}
