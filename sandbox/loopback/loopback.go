// Package loopback runs the whole bridge on loopback: a sandbox registry, the
// image-API emulator and the bridge itself (app.Serve), with one readiness
// poller. The end-to-end tests, the demo, the benchmark and promcheck share
// it. It lives beside package sandbox, not in it, because the bridge's own
// packages test against sandbox's registry.
package loopback

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// Options configure a Stack. Zero values take the defaults.
type Options struct {
	// Registry names the registry entry of the bridge's config. Default "main".
	Registry string
	// Token is that registry's webhook token. Default "sandbox-token".
	Token string
	// Notify makes the registry send its push notifications to the bridge.
	Notify bool
	// API and Reg, when set, are used (and left running by Close) instead of fresh ones.
	API *sandbox.API
	Reg *sandbox.Registry
	// Scheme of the bridge's URL: "https" when Configure turns TLS on. Default "http".
	Scheme string
	// Client polls /readyz. Default http.DefaultClient.
	Client *http.Client
	// Clusters names extra clusters: each gets an emulator of its own (closed
	// by Close) and an entry in the config's clusters: (after "default", which
	// is API). Stack.Clusters has them by name.
	Clusters []string
	// Configure edits the bridge's config (built from these options) before
	// defaults and validation.
	Configure func(*config.Config)
	// Log receives the bridge's log. Default: discarded.
	Log *slog.Logger
}

// Stack is a registry, the image-API emulator and the bridge (app.Serve), all
// real, on loopback: the one assembly used by the end-to-end tests, the demo,
// the benchmark and promcheck.
type Stack struct {
	API      *sandbox.API
	Registry *sandbox.Registry
	// Bridge is the running bridge; its URL is where notifications go.
	Bridge *Bridge
	// Config is the bridge's config; Kubeconfig the emulator's kubeconfig file.
	Config     *config.Config
	Kubeconfig string
	// Clusters are the emulators of Options.Clusters, by name.
	Clusters map[string]*sandbox.API

	dir     string
	closers []func()
}

// Start starts the parts that o does not provide, then the bridge, and
// returns once the bridge answers /readyz.
func Start(ctx context.Context, o Options) (st *Stack, err error) {
	if o.Registry == "" {
		o.Registry = "main"
	}
	if o.Token == "" {
		o.Token = "sandbox-token"
	}
	if o.Scheme == "" {
		o.Scheme = "http"
	}
	st = &Stack{API: o.API, Registry: o.Reg, Clusters: map[string]*sandbox.API{}}
	defer func() {
		if err != nil {
			st.closeParts()
		}
	}()
	if st.dir, err = os.MkdirTemp("", "imagestream-bridge-sandbox-"); err != nil {
		return nil, err
	}
	st.closers = append(st.closers, func() { os.RemoveAll(st.dir) })
	if st.API == nil {
		st.API = sandbox.StartAPI()
		st.closers = append(st.closers, st.API.Close)
	}
	if st.Kubeconfig, err = st.API.WriteKubeconfig(st.dir); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	url := o.Scheme + "://" + ln.Addr().String()
	if st.Registry == nil {
		n := sandbox.Notify{}
		if o.Notify {
			n = sandbox.Notify{URL: url + "/notifications/" + o.Registry, Token: o.Token}
		}
		if st.Registry, err = sandbox.StartRegistry(ctx, n); err != nil {
			ln.Close()
			return nil, err
		}
		st.closers = append(st.closers, st.Registry.Close)
	}
	st.Config = &config.Config{
		ListenAddress: ln.Addr().String(),
		Registries:    []config.Registry{{Name: o.Registry, URL: st.Registry.URL, WebhookToken: o.Token}},
		OpenShift:     config.OpenShift{Kubeconfig: st.Kubeconfig},
	}
	for _, name := range o.Clusters {
		api := sandbox.StartAPI()
		st.closers = append(st.closers, api.Close)
		st.Clusters[name] = api
		dir := filepath.Join(st.dir, "clusters", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			ln.Close()
			return nil, err
		}
		kc, err := api.WriteKubeconfig(dir)
		if err != nil {
			ln.Close()
			return nil, err
		}
		st.Config.OtherClusters = append(st.Config.OtherClusters, config.Cluster{Name: name, OpenShift: config.OpenShift{Kubeconfig: kc}})
	}
	if o.Configure != nil {
		o.Configure(st.Config)
	}
	if err := st.Config.Complete(); err != nil {
		ln.Close()
		return nil, err
	}
	if st.Bridge, err = ServeBridge(ctx, st.Config, o.Log, ln, o.Scheme, o.Client); err != nil {
		return nil, err
	}
	return st, nil
}

// Close stops the bridge (returning what app.Serve returned), then the parts
// the stack started.
func (st *Stack) Close() error {
	err := st.Bridge.Close()
	st.closeParts()
	return err
}

func (st *Stack) closeParts() {
	for i := len(st.closers) - 1; i >= 0; i-- {
		st.closers[i]()
	}
	st.closers = nil
}

// Bridge is app.Serve running in this process.
type Bridge struct {
	// URL is the bridge's base URL, e.g. http://127.0.0.1:PORT.
	URL  string
	stop context.CancelFunc
	done chan struct{} // closed when app.Serve returned err
	err  error
}

// ServeBridge runs app.Serve with cfg on ln (a fresh loopback listener when
// nil) and returns once it answers /readyz. log nil discards the log; client
// nil polls with http.DefaultClient.
func ServeBridge(ctx context.Context, cfg *config.Config, log *slog.Logger, ln net.Listener, scheme string, client *http.Client) (*Bridge, error) {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
	}
	if scheme == "" {
		scheme = "http"
	}
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	b := &Bridge{URL: scheme + "://" + ln.Addr().String(), stop: stop, done: make(chan struct{})}
	go func() {
		b.err = app.Serve(bctx, cfg, log, ln)
		close(b.done)
	}()
	if err := WaitReady(ctx, client, b.URL, b.done); err != nil {
		if cerr := b.Close(); cerr != nil {
			err = fmt.Errorf("%w (serve: %v)", err, cerr)
		}
		return nil, err
	}
	return b, nil
}

// Close stops the bridge within its shutdown timeout and returns what app.Serve returned.
func (b *Bridge) Close() error {
	if b == nil || b.stop == nil {
		return nil
	}
	b.stop()
	b.stop = nil
	select {
	case <-b.done:
		return b.err
	case <-time.After(30 * time.Second):
		return errors.New("the bridge did not stop within 30s")
	}
}

// WaitReady polls base/readyz until it answers 200, done is closed (the
// bridge ended), or 30s or ctx end. client nil is http.DefaultClient.
func WaitReady(ctx context.Context, client *http.Client, base string, done <-chan struct{}) error {
	if client == nil {
		client = http.DefaultClient
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return errors.New("the bridge ended before it was ready")
		case <-ctx.Done():
			return fmt.Errorf("the bridge did not get ready: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}
