// Command promcheck checks the chart's Grafana dashboard and alert rules against a real
// Prometheus scraping a real bridge.
//
// It starts, in-process and on loopback, a distribution registry, the OpenShift
// image-API emulator and the bridge (as cmd/imagestream-bridge-demo does), pushes images so that the
// activity metrics move, runs Prometheus (scrape interval 1s, the alert rules loaded)
// against the bridge's /metrics, then evaluates every dashboard and alert expression
// through Prometheus's HTTP API. It fails when an expression does not evaluate, when a
// metric name has no series, when a rule is unhealthy, or when a panel meant to show
// activity has no positive value. Run it with `make promcheck` (hack/promcheck/promcheck.sh).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"
)

// activityPanels are the dashboard panels that must show a positive value once images
// have been pushed; every query of such a panel must return one.
var activityPanels = []string{
	"Leader",
	"Mapped per second",
	"Version",
	"Mappings per second by registry, cluster and result",
	"Push-to-tag latency",
	"Acknowledgement latency",
	"Notifications by status code",
	"Events by action and outcome",
	"API server latency by operation",
	"API server requests by operation and status",
	"Registry fetch latency by stage",
	"Registry fetches by stage and result",
	"Reconciliation runs",
	"Reconciliation duration",
	"Resident memory",
	"CPU",
	"Goroutines",
}

func main() {
	os.Exit(run())
}

func run() int {
	var (
		promBin   = flag.String("prometheus", "prometheus", "Prometheus binary")
		dashboard = flag.String("dashboard", "charts/imagestream-bridge/dashboards/imagestream-bridge.json", "Grafana dashboard to check")
		rules     = flag.String("rules", "charts/imagestream-bridge/alerts/imagestream-bridge.rules.yaml", "Prometheus rule file to check")
		timeout   = flag.Duration("timeout", 150*time.Second, "bound of the whole check")
		verbose   = flag.Bool("v", false, "show the bridge's and Prometheus's logs")
	)
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	logOut := io.Discard
	if *verbose {
		logOut = os.Stderr
	}
	if err := check(ctx, *promBin, *dashboard, *rules, logOut); err != nil {
		fmt.Fprintln(os.Stderr, "promcheck: FAIL:", err)
		return 1
	}
	fmt.Println("promcheck: ok")
	return 0
}

func check(ctx context.Context, promBin, dashboardFile, rulesFile string, logOut io.Writer) error {
	start := time.Now()
	queries, err := loadQueries(dashboardFile, rulesFile)
	if err != nil {
		return err
	}
	if err := checkActivityTitles(queries); err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "promcheck-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	st, err := startStack(ctx, log)
	if err != nil {
		return fmt.Errorf("start bridge: %w", err)
	}
	defer st.Close()
	fmt.Printf("bridge     %s (registry %s, image-API emulator %s)\n", st.BridgeURL, st.RegistryURL, st.APIURL)

	prom, err := startPrometheus(ctx, promBin, dir, st.BridgeAddr, rulesFile, logOut)
	if err != nil {
		return err
	}
	defer prom.Stop()
	fmt.Printf("prometheus %s\n", prom.URL)

	pushCtx, stopPush := context.WithCancel(ctx)
	pushed := make(chan error, 1)
	go func() { pushed <- st.PushLoop(pushCtx, 300*time.Millisecond, 200) }()
	defer func() {
		stopPush()
		if err := <-pushed; err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintln(os.Stderr, "promcheck: push loop:", err)
		}
	}()

	// Activity is visible once Prometheus has scraped a few mapped pushes; the extra
	// seconds give every rate() window several samples and the rules an evaluation.
	if err := prom.WaitFor(ctx, `sum(imagestream_bridge_mappings_total{result="mapped"}) >= 5`); err != nil {
		return fmt.Errorf("no mappings reached Prometheus: %w (push loop: %v)", err, pushErr(pushed))
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(6 * time.Second):
	}

	var failed []string
	failed = append(failed, evaluate(ctx, prom, queries)...)
	failed = append(failed, checkSeries(ctx, prom, queries)...)
	failed = append(failed, checkRules(ctx, prom)...)
	fmt.Printf("checked %d expressions in %s\n", len(queries), time.Since(start).Round(time.Second))
	if len(failed) > 0 {
		for _, f := range failed {
			fmt.Fprintln(os.Stderr, "  -", f)
		}
		return fmt.Errorf("%d problems", len(failed))
	}
	return nil
}

func pushErr(c chan error) error {
	select {
	case err := <-c:
		c <- err
		return err
	default:
		return errors.New("still running")
	}
}
