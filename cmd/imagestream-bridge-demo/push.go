package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// newPushCommand is the offline push that `up` prints first: it needs
// nothing but the demo's registry (no Docker Hub, no crane, no daemon).
func newPushCommand() *cobra.Command {
	var layers int
	cmd := &cobra.Command{
		Use:   "push [--layers N] HOST/REPOSITORY:TAG",
		Short: "Push a small random image (Docker schema2) to a registry over plain HTTP",
		Long: `push builds a small random image (random layers of 512 bytes, a real config for
linux/amd64) and pushes it to HOST/REPOSITORY:TAG over plain HTTP, as crane or podman
would: blobs, the manifest by digest, then the tag. It needs no network beyond that
registry, so it is the push that works on a machine without Docker Hub. Every run
pushes a new image (new digest).`,
		Example: "  imagestream-bridge-demo push 127.0.0.1:5000/demo/app:v2",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 1 {
				return usageError{fmt.Errorf("%s takes exactly one image reference HOST/REPOSITORY:TAG, got %d arguments", cmd.CommandPath(), len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			ref, err := name.NewTag(args[0], name.Insecure, name.StrictValidation)
			if err != nil {
				return usageError{fmt.Errorf("parse image reference: %w", err)}
			}
			if layers < 1 || layers > 20 {
				return usageError{fmt.Errorf("--layers must be between 1 and 20, got %d", layers)}
			}
			img, err := sandbox.RandomImage(layers, false, "amd64")
			if err != nil {
				return fmt.Errorf("build image: %w", err)
			}
			digest, err := img.Digest()
			if err != nil {
				return fmt.Errorf("digest image: %w", err)
			}
			if err := sandbox.Push(ref.RegistryStr(), ref.RepositoryStr(), ref.TagStr(), img); err != nil {
				return fmt.Errorf("push %s: %w", ref, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "pushed %s@%s (%d layers)\n", ref, digest, layers)
			return nil
		},
	}
	cmd.Flags().IntVar(&layers, "layers", 2, "number of random layers")
	return cmd
}
