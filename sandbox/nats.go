package sandbox

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSCluster is a JetStream cluster of nats-servers in this process, on
// loopback ports, standing in for the cluster an HA install connects to
// (nats.url). Nodes stop and start again on the same ports and stores, as a
// pod of a StatefulSet does.
type NATSCluster struct {
	mu    sync.Mutex
	opts  []*server.Options
	nodes []*server.Server
}

// StartNATSCluster starts n JetStream nodes routed to each other, each with
// its file store under dir/nI, and returns once every node accepts clients.
// The cluster elects its JetStream meta leader a moment later: creating a
// stream fails until then.
func StartNATSCluster(dir string, n int) (*NATSCluster, error) {
	routePorts := make([]int, n)
	routes := make([]*url.URL, n)
	c := &NATSCluster{nodes: make([]*server.Server, n)}
	for i := range n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		routePorts[i] = p
		routes[i] = &url.URL{Scheme: "nats", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(p))}
	}
	for i := range n {
		p, err := freePort()
		if err != nil {
			return nil, err
		}
		c.opts = append(c.opts, &server.Options{
			ServerName: fmt.Sprintf("n%d", i),
			Host:       "127.0.0.1",
			Port:       p,
			JetStream:  true,
			StoreDir:   filepath.Join(dir, fmt.Sprintf("n%d", i)),
			NoSigs:     true,
			NoLog:      true,
			Cluster:    server.ClusterOpts{Name: "sandbox", Host: "127.0.0.1", Port: routePorts[i]},
			Routes:     routes,
		})
	}
	for i := range n {
		if err := c.Start(i); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func freePort() (int, error) {
	addr, err := FreeAddr()
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	_, p, _ := net.SplitHostPort(addr)
	return strconv.Atoi(p)
}

// Start starts node i (again), on its ports and store; a running node is left alone.
// The ports were free when StartNATSCluster picked them, but another process
// on the machine (tests of other packages run at the same time) may have
// taken one since: a node whose listeners do not come up moves to fresh
// ports and tries again (the other nodes learn its new route through the
// routes it opens to them, and clients through the cluster's gossip).
func (c *NATSCluster) Start(i int) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.nodes[i] != nil {
		return nil
	}
	const attempts = 3
	for attempt := 1; ; attempt++ {
		s, err := server.NewServer(c.opts[i])
		if err != nil {
			return fmt.Errorf("start nats node %d: %w", i, err)
		}
		s.Start()
		if s.ReadyForConnections(5 * time.Second) {
			c.nodes[i] = s
			return nil
		}
		s.Shutdown()
		s.WaitForShutdown()
		if attempt == attempts {
			return fmt.Errorf("start nats node %d: not ready after %d attempts on fresh ports", i, attempts)
		}
		if err := c.movePorts(i); err != nil {
			return fmt.Errorf("start nats node %d: %w", i, err)
		}
	}
}

// movePorts gives node i fresh client and route ports, in a copy of its
// options whose routes are a copy with its own entry moved: the running nodes
// read the shared URLs, so they are never written; those nodes keep the old
// route URL of node i, which connects to them itself.
func (c *NATSCluster) movePorts(i int) error {
	client, err := freePort()
	if err != nil {
		return err
	}
	route, err := freePort()
	if err != nil {
		return err
	}
	o := c.opts[i].Clone() // the stopped server's goroutines may still read its options: never write them
	routes := make([]*url.URL, len(o.Routes))
	for k, u := range o.Routes {
		cp := *u
		if u.Port() == strconv.Itoa(o.Cluster.Port) {
			cp.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(route))
		}
		routes[k] = &cp
	}
	o.Port, o.Cluster.Port, o.Routes = client, route, routes
	c.opts[i] = o
	return nil
}

// Stop shuts node i down; its store stays, as after the crash of its pod.
func (c *NATSCluster) Stop(i int) {
	c.mu.Lock()
	s := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if s != nil {
		s.Shutdown()
		s.WaitForShutdown()
	}
}

// WaitLeader waits until the running nodes have a JetStream meta leader (a
// stream can be created) and every running node follows it, or d passes.
func (c *NATSCluster) WaitLeader(d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		c.mu.Lock()
		leader, current := false, true
		for _, s := range c.nodes {
			if s != nil {
				leader = leader || s.JetStreamIsLeader()
				current = current && s.JetStreamIsCurrent()
			}
		}
		c.mu.Unlock()
		if leader && current {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for a jetstream meta leader: none after %s", d)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// StreamLeader returns the index of the running node that leads stream (of
// the default account), or -1 when none does now.
func (c *NATSCluster) StreamLeader(stream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, s := range c.nodes {
		if s != nil && s.JetStreamIsStreamLeader(server.DEFAULT_GLOBAL_ACCOUNT, stream) {
			return i
		}
	}
	return -1
}

// Close stops every node.
func (c *NATSCluster) Close() {
	for i := range c.nodes {
		c.Stop(i)
	}
}

// URL lists every node's client URL, comma-separated: what nats.url takes.
func (c *NATSCluster) URL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	u := make([]string, len(c.opts))
	for i, o := range c.opts {
		u[i] = "nats://" + net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	}
	return strings.Join(u, ",")
}
