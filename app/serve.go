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

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/journal"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
)

// ErrLostLeadership ends serve so that the pod restarts as a follower.
var ErrLostLeadership = errors.New("lost leadership")

// Instance is an assembled bridge.
type Instance struct {
	Cfg      *config.Config
	Log      *slog.Logger
	Registry *prometheus.Registry
	Metrics  *metrics.Metrics
	REST     *rest.Config
	Store    journal.Store
	Bridge   *bridge.Bridge
	Server   *bridge.Server
}

// Build assembles every part from cfg. Close releases the journal.
func Build(cfg *config.Config, log *slog.Logger) (*Instance, error) {
	reg := prometheus.NewRegistry()
	names := make([]string, 0, len(cfg.Registries))
	for _, r := range cfg.Registries {
		names = append(names, r.Name)
	}
	m := metrics.New(reg, Version, names)
	rc, err := bridge.RESTConfig(cfg.OpenShift)
	if err != nil {
		return nil, err
	}
	api, err := bridge.NewAPI(rc, func(op string, code int, d time.Duration) {
		m.APIDuration.WithLabelValues(op, codeClass(code)).Observe(d.Seconds())
	})
	if err != nil {
		return nil, err
	}
	var store journal.Store = journal.NewMemory()
	if cfg.DataDir != "" {
		if store, err = journal.OpenBolt(cfg.DataDir, journal.WithLogger(log)); err != nil {
			return nil, err
		}
	}
	b, err := bridge.New(cfg, api, store, m, log)
	if err != nil {
		store.Close()
		return nil, err
	}
	return &Instance{
		Cfg: cfg, Log: log, Registry: reg, Metrics: m, REST: rc, Store: store, Bridge: b,
		Server: bridge.NewServer(cfg, b, m, reg, log),
	}, nil
}

func codeClass(code int) string {
	switch {
	case code == 0:
		return "error"
	case code < 300:
		return "2xx"
	case code < 500:
		return "4xx"
	default:
		return "5xx"
	}
}

// Close releases the journal.
func (in *Instance) Close() error { return in.Store.Close() }

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
	in, err := Build(cfg, log)
	if err != nil {
		return err
	}
	defer in.Close()
	hs, err := in.Server.HTTPServer()
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
		"registries", len(cfg.Registries), "durable", in.Store.Durable(), "workers", cfg.Workers,
		"leader_election", cfg.LeaderElection.Enabled)

	// Work outlives ctx by the shutdown deadline, so in-flight mappings finish.
	workCtx, stopWork := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWork()
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()

	var wg sync.WaitGroup
	errc := make(chan error, 3)
	wg.Add(1)
	go func() {
		defer wg.Done()
		errc <- in.Server.Serve(runCtx, hs, ln)
	}()
	if adm != nil {
		log.Info("admin endpoints on a Unix socket", "socket", cfg.AdminSocket)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := serveAdmin(runCtx, in.Server.AdminHandler(), adm); err != nil {
				errc <- err
			}
		}()
	}
	go in.updateGauges(runCtx)

	lead := func(leadCtx context.Context) {
		in.Metrics.Leader.Set(1)
		in.Server.SetLeading(true)
		in.Bridge.Start(workCtx)
		in.Server.SetReady(true)
		log.Info("processing events")
		in.Bridge.ResyncLoop(leadCtx, cfg.ResyncInterval.Duration)
	}
	if cfg.LeaderElection.Enabled {
		in.Server.SetReady(true) // followers answer /readyz with 503 through the leading check
		go func() {
			if err := in.elect(runCtx, lead); err != nil {
				errc <- err
			}
		}()
	} else {
		go lead(runCtx)
	}

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
		cancelRun()
	}
	cancelRun()
	wg.Wait()
	in.drain(stopWork)
	if runErr != nil && !errors.Is(runErr, context.Canceled) {
		return runErr
	}
	log.Info("imagestream-bridge stopped")
	return nil
}

// drain finishes queued work within the shutdown deadline. A durable journal
// keeps what is left for the next start, so only in-flight jobs are finished;
// in memory, the queue is worked off until the deadline.
func (in *Instance) drain(stopWork context.CancelFunc) {
	p := in.Bridge.Pipeline()
	deadline := in.Cfg.ShutdownTimeout.Duration / 2
	if !in.Store.Durable() {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		if err := p.Wait(ctx); err != nil {
			in.Log.Warn("shutdown deadline passed with events unapplied; they are lost (memory journal)", "left", p.Depth())
		}
		cancel()
	}
	done := make(chan struct{})
	go func() { p.Stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(deadline):
		stopWork()
		<-done
	}
	if in.Store.Durable() && p.Depth() > 0 {
		in.Log.Info("unapplied events stay in the journal for the next start", "left", p.Depth())
	}
}

func (in *Instance) updateGauges(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	wasStalled := false
	for {
		in.Metrics.QueueDepth.Set(float64(in.Bridge.Pipeline().Depth()))
		in.Metrics.JournalBytes.Set(float64(in.Store.Size()))
		in.Metrics.JournalQuarantined.Set(float64(in.Store.Quarantined()))
		in.Metrics.FailedEvicted.Set(float64(in.Store.Evicted()))
		stalled, idle := in.Bridge.Stalled()
		if stalled != wasStalled {
			if stalled {
				in.Metrics.WorkersStalled.Set(1)
				in.Log.Error("workers finished no event while events wait: /readyz fails until they do", "idle", idle.String())
			} else {
				in.Metrics.WorkersStalled.Set(0)
				in.Log.Info("workers make progress again")
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
func (in *Instance) elect(ctx context.Context, lead func(context.Context)) error {
	le := in.Cfg.LeaderElection
	lc := rest.CopyConfig(in.REST)
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
				in.Log.Info("became leader", "identity", id)
				lead(c)
			},
			OnStoppedLeading: func() {
				in.Metrics.Leader.Set(0)
				in.Server.SetLeading(false)
				close(lost)
			},
			OnNewLeader: func(identity string) {
				if identity != id {
					in.Log.Info("following leader", "leader", identity)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	in.Metrics.Leader.Set(0)
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
