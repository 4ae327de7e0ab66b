package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

const webhookToken = "promcheck-token"

// stack is a registry, the image-API emulator and the bridge, all on loopback.
type stack struct {
	BridgeURL, BridgeAddr, RegistryURL, APIURL string

	api      *sandbox.API
	registry *sandbox.Registry
	stop     context.CancelFunc
	served   chan error
}

func startStack(ctx context.Context, dir string, log *slog.Logger) (*stack, error) {
	api := sandbox.StartAPI()
	kubeconfig, err := api.WriteKubeconfig(dir)
	if err != nil {
		api.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		api.Close()
		return nil, err
	}
	st := &stack{api: api, BridgeAddr: ln.Addr().String(), APIURL: api.URL, served: make(chan error, 1)}
	st.BridgeURL = "http://" + st.BridgeAddr
	reg, err := sandbox.StartRegistry(ctx, sandbox.Notify{URL: st.BridgeURL + "/notifications/main", Token: webhookToken})
	if err != nil {
		ln.Close()
		api.Close()
		return nil, err
	}
	st.registry, st.RegistryURL = reg, reg.URL

	// A short resync interval makes the reconciliation panels move within the check.
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listenAddress: %q
resyncInterval: 2s
registries:
  - name: main
    url: %s
    webhookToken: %s
openshift:
  kubeconfig: %q
`, st.BridgeAddr, reg.URL, webhookToken, kubeconfig)))
	if err != nil {
		st.closeDeps()
		ln.Close()
		return nil, err
	}
	bctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	st.stop = stop
	go func() { st.served <- app.Serve(bctx, cfg, log, ln) }()
	if err := waitHTTP(ctx, st.BridgeURL+"/readyz"); err != nil {
		st.Close()
		return nil, fmt.Errorf("bridge not ready: %w", err)
	}
	return st, nil
}

// PushLoop pushes a new random image every interval, at most max times, until ctx ends.
// Every fifth push is a multi-arch index, so child manifests give skipped events too.
func (st *stack) PushLoop(ctx context.Context, interval time.Duration, max int) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for i := 0; i < max; i++ {
		var err error
		tag := fmt.Sprintf("v%d", i)
		if i%5 == 4 {
			idx, ierr := sandbox.RandomIndex(true, "amd64", "arm64")
			if ierr != nil {
				return ierr
			}
			err = sandbox.Push(st.registry.Host, "promcheck/multiarch", tag, idx)
		} else {
			img, ierr := sandbox.RandomImage(2, i%2 == 0, "amd64")
			if ierr != nil {
				return ierr
			}
			err = sandbox.Push(st.registry.Host, "promcheck/app", tag, img)
		}
		if err != nil && ctx.Err() == nil {
			return fmt.Errorf("push %s: %w", tag, err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
	return nil
}

// Close stops the bridge (bounded by its shutdown timeout), the registry and the emulator.
func (st *stack) Close() {
	if st.stop != nil {
		st.stop()
		select {
		case <-st.served:
		case <-time.After(30 * time.Second):
		}
	}
	st.closeDeps()
}

func (st *stack) closeDeps() {
	if st.registry != nil {
		st.registry.Close()
	}
	st.api.Close()
}

func waitHTTP(ctx context.Context, url string) error {
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}
