// Command imagestream-bridge keeps OpenShift image streams in step with a
// container registry the moment an image is pushed. See package app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/imagestream-bridge/imagestream-bridge/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
