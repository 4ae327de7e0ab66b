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

// ErrLostLeadership ends serve so that the pod restarts as a follower.
var ErrLostLeadership = errors.New("lost leadership")

func newServeCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "serve --config FILE",
		Short: "Run the webhook and the pipeline until SIGTERM",
		Long: `serve listens on listenAddress for registry notifications (POST /notifications/NAME),
/healthz, /readyz and /metrics, applies each pushed tag as an ImageStreamMapping, and
reconciles every resyncInterval. With adminSocket set it also serves the admin
endpoints (used by the failed command) on that Unix socket, never on the listener.
On SIGTERM it stops accepting, finishes in-flight work and exits within shutdownTimeout.
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

// Serve runs the bridge until ctx ends, then shuts down within cfg.ShutdownTimeout.
// With ln nil it listens on cfg.ListenAddress.
func Serve(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener) error {
	for _, w := range cfg.Warnings() {
		log.Warn("config warning", "key", w.Key, "problem", w.Problem)
	}
	in, err := build(cfg, log)
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
		"registries", len(cfg.Registries), "clusters", len(cfg.Clusters()), "durable", in.store.Durable(), "workers", cfg.Workers,
		"leader_election", cfg.LeaderElection.Enabled)

	// The shutdown deadline is split once: half to stop the listener, half to
	// finish in-flight work.
	httpGrace := cfg.ShutdownTimeout.Duration / 2
	drainGrace := cfg.ShutdownTimeout.Duration - httpGrace
	// Work outlives ctx by the shutdown deadline, so in-flight mappings finish.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()

	// Every goroutine started here is awaited before the journal closes.
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

	// Ready once the workers run (or at once with leader election, where
	// followers answer through the leading check) while the default cluster
	// answers; another cluster's health never takes the bridge out of its Service.
	var (
		readyMu sync.Mutex
		started = cfg.LeaderElection.Enabled
	)
	updateReady := func() {
		readyMu.Lock()
		defer readyMu.Unlock()
		if runCtx.Err() == nil { // shutting down: the webhook keeps readiness false
			srv.SetReady(started && in.health.defaultUp())
		}
	}
	in.health.setOnDefault(func(bool) { updateReady() })
	wg.Go(func() { in.health.probe(runCtx, cfg.Clusters(), in.apis) })

	lead := func(leadCtx context.Context) {
		in.metrics.Leader(true)
		srv.SetLeading(true)
		in.bridge.Start(workCtx)
		readyMu.Lock()
		started = true
		readyMu.Unlock()
		updateReady()
		log.Info("processing events")
		in.bridge.ResyncLoop(leadCtx, cfg.ResyncInterval.Duration)
	}
	if cfg.LeaderElection.Enabled {
		updateReady() // followers answer /readyz with 503 through the leading check
		wg.Go(func() {
			if err := in.elect(runCtx, srv, lead); err != nil {
				errc <- err
			}
		})
	} else {
		wg.Go(func() { lead(runCtx) })
	}

	var runErr error
	select {
	case <-ctx.Done():
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

// drain finishes queued work within grace. A durable journal keeps what is
// left for the next start, so only in-flight jobs are finished; in memory, the
// queue is worked off until the deadline.
func (in *instance) drain(stopWork context.CancelFunc, grace time.Duration) {
	b := in.bridge
	if !in.store.Durable() {
		ctx, cancel := context.WithTimeout(context.Background(), grace)
		if err := b.Wait(ctx); err != nil {
			in.log.Warn("shutdown deadline passed with events unapplied; they are lost (memory journal)", "left", b.Depth())
		}
		cancel()
	}
	done := make(chan struct{})
	go func() { b.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(grace):
		stopWork()
		<-done
	}
	if in.store.Durable() && b.Depth() > 0 {
		in.log.Info("unapplied events stay in the journal for the next start", "left", b.Depth())
	}
}

// sampleGauges samples the queue, the journal and the workers every second until ctx ends.
func (in *instance) sampleGauges(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	wasStalled := false
	for {
		in.metrics.Sample(metrics.Gauges{
			QueueDepth: in.bridge.Depth(), JournalBytes: in.store.Size(),
			JournalQuarantined: in.store.Quarantined(), FailedEvicted: in.store.Evicted(),
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

// elect runs Lease leader election; lead runs while this replica leads.
// Losing the lease ends serve with ErrLostLeadership, so the pod restarts clean.
func (in *instance) elect(ctx context.Context, srv *webhook.Server, lead func(context.Context)) error {
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
				srv.SetLeading(false)
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
