package app

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// runResync reconciles once. Without --dry-run it applies the repairs and
// waits for them; it must not run against a journal a serve process holds.
func runResync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var dryRun bool
	cfg, err := configFlags("resync", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&dryRun, "dry-run", false, "print the plan and post nothing")
	})
	if err != nil {
		return err
	}
	cfg.DataDir = "" // one-shot: memory only, never the journal of a running serve
	log := newLogger(cfg, stderr)
	in, err := Build(cfg, log)
	if err != nil {
		return err
	}
	defer in.Close()
	if !dryRun {
		in.Bridge.Start(ctx)
		defer in.Bridge.Pipeline().Stop()
	}
	drift, err := in.Bridge.Resync(ctx, dryRun)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIND\tNAMESPACE/STREAM:TAG\tREGISTRY DIGEST\tSTREAM IMAGE")
	for _, d := range drift {
		cur := d.Current
		if cur == "" {
			cur = "-"
		}
		fmt.Fprintf(tw, "%s\t%s/%s:%s\t%s\t%s\n", d.Kind, d.Namespace, d.Stream, d.Tag, d.Digest, cur)
	}
	tw.Flush()
	if dryRun {
		fmt.Fprintf(stdout, "%d tags drifted (dry run: nothing posted)\n", len(drift))
		return nil
	}
	if err := in.Bridge.Pipeline().Wait(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d tags drifted, repairs applied (failures, if any, are in the log)\n", len(drift))
	return nil
}

// runFailed lists or replays the failed events of a running bridge through
// its loopback-only admin endpoints.
func runFailed(ctx context.Context, args []string, stdout io.Writer) error {
	var replay, server string
	cfg, err := configFlags("failed", args, func(fs *flag.FlagSet) {
		fs.StringVar(&replay, "replay", "", `replay "all" or comma-separated sequence numbers`)
		fs.StringVar(&server, "server", "", "bridge URL (default: from listenAddress)")
	})
	if err != nil {
		return err
	}
	if server == "" {
		server = bridge.ListenURL(cfg.ListenAddress, cfg.TLS.CertFile != "")
	}
	client := &http.Client{Timeout: 10 * time.Second}
	if strings.HasPrefix(server, "https://127.0.0.1") || strings.HasPrefix(server, "https://[::1]") || strings.HasPrefix(server, "https://localhost") {
		// The admin endpoints answer on loopback only; the serving certificate names the Service, not 127.0.0.1.
		client.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // loopback
	}
	if replay != "" {
		var req bridge.ReplayRequest
		if replay != "all" {
			for _, s := range strings.Split(replay, ",") {
				n, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
				if err != nil {
					return fmt.Errorf("--replay: %q is not a sequence number", s)
				}
				req.Seqs = append(req.Seqs, n)
			}
		}
		body, _ := json.Marshal(req)
		var out map[string]int
		if err := call(ctx, client, http.MethodPost, server+"/admin/replay", body, &out); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d events replayed\n", out["replayed"])
		return nil
	}
	var list bridge.FailedList
	if err := call(ctx, client, http.MethodGet, server+"/admin/failed", nil, &list); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SEQ\tFAILED AT\tREASON\tNAMESPACE/STREAM:TAG\tDIGEST\tMESSAGE")
	for _, f := range list.Failed {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", f.Seq, f.FailedAt.Format(time.RFC3339), f.Reason,
			f.Key(), f.Digest, f.Message)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%d failed events\n", len(list.Failed))
	return nil
}

func call(ctx context.Context, c *http.Client, method, url string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("reach the bridge admin endpoint: %w", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}
