package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
	"github.com/imagestream-bridge/imagestream-bridge/webhook"
)

// ErrLostLeadership ends serve so that the pod restarts clean; the next
// applier takes the jobs it held from the log.
var ErrLostLeadership = errors.New("lost leadership")

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the webhook and the pipeline until SIGTERM",
		Long: `serve listens on listenAddress for registry notifications (POST /notifications/NAME),
/healthz, /readyz and /metrics, stores each accepted event in the event log before it
answers 202 (nats: an embedded nats-server with its file store in dataDir, or a
JetStream cluster), applies each pushed tag as an ImageStreamMapping, and
reconciles every resyncInterval. With adminSocket set it also serves the admin
endpoints (used by the failed command) on that Unix socket, never on the listener.
On SIGTERM /readyz fails at once, webhooks are still taken for shutdownDelay (so a load
balancer sends elsewhere first), then it stops accepting, finishes in-flight work and
exits within shutdownTimeout.
It refuses to start on any problem the config command reports.`,
		Example: "  imagestream-bridge serve --config /etc/imagestream-bridge/config.yaml",
		Args:    noArgs,
	}
	file := configFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := requireConfig(cmd, *file)
		if err != nil {
			return err
		}
		log := newLogger(cfg, cmd.ErrOrStderr())
		klog.SetSlogLogger(log) // client-go's own messages in the same format
		return Serve(cmd.Context(), cfg, log, nil)
	}
	return cmd
}

// Serve runs the bridge until ctx ends, then keeps taking webhooks, not
// ready, for cfg.ShutdownDelay and shuts down within cfg.ShutdownTimeout.
// With ln nil it listens on cfg.ListenAddress.
func Serve(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener) error {
	for _, w := range cfg.Warnings() {
		log.Warn("config warning", "key", w.Key, "problem", w.Problem)
	}
	in, err := build(ctx, cfg, log, configuredLog)
	if err != nil {
		return err
	}
	defer in.Close()
	srv, err := in.newWebhook()
	if err != nil {
		return err
	}
	hs, err := srv.HTTPServer()
	if err != nil {
		return err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.ListenAddress); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	var adm net.Listener
	if cfg.AdminSocket != "" {
		if adm, err = listenAdmin(cfg.AdminSocket); err != nil {
			ln.Close()
			return err
		}
	}
	log.Info("imagestream-bridge starting", "version", Version, "listen", ln.Addr().String(),
		"registries", len(cfg.Registries), "clusters", len(cfg.Clusters()), "event_log", logKind(cfg), "durable", in.events.Durable(), "workers", cfg.Workers,
		"leader_election", cfg.LeaderElection.Enabled)

	// The shutdown deadline is split once: half to stop the listener, half to
	// finish in-flight work.
	httpGrace := cfg.ShutdownTimeout.Duration / 2
	drainGrace := cfg.ShutdownTimeout.Duration - httpGrace
	// Work outlives ctx by the shutdown deadline, so in-flight mappings finish.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	// The listener, the election and the applier outlive ctx by shutdownDelay (pause).
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()

	// Every goroutine started here is awaited before the event log closes.
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Go(func() { errc <- srv.Serve(runCtx, hs, ln, httpGrace) })
	if adm != nil {
		log.Info("admin endpoints on a Unix socket", "socket", cfg.AdminSocket)
		wg.Go(func() {
			if err := serveAdmin(runCtx, srv.AdminHandler(), adm); err != nil {
				errc <- err
			}
		})
	}
	wg.Go(func() { in.sampleGauges(runCtx) })

	// Ready while the event log takes appends. On a shared (cluster) log every
	// replica takes webhooks; an embedded log is private to its process, so
	// with leader election only the applier takes them (a follower's events
	// would wait in a log nobody consumes). Only the applier applies.
	shared := !cfg.NATS.Embedded()
	srv.SetLeading(shared)
	wg.Go(func() { in.watchLog(runCtx, srv) })
	wg.Go(func() { in.health.probe(runCtx, cfg.Clusters(), in.apis) })

	lead := func(leadCtx context.Context) {
		in.metrics.Leader(true)
		srv.SetLeading(true)
		in.bridge.Start(workCtx)
		log.Info("applying events: this replica consumes the event log")
		in.bridge.ResyncLoop(leadCtx, cfg.ResyncInterval.Duration)
	}
	if cfg.LeaderElection.Enabled {
		wg.Go(func() {
			if err := in.elect(runCtx, lead, func() { srv.SetLeading(shared) }); err != nil {
				errc <- err
			}
		})
	} else {
		wg.Go(func() { lead(runCtx) })
	}

	var runErr error
	select {
	case <-ctx.Done():
		in.pause(srv)
	case runErr = <-errc:
	}
	cancelRun()
	wg.Wait()
	in.drain(stopWork, drainGrace)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	log.Info("imagestream-bridge stopped")
	return nil
}

// pause is the first step of a shutdown: /readyz fails at once, and webhooks
// (and, on the applier, the work) go on for shutdownDelay, so that a load
// balancer polling readiness sends elsewhere before this replica stops
// listening. Kubernetes takes a Terminating pod out of its Service by itself,
// but not at once: the endpoint update travels to every node meanwhile.
func (in *instance) pause(srv *webhook.Server) {
	srv.Stopping()
	if in.cfg.ShutdownDelay == nil || in.cfg.ShutdownDelay.Duration <= 0 {
		return
	}
	d := in.cfg.ShutdownDelay.Duration
	in.log.Info("shutting down: not ready, still taking webhooks for shutdownDelay", "shutdown_delay", d.String())
	time.Sleep(d)
}

