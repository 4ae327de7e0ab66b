// Package app implements the imagestream-bridge command line: it parses
// subcommands and flags, assembles the packages and runs them. main only
// handles signals and the exit code.
package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// Version is stamped by the build (make build).
var Version = "dev"

const usage = `imagestream-bridge keeps OpenShift image streams in step with a registry on push.

Usage:
  imagestream-bridge serve    --config FILE              run the webhook and the pipeline
  imagestream-bridge resync   --config FILE [--dry-run]  reconcile registry tags with image streams once
  imagestream-bridge failed   --config FILE [--replay all|SEQ,...]  list or replay failed events of a running bridge
  imagestream-bridge config   --config FILE              validate and print the config, secrets redacted
  imagestream-bridge emulator [--listen ADDR] [--kubeconfig FILE]  run the OpenShift image-API emulator
  imagestream-bridge version
`

// Main runs one command and returns the process exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "serve":
		err = runServe(ctx, rest, stderr)
	case "resync":
		err = runResync(ctx, rest, stdout, stderr)
	case "failed":
		err = runFailed(ctx, rest, stdout)
	case "config":
		err = runConfig(rest, stdout)
	case "demo":
		err = errors.New("the demo is its own command: make demo (go run ./cmd/imagestream-bridge-demo)")
	case "emulator":
		err = runEmulator(ctx, rest, stdout)
	case "version":
		fmt.Fprintln(stdout, Version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "error:", strings.ReplaceAll(err.Error(), "\n", " "))
		return 1
	}
	return 0
}

// configFlags parses --config (required) plus extra flags.
func configFlags(name string, args []string, extra func(fs *flag.FlagSet)) (*config.Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	file := fs.String("config", "", "path of the YAML config file")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if *file == "" {
		return nil, errors.New("--config FILE is required")
	}
	return config.Load(*file)
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

func runConfig(args []string, stdout io.Writer) error {
	cfg, err := configFlags("config", args, nil)
	if err != nil {
		return err
	}
	return cfg.Write(stdout)
}
