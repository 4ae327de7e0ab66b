package eventlog

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// startEmbedded runs a nats-server inside the process: JetStream on, no
// client, cluster or monitoring listener (the bridge connects in process).
// The server does not fsync each write (SyncAlways would, one message at a
// time under the stream's lock): the group commit fsyncs the event stream
// once per group of concurrent appends (fsync.go), and the server's own
// background sync runs every second instead of every 2 minutes, for what it
// rewrites by itself (a block compacted after events were acked).
func (l *Log) startEmbedded() error {
	dir := ""
	if l.opts.DataDir != "" {
		dir = filepath.Join(l.opts.DataDir, "nats")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("create event log dir: %w", err)
		}
	} else {
		// Memory storage; JetStream still wants a store directory.
		tmp, err := os.MkdirTemp("", "imagestream-bridge-nats-")
		if err != nil {
			return fmt.Errorf("create event log scratch dir: %w", err)
		}
		dir, l.tmpStore = tmp, tmp
	}
	srv, err := server.NewServer(&server.Options{
		ServerName:   "imagestream-bridge",
		DontListen:   true,
		JetStream:    true,
		StoreDir:     dir,
		SyncAlways:   false,
		SyncInterval: time.Second,
		NoSigs:       true,
		// The server's own limits on a small pod: memory streams only without dataDir.
		JetStreamMaxMemory: 256 << 20,
	})
	if err != nil {
		return fmt.Errorf("start embedded nats-server: %w", err)
	}
	srv.SetLoggerV2(&serverLog{l.opts.Logger}, false, false, false)
	l.srv = srv
	srv.Start()
	if !srv.ReadyForConnections(30 * time.Second) {
		return fmt.Errorf("start embedded nats-server: not ready after 30s")
	}
	nc, err := nats.Connect("", nats.InProcessServer(srv), nats.Name("imagestream-bridge"))
	if err != nil {
		return fmt.Errorf("connect embedded nats-server: %w", err)
	}
	l.nc = nc
	return nil
}
