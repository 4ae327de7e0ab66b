// Command imagestream-bridge-demo runs a real distribution v3 registry, the
// OpenShift image-API emulator and the bridge on loopback. Without a command
// it pushes a multi-layer image and a multi-arch index and prints the image
// stream tags and one mapping (make demo); `up` keeps the three running for
// your own pushes (make demo-up); `push` pushes a random image to a registry
// (the offline push `up` prints); `emulator` serves the emulator alone. It is
// a separate binary so that the production binary carries neither an
// in-memory registry nor the emulator, which are test doubles.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// usageError is a command line mistake: usage, exit 2.
type usageError struct{ error }

// run executes one command and returns the exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := newCommand()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "error: %v\n\n%s", err, cmd.UsageString())
		return 2
	}
	fmt.Fprintln(stderr, "error:", err)
	return 1
}

func newCommand() *cobra.Command {
	var verbose bool
	root := &cobra.Command{
		Use:   "imagestream-bridge-demo [-v]",
		Short: "Try imagestream-bridge on loopback: a registry, the image-API emulator and the bridge",
		Long: `Without a command, the demo starts a distribution v3 registry (in memory), the
OpenShift image-API emulator and the bridge on loopback, pushes demo/app:v1 (Docker
schema2, 3 layers) and demo/multiarch:latest (an OCI index), prints the image stream
tags and the ImageStreamMapping posted, and exits.`,
		Args:          noArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return demo(cmd.Context(), verbose, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	root.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the bridge's log")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newUpCommand(), newPushCommand(), newEmulatorCommand())
	return root
}

func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageError{fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return nil
}
