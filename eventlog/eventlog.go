// Package eventlog is the durable event log: accepted events are published to
// a NATS JetStream stream before the webhook acknowledges them, and the
// applier consumes them through one durable consumer per fairness group
// (registry and cluster), each with a bounded window: the stream, not the
// applier's heap, holds the backlog.
//
// Two modes, one code path: an embedded nats-server inside the process (file
// store in dataDir, every append fsynced before it returns, one fsync shared
// by concurrent appends, no listener outside the process; memory storage
// when dataDir is empty) or a connection to an existing
// JetStream cluster, where every replica of the bridge publishes and the
// event id is the message id, so JetStream deduplicates an event that reaches
// two replicas. The failed list is a second stream, one subject per entry.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// ErrUnavailable wraps every failure to store an event but a full log: the
// log cannot take it now (no quorum, a timeout). The caller answers 503 with
// Retry-After, never a 2xx. It is bridge.ErrLogUnavailable. A full log (the
// queue budget reached) wraps bridge.ErrQueueFull instead.
var ErrUnavailable = bridge.ErrLogUnavailable

// RetryAfter is the Retry-After a caller sends with ErrUnavailable.
const RetryAfter = 5 * time.Second

// FailedCap is the most entries the failed list keeps; the oldest go.
const FailedCap = 10000

// Options configure Open.
type Options struct {
	// URL of a JetStream cluster; "" starts an embedded server.
	URL string
	// Replicas of the streams (1 when embedded).
	Replicas int
	// Stream names the event stream; its subjects, consumer and failed stream derive from it.
	Stream string
	// CredsFile, CAFile, CertFile, KeyFile: credentials and TLS towards the cluster.
	CredsFile, CAFile, CertFile, KeyFile string
	// DataDir holds the embedded server's file store (DataDir/nats); "" keeps it in memory.
	DataDir string
	// MaxPending bounds stored but unapplied events (the queue budget); beyond it Append
	// returns ErrUnavailable. Default 10000.
	MaxPending int
	// Window bounds the events of one group (Group) the applier holds at a time
	// (its consumer's MaxAckPending); the rest wait in the stream. Default 256,
	// at most MaxPending.
	Window int
	// Groups are the groups whose consumers start with Consume (the configured
	// registries and their clusters); a group found in the stream, or appended
	// by this process, gets its consumer when it is seen. Default: none.
	Groups []Group
	// AckWait is how long the consumer waits for an ack before it redelivers (the held events
	// are kept alive while this process runs, so it bounds the delay of a failover). Default 30s.
	AckWait time.Duration
	// Timeout bounds one publish or API call. Default 5s.
	Timeout time.Duration
	// Logger receives the embedded server's warnings and errors. Default slog.Default().
	Logger *slog.Logger
}

// Log is an open event log.
type Log struct {
	opts     Options
	srv      *server.Server // embedded only
	tmpStore string         // embedded in memory: the server's scratch store dir
	nc       *nats.Conn
	js       jetstream.JetStream
	events   jetstream.Stream
	failed   jetstream.Stream
	probe    jetstream.Stream
	evicted  evictCounter
	held     held
	// groups are the group consumers of the running Consume, by subject.
	groups groups
	// eventSync and failedSync share fsyncs of the streams' blocks among
	// concurrent writers (no-ops without an embedded file store).
	eventSync, failedSync *groupSync
}

