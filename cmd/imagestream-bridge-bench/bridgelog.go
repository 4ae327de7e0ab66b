package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// bridgeLog is where the bridge under test keeps its event log (-journal);
// its string is the label of the rows.
type bridgeLog string

const (
	// logMemory leaves dataDir unset: the embedded server keeps the log in memory.
	logMemory bridgeLog = "memory"
	// logEmbedded sets dataDir: the embedded server's file store, one fsync per group of appends.
	logEmbedded bridgeLog = "embedded"
	// logCluster sets nats.url to a 3-node JetStream cluster that the bench
	// runs on loopback for the run (R3, the nodes in the bench process).
	logCluster bridgeLog = "cluster"
)

// parseBridgeLog reads one -journal value; off and on are the names of
// before the event log (dataDir unset or set).
func parseBridgeLog(s string) (bridgeLog, error) {
	switch s {
	case "memory", "off":
		return logMemory, nil
	case "embedded", "on":
		return logEmbedded, nil
	case "cluster":
		return logCluster, nil
	}
	return "", fmt.Errorf("parse -journal: unknown event log %q (memory, embedded, cluster)", s)
}

// logStore is what the bridge's configuration gets for its event log.
type logStore struct {
	dataDir string
	natsURL string
}

// apply sets dataDir, or nats.url with 3 replicas and no shutdownDelay (the
// bench stops the bridge when its events are mapped; no load balancer to drain).
func (s logStore) apply(c *config.Config) {
	c.DataDir = s.dataDir
	if s.natsURL != "" {
		c.NATS.URL, c.NATS.Replicas = s.natsURL, 3
		c.ShutdownDelay = &config.Duration{}
	}
}

// logStore makes a fresh data directory (embedded) or starts a fresh 3-node
// cluster (cluster) for one run; cleanup removes it.
func (b *bench) logStore(mode bridgeLog) (logStore, func(), error) {
	if mode == logMemory {
		return logStore{}, func() {}, nil
	}
	prefix := "data-"
	if mode == logCluster {
		prefix = "nats-"
	}
	dir, err := os.MkdirTemp(b.opts.dataRoot, prefix)
	if err != nil {
		return logStore{}, nil, fmt.Errorf("create data directory: %w", err)
	}
	if mode == logEmbedded {
		return logStore{dataDir: dir}, func() { os.RemoveAll(dir) }, nil
	}
	c, err := sandbox.StartNATSCluster(dir, 3)
	if err == nil {
		if err = c.WaitLeader(30 * time.Second); err != nil {
			c.Close()
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return logStore{}, nil, fmt.Errorf("start nats cluster: %w", err)
	}
	return logStore{natsURL: c.URL()}, func() { c.Close(); os.RemoveAll(dir) }, nil
}

// waitApplier returns once the bridge consumes its cluster log: one of the
// applier's durable consumers has a pull waiting. An event appended before
// that is backlog to the applier and arrives with Verify set, which
// re-resolves the tag in the registry; the bench's tags exist only in its
// events (the images are pushed by digest), so such an event would be skipped
// as stale and never mapped. A no-op for the embedded log, whose webhook is
// not ready before the applier runs.
func (s logStore) waitApplier(ctx context.Context) error {
	if s.natsURL == "" {
		return nil
	}
	nc, err := nats.Connect(s.natsURL)
	if err != nil {
		return fmt.Errorf("connect to nats: %w", err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("open jetstream: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute) // a loaded 2-core machine took more than 30s once
	defer cancel()
	for {
		if str, err := js.Stream(ctx, config.DefaultStream); err == nil {
			consumers := str.ListConsumers(ctx)
			waiting := false
			for info := range consumers.Info() {
				waiting = waiting || info.NumWaiting > 0
			}
			if waiting {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the applier's consumers: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