// drain ends the applier within grace. The log's deliveries stop first (the
// jobs this process holds go back to the log for the next applier, a durable
// log keeps them for the next start), then in-flight jobs finish. An
// in-memory log is worked off until the deadline: nothing else keeps it.
func (in *instance) drain(stopWork context.CancelFunc, grace time.Duration) {
	b := in.bridge
	deadline := time.Now().Add(grace)
	if !in.events.Durable() {
		b.Drain()
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		if err := b.Wait(ctx); err != nil {
			in.log.Warn("shutdown deadline passed with events unapplied; they are lost (event log in memory: set dataDir)", "left", b.Waiting(context.Background()))
		}
		cancel()
	}
	done := make(chan struct{})
	go func() { b.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Until(deadline)):
		stopWork()
		<-done
	}
	if in.events.Durable() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if left := b.Waiting(ctx); left > 0 {
			in.log.Info("unapplied events stay in the event log for the next applier", "left", left)
		}
		cancel()
	}
}

// watchLog keeps readiness in step with the event log: ready while an append
// succeeds (a quorum with a cluster), checked every second, each change logged
// once. Until shutdown begins; then the webhook keeps readiness false.
func (in *instance) watchLog(ctx context.Context, srv *webhook.Server) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	known, up := false, false
	for {
		err := in.events.Check(ctx)
		if ctx.Err() != nil {
			return
		}
		if now := err == nil; !known || now != up {
			known, up = true, now
			srv.SetReady(up)
			in.metrics.LogUp(up)
			if up {
				in.log.Info("event log takes appends: ready", "event_log", logKind(in.cfg))
			} else {
				in.log.Error("event log takes no appends: not ready, webhooks answer 503", "event_log", logKind(in.cfg), "error", err.Error())
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logKind names the event log for logs: embedded or cluster.
func logKind(cfg *config.Config) string {
	if cfg.NATS.Embedded() {
		return "embedded"
	}
	return "cluster"
}

// sampleGauges samples the queue, the event log and the workers every second until ctx ends.
func (in *instance) sampleGauges(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	wasStalled := false
	for {
		in.metrics.Sample(metrics.Gauges{
			QueueDepth: in.bridge.Waiting(ctx), JournalBytes: in.events.Bytes(ctx),
			FailedEvicted: in.events.Evicted(),
		})
		stalled, idle := in.bridge.Stalled()
		if stalled != wasStalled {
			in.metrics.WorkersStalled(stalled)
			if stalled {
				in.log.Error("workers finished no event while events wait: /readyz fails until they do", "idle", idle.String())
			} else {
				in.log.Info("workers make progress again")
			}
			wasStalled = stalled
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// elect runs Lease leader election; lead runs while this replica leads,
// stopped once it no longer does.
// Losing the lease ends serve with ErrLostLeadership, so the pod restarts clean.
func (in *instance) elect(ctx context.Context, lead func(context.Context), onStopped func()) error {
	le := in.cfg.LeaderElection
	lc := rest.CopyConfig(in.rest)
	lc.ContentType = "application/json" // one wire format everywhere, including the emulator
	cs, err := kubernetes.NewForConfig(lc)
	if err != nil {
		return fmt.Errorf("create kubernetes client: %w", err)
	}
	id := os.Getenv("POD_NAME")
	if id == "" {
		id, _ = os.Hostname()
	}
	id = fmt.Sprintf("%s_%d", id, time.Now().UnixNano())
	lost := make(chan struct{})
	// client-go runs OnStartedLeading on a goroutine of its own: leading
	// tracks it so that elect returns only after lead has.
	var (
		mu      sync.Mutex
		stopped bool
		leading sync.WaitGroup
	)
	defer func() {
		mu.Lock()
		stopped = true
		mu.Unlock()
		leading.Wait()
	}()
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: &resourcelock.LeaseLock{
			LeaseMeta:  metav1.ObjectMeta{Namespace: le.Namespace, Name: le.LeaseName},
			Client:     cs.CoordinationV1(),
			LockConfig: resourcelock.ResourceLockConfig{Identity: id},
		},
		LeaseDuration:   le.LeaseDuration.Duration,
		RenewDeadline:   le.RenewDeadline.Duration,
		RetryPeriod:     le.RetryPeriod.Duration,
		ReleaseOnCancel: true,
		Name:            le.LeaseName,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(c context.Context) {
				mu.Lock()
				if stopped {
					mu.Unlock()
					return
				}
				leading.Add(1)
				mu.Unlock()
				defer leading.Done()
				in.log.Info("became leader", "identity", id)
				lead(c)
			},
			OnStoppedLeading: func() {
				in.metrics.Leader(false)
				onStopped()
				close(lost)
			},
			OnNewLeader: func(identity string) {
				if identity != id {
					in.log.Info("following leader", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	in.metrics.Leader(false)
	elector.Run(ctx)
	select {
	case <-lost:
		if ctx.Err() == nil {
			return ErrLostLeadership
		}
	default:
	}
	return nil
}