func (o *Options) setDefaults() {
	if o.Stream == "" {
		o.Stream = "imagestream-bridge"
	}
	if o.Replicas == 0 {
		o.Replicas = 1
	}
	if o.MaxPending == 0 {
		o.MaxPending = 10000
	}
	if o.Window == 0 {
		o.Window = 256
	}
	o.Window = min(o.Window, o.MaxPending)
	if o.AckWait == 0 {
		o.AckWait = 30 * time.Second
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Open starts the embedded server or connects to the cluster, and creates
// (or updates) the event and failed streams.
func Open(ctx context.Context, o Options) (*Log, error) {
	o.setDefaults()
	l := &Log{opts: o}
	var err error
	if o.URL == "" {
		if o.Replicas != 1 {
			return nil, fmt.Errorf("open event log: the embedded server holds one copy, got %d replicas", o.Replicas)
		}
		err = l.startEmbedded()
	} else {
		err = l.connect()
	}
	if err != nil {
		l.Close()
		return nil, err
	}
	if l.js, err = jetstream.New(l.nc); err != nil {
		l.Close()
		return nil, fmt.Errorf("open event log: %w", err)
	}
	if err := l.createStreams(ctx); err != nil {
		l.Close()
		return nil, err
	}
	if err := l.startSync(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

func (l *Log) storage() jetstream.StorageType {
	if l.opts.URL == "" && l.opts.DataDir == "" {
		return jetstream.MemoryStorage
	}
	return jetstream.FileStorage
}

func (l *Log) failedSubjects() string { return l.opts.Stream + ".failed.>" }
func (l *Log) probeSubject() string   { return l.opts.Stream + ".probe" }
func (l *Log) consumerName() string   { return l.opts.Stream + "-applier" }

func (l *Log) createStreams(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 4*l.opts.Timeout)
	defer cancel()
	var err error
	l.events, err = l.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        l.opts.Stream,
		Description: "imagestream-bridge: accepted events until applied",
		// One subject per group; the legacy subject keeps the events of older versions.
		Subjects: []string{l.legacySubject(), l.groupSubjects()},
		// An event leaves the stream when the applier acks it (applied or moved to the failed list).
		Retention: jetstream.WorkQueuePolicy,
		// The queue budget: beyond it a publish fails and the webhook answers 503.
		MaxMsgs:  int64(l.opts.MaxPending),
		Discard:  jetstream.DiscardNew,
		Storage:  l.storage(),
		Replicas: l.opts.Replicas,
		// A sender's retry of one event, to this or another replica, is stored once.
		Duplicates: 10 * time.Minute,
	})
	if err != nil {
		return fmt.Errorf("create stream %s: %w", l.opts.Stream, err)
	}
	l.failed, err = l.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        l.opts.Stream + "-failed",
		Description: "imagestream-bridge: events that can never succeed as they are, one subject per entry",
		Subjects:    []string{l.failedSubjects()},
		// One entry per registry, repository, tag, digest, cluster and action: a new failure replaces it.
		MaxMsgsPerSubject: 1,
		MaxMsgs:           FailedCap,
		Discard:           jetstream.DiscardOld,
		Storage:           l.storage(),
		Replicas:          l.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create stream %s-failed: %w", l.opts.Stream, err)
	}
	l.probe, err = l.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        l.opts.Stream + "-probe",
		Description: "imagestream-bridge: readiness, an append that needs what an event needs",
		Subjects:    []string{l.probeSubject()},
		MaxMsgs:     1,
		Storage:     l.storage(),
		Replicas:    l.opts.Replicas,
	})
	if err != nil {
		return fmt.Errorf("create stream %s-probe: %w", l.opts.Stream, err)
	}
	return nil
}

// Durable reports whether a stored event survives a crash of this process.
func (l *Log) Durable() bool { return l.storage() == jetstream.FileStorage }

// Check reports whether the log can take events now (readiness): it appends
// to a one-message probe stream with the same replicas and storage, which
// needs what an event needs (a stream leader and a quorum).
func (l *Log) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, l.opts.Timeout)
	defer cancel()
	if _, err := l.js.Publish(ctx, l.probeSubject(), nil); err != nil {
		return fmt.Errorf("check event log: %w: %w", ErrUnavailable, err)
	}
	// A failed fsync of either stream leaves what is on disk unknown.
	if err := errors.Join(l.eventSync.err(), l.failedSync.err()); err != nil {
		return fmt.Errorf("check event log: %w: %w", ErrUnavailable, err)
	}
	return nil
}

// Close drains the connection and stops the embedded server.
func (l *Log) Close() error {
	if l.nc != nil {
		l.nc.Close()
	}
	if l.srv != nil {
		l.srv.Shutdown()
		l.srv.WaitForShutdown()
	}
	if l.tmpStore != "" {
		os.RemoveAll(l.tmpStore)
	}
	return nil
}

// Log is the bridge's log.
var _ bridge.Log = (*Log)(nil)
