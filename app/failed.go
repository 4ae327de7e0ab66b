package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/webhook"
)

func newFailedCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "failed --config FILE [--replay all|SEQ,...] [--drop all|SEQ,...]",
		Short: "List, replay or drop the failed events of a running bridge",
		Long: `failed talks to a running serve through its admin endpoints, which answer only on the
Unix socket named by the config's adminSocket key (off when empty), never on the
webhook listener. Run it where the socket is: in the bridge's pod,
  kubectl exec deploy/imagestream-bridge -- imagestream-bridge failed --config /etc/imagestream-bridge/config.yaml
Without --replay or --drop it lists the failed events with their sequence numbers.`,
		Example: `  imagestream-bridge failed --config config.yaml
  imagestream-bridge failed --config config.yaml --replay all
  imagestream-bridge failed --config config.yaml --replay 12,15
  imagestream-bridge failed --socket /var/lib/imagestream-bridge/admin.sock --drop 7`,
		Args: noArgs,
	}
	file := configFlag(cmd)
	f := cmd.Flags()
	replay := f.String("replay", "", `replay "all" failed events or the comma-separated sequence numbers listed`)
	drop := f.String("drop", "", `remove "all" failed events or the comma-separated sequence numbers listed, for good`)
	socket := f.String("socket", "", "admin socket to dial (default: the config's adminSocket; with it, --config is optional)")
	server := f.String("server", "", "removed: the admin endpoints left the webhook listener; use --socket")
	_ = f.MarkHidden("server")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if *server != "" {
			return &usageError{cmd, errors.New("--server is no longer supported: the admin endpoints answer only on the " +
				"Unix socket adminSocket (behind a same-pod proxy every request to the listener looks local); " +
				"run failed next to serve with --config or --socket")}
		}
		if *replay != "" && *drop != "" {
			return &usageError{cmd, errors.New("--replay and --drop cannot be used together")}
		}
		path := *socket
		if path == "" {
			cfg, err := requireConfig(cmd, *file)
			if err != nil {
				return err
			}
			if path = cfg.AdminSocket; path == "" {
				return errors.New("the admin endpoints are off: set adminSocket in the config (and restart serve), or pass --socket")
			}
		}
		c := adminClient(path)
		ctx, out := cmd.Context(), cmd.OutOrStdout()
		switch {
		case *replay != "":
			seqs, err := parseSeqs("--replay", *replay)
			if err != nil {
				return &usageError{cmd, err}
			}
			var res map[string]int
			if err := c.call(ctx, http.MethodPost, "/admin/replay", webhook.Selection{Seqs: seqs}, &res); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d events replayed\n", res["replayed"])
		case *drop != "":
			seqs, err := parseSeqs("--drop", *drop)
			if err != nil {
				return &usageError{cmd, err}
			}
			var res map[string]int
			if err := c.call(ctx, http.MethodPost, "/admin/drop", webhook.Selection{Seqs: seqs}, &res); err != nil {
				return err
			}
			fmt.Fprintf(out, "%d events dropped\n", res["dropped"])
		default:
			var list struct {
				// The domain's record: its JSON is the admin view's (webhook.FailedEvent), and it has Key.
				Failed []bridge.FailedJob `json:"failed"`
			}
			if err := c.call(ctx, http.MethodGet, "/admin/failed", nil, &list); err != nil {
				return err
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SEQ\tFAILED AT\tREASON\tNAMESPACE/STREAM:TAG\tDIGEST\tMESSAGE")
			for _, f := range list.Failed {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", f.Seq, f.FailedAt.Format(time.RFC3339), f.Reason,
					f.Key(), f.Digest, f.Message)
			}
			tw.Flush()
			fmt.Fprintf(out, "%d failed events\n", len(list.Failed))
		}
		return nil
	}
	return cmd
}

// parseSeqs reads "all" (nil: every event) or comma-separated sequence numbers.
func parseSeqs(flag, s string) ([]uint64, error) {
	if s == "all" {
		return nil, nil
	}
	var out []uint64
	for _, part := range strings.Split(s, ",") {
		n, err := strconv.ParseUint(strings.TrimSpace(part), 10, 64)
		if err != nil {
			return nil, fmt.Errorf(`%s: %q is not a sequence number (want "all" or SEQ,SEQ,...)`, flag, part)
		}
		out = append(out, n)
	}
	return out, nil
}

// admin is an HTTP client of the admin endpoints over a Unix socket.
type admin struct {
	socket string
	http   *http.Client
}

func adminClient(socket string) *admin {
	dial := func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	return &admin{socket: socket, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: dial},
	}}
}

func (a *admin) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader = http.NoBody
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	// The host is not used: the transport always dials the socket.
	req, err := http.NewRequestWithContext(ctx, method, "http://admin"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the bridge's admin socket %s (is serve running with this adminSocket?): %w", a.socket, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}
