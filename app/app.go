// Package app implements the imagestream-bridge command line: it defines the
// commands and their flags (cobra, as kubectl, helm and oc do), assembles the
// packages and runs them. main only handles signals and the exit code.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// Version is stamped by the build (make build).
var Version = "dev"

// usageError is a command line mistake: it prints the command's usage and exits 2.
type usageError struct {
	cmd *cobra.Command
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// Main runs one command and returns the process exit code: 0 on success, 1
// when the command failed, 2 on a command line mistake (with the usage).
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := NewCommand(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	var ue *usageError
	if errors.As(err, &ue) || strings.HasPrefix(err.Error(), "unknown command") {
		if ue != nil && ue.cmd != nil {
			cmd = ue.cmd
		}
		fmt.Fprintf(stderr, "error: %v\n\n%s", err, cmd.UsageString())
		return 2
	}
	for _, line := range strings.Split(strings.TrimSpace(err.Error()), "\n") {
		fmt.Fprintln(stderr, "error:", line)
	}
	return 1
}

// NewCommand returns the root command with every subcommand.
func NewCommand(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "imagestream-bridge",
		Short: "Keep OpenShift image streams in step with a container registry on push",
		Long: `imagestream-bridge receives a registry's push notifications (distribution and GitLab,
Harbor, Quay, JFrog Artifactory or Azure Container Registry webhooks), stores each
accepted event in its event log (NATS JetStream) before it answers, and posts the
ImageStreamMapping that OpenShift's integrated registry would post, so that the image
stream tag moves the moment an image is pushed.

Every command except version reads the same YAML config file (--config FILE);
config.example.yaml shows every key with its default.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return &usageError{cmd, errors.New("a command is required")}
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error { return &usageError{c, err} })
	root.AddCommand(newServeCommand(), newResyncCommand(), newFailedCommand(), newConfigCommand(),
		newVersionCommand(), movedCommand("emulator"), movedCommand("demo"))
	return root
}

// noArgs rejects positional arguments with the usage, naming the unknown command.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	if cmd.HasSubCommands() {
		return &usageError{cmd, fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath())}
	}
	return &usageError{cmd, fmt.Errorf("%q takes no arguments, got %q", cmd.CommandPath(), args)}
}

// configFlag adds --config FILE to cmd.
func configFlag(cmd *cobra.Command) *string {
	return cmd.Flags().String("config", "", "path of the YAML config file (required; config.example.yaml lists every key)")
}

var errMissingConfig = errors.New("--config FILE is required")

// requireConfig loads and checks the config exactly as serve does (LoadConfig).
func requireConfig(cmd *cobra.Command, file string) (*config.Config, error) {
	if file == "" {
		return nil, &usageError{cmd, errMissingConfig}
	}
	return LoadConfig(file)
}

// newLogger builds the slog logger the config asks for.
func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: lvl}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), Version)
			return nil
		},
	}
}

// movedCommand answers a command that left the production binary with where it went.
func movedCommand(name string) *cobra.Command {
	return &cobra.Command{
		Use:                name,
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(*cobra.Command, []string) error {
			return fmt.Errorf("%q is not part of the production binary: it lives in the demo binary "+
				"(go run ./cmd/imagestream-bridge-demo %s --help, or make demo / make demo-up)", name, name)
		},
	}
}
