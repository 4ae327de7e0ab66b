package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

const demoToken = "demo-token"

// stack is a registry, the emulator and the bridge, running on loopback.
type stack struct {
	api        *sandbox.API
	reg        *sandbox.Registry
	bridgeURL  string
	kubeconfig string
	dir        string
	stop       func() error
}

// startStack starts the three parts; the bridge logs to logOut. stop ends
// them and removes the temporary directory.
func startStack(ctx context.Context, logOut io.Writer) (*stack, error) {
	dir, err := os.MkdirTemp("", "imagestream-bridge-demo-")
	if err != nil {
		return nil, err
	}
	st := &stack{dir: dir}
	var closers []func()
	cleanup := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
		os.RemoveAll(dir)
	}
	st.api = sandbox.StartAPI()
	closers = append(closers, st.api.Close)
	if st.kubeconfig, err = st.api.WriteKubeconfig(dir); err != nil {
		cleanup()
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cleanup()
		return nil, err
	}
	st.bridgeURL = "http://" + ln.Addr().String()
	st.reg, err = sandbox.StartRegistry(ctx, sandbox.Notify{URL: st.bridgeURL + "/notifications/demo", Token: demoToken})
	if err != nil {
		ln.Close()
		cleanup()
		return nil, err
	}
	closers = append(closers, st.reg.Close)
	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listenAddress: %q
registries:
  - name: demo
    url: %s
    webhookToken: %s
openshift:
  kubeconfig: %q
`, ln.Addr().String(), st.reg.URL, demoToken, st.kubeconfig)))
	if err != nil {
		ln.Close()
		cleanup()
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	bctx, stopBridge := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- app.Serve(bctx, cfg, log, ln) }()
	st.stop = func() error {
		stopBridge()
		err := <-served
		cleanup()
		return err
	}
	if err := waitReady(ctx, st.bridgeURL); err != nil {
		st.stop()
		return nil, fmt.Errorf("the bridge did not get ready: %w", err)
	}
	return st, nil
}

func waitReady(ctx context.Context, base string) error {
	return waitFor(ctx, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
