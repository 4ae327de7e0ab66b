package app

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newConfigCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config --config FILE",
		Short: "Validate the config as serve does and print its effective values, secrets redacted",
		Long: `config runs exactly the checks serve runs before it starts (every key, the files it
names readable and non-empty, the kubeconfig loadable, addresses well formed) and
reports every problem at once, each naming its key path. On success it prints the
effective config (defaults filled in, secrets REDACTED) and exits 0; deprecated
keys are reported on stderr as warnings, which serve logs at startup.`,
		Example: "  imagestream-bridge config --config /etc/imagestream-bridge/config.yaml",
		Args:    noArgs,
	}
	file := configFlag(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *file == "" {
			return &usageError{cmd, errMissingConfig}
		}
		cfg, source, err := loadConfig(*file)
		if err != nil {
			return err
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintln(cmd.ErrOrStderr(), w)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "# valid; API server client config: %s\n", source)
		return cfg.Write(cmd.OutOrStdout())
	}
	return cmd
}
