package app

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

func newResyncCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "resync --config FILE [--dry-run]",
		Short: "Reconcile registry tags with image streams once",
		Long: `resync lists every repository and tag of each registry (the catalog API, or the
registry's repositories key), a page at a time within the registry's resync budget, compares each tag's digest with its image stream tag in
every target cluster and posts a mapping for every tag that drifted (with deleteTags,
it also deletes the image stream tags whose registry tag is gone), then waits for
them. It keeps its queue in
memory (never the event log of a running serve). serve also does this at start and
every resyncInterval.`,
		Example: "  imagestream-bridge resync --config config.yaml --dry-run",
		Args:    noArgs,
	}
	file := configFlag(cmd)
	dryRun := cmd.Flags().Bool("dry-run", false, "print the drifted tags and post nothing")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cfg, err := requireConfig(cmd, *file)
		if err != nil {
			return err
		}
		ctx, stdout := cmd.Context(), cmd.OutOrStdout()
		cfg.DataDir = "" // one-shot: a private log in memory, never the log of a running serve
		log := newLogger(cfg, cmd.ErrOrStderr())
		in, err := build(ctx, cfg, log, privateLog)
		if err != nil {
			return err
		}
		defer in.Close()
		if !*dryRun {
			in.bridge.Start(ctx)
			defer in.bridge.Stop()
		}
		// The table is this command's output: only drifted tags are kept for it.
		var drift []bridge.Drift
		if _, err := in.bridge.Resync(ctx, *dryRun, func(d bridge.Drift) { drift = append(drift, d) }); err != nil {
			return err
		}
		// Repositories are checked concurrently: rows in registry, repository, cluster and tag order.
		regOrder := map[string]int{}
		for i, r := range cfg.Registries {
			regOrder[r.Name] = i
		}
		slices.SortStableFunc(drift, func(a, b bridge.Drift) int {
			return cmp.Or(cmp.Compare(regOrder[a.Registry], regOrder[b.Registry]), strings.Compare(a.Repository, b.Repository),
				strings.Compare(a.Cluster, b.Cluster), strings.Compare(a.Tag, b.Tag))
		})
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "KIND\tCLUSTER\tNAMESPACE/STREAM:TAG\tREGISTRY DIGEST\tSTREAM IMAGE")
		for _, d := range drift {
			cur := d.Current
			if cur == "" {
				cur = "-"
			}
			dgst := d.Digest
			if dgst == "" {
				dgst = "-" // removed: the registry no longer has the tag
			}
			fmt.Fprintf(tw, "%s\t%s\t%s/%s:%s\t%s\t%s\n", d.Kind, d.Cluster, d.Namespace, d.Stream, d.Tag, dgst, cur)
		}
		tw.Flush()
		if *dryRun {
			fmt.Fprintf(stdout, "%d tags drifted (dry run: nothing posted)\n", len(drift))
			return nil
		}
		if err := in.bridge.Wait(ctx); err != nil {
			return err
		}
		// The one-shot log is private: its failed list holds exactly this run's failures.
		failed, err := in.bridge.Failed(ctx)
		if err != nil {
			return err
		}
		if len(failed) > 0 {
			reasons := map[string]int{}
			for _, f := range failed {
				reasons[f.Reason]++
			}
			keys := slices.Sorted(maps.Keys(reasons))
			parts := make([]string, 0, len(keys))
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s: %d", k, reasons[k]))
			}
			for _, f := range failed {
				fmt.Fprintf(stdout, "failed\t%s\t%s\t%s\n", f.Key(), f.Reason, f.Message)
			}
			return fmt.Errorf("%d of %d repairs failed (%s); see the lines above and the log", len(failed), len(drift), strings.Join(parts, ", "))
		}
		// What the workers really did, not what was planned.
		applied, skipped := in.bridge.ResyncOutcomes()
		fmt.Fprintf(stdout, "%d tags drifted, %d repairs applied", len(drift), applied)
		if skipped > 0 {
			fmt.Fprintf(stdout, ", %d skipped (see the log: the tag moved on, or another repository owns it)", skipped)
		}
		fmt.Fprintln(stdout)
		return nil
	}
	return cmd
}
