package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

// stack is the sandbox stack (registry, image-API emulator, bridge) on loopback.
type stack struct {
	BridgeURL, BridgeAddr, RegistryURL, APIURL string

	*loopback.Stack
}

func startStack(ctx context.Context, log *slog.Logger) (*stack, error) {
	st, err := loopback.Start(ctx, loopback.Options{
		Token: "promcheck-token", Notify: true, Log: log,
		// A short resync interval makes the reconciliation panels move within the check.
		Configure: func(c *config.Config) { c.ResyncInterval = &config.Duration{Duration: 2 * time.Second} },
	})
	if err != nil {
		return nil, err
	}
	return &stack{Stack: st, BridgeURL: st.Bridge.URL, BridgeAddr: st.Config.ListenAddress,
		RegistryURL: st.Registry.URL, APIURL: st.API.URL}, nil
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
			err = sandbox.Push(st.Registry.Host, "promcheck/multiarch", tag, idx)
		} else {
			img, ierr := sandbox.RandomImage(2, i%2 == 0, "amd64")
			if ierr != nil {
				return ierr
			}
			err = sandbox.Push(st.Registry.Host, "promcheck/app", tag, img)
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
