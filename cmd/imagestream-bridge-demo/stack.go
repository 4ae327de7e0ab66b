package main

import (
	"context"
	"io"
	"log/slog"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

// startStack starts the sandbox stack (registry "demo", the emulator and the
// bridge) on loopback; the bridge logs to logOut. Close ends it. The registry
// derives roll-up tags (derivedTags: v1.2, v1 and latest follow the highest release).
func startStack(ctx context.Context, logOut io.Writer) (*loopback.Stack, error) {
	return loopback.Start(ctx, loopback.Options{
		Registry: "demo", Token: "demo-token", Notify: true,
		Log: slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo})),
		Configure: func(c *config.Config) {
			c.Registries[0].DerivedTags = config.DerivedTags{Semver: true, Latest: true}
		},
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
