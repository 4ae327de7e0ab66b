// Command imagestream-bridge-demo runs a real distribution v3 registry, the
// OpenShift image-API emulator and the bridge on loopback, pushes a
// multi-layer image and a multi-arch index, and prints the image stream tags
// and one mapping. It is `make demo`. It is a separate binary so that the
// production binary does not carry an in-memory registry.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/imagestream-bridge/imagestream-bridge/app"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

const demoToken = "demo-token"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// run wires the parts together and drives one push of each kind.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "show the bridge's log")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "imagestream-bridge-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	api := sandbox.StartAPI()
	defer api.Close()
	kubeconfig, err := api.WriteKubeconfig(dir)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	bridgeURL := "http://" + ln.Addr().String()
	reg, err := sandbox.StartRegistry(ctx, sandbox.Notify{URL: bridgeURL + "/notifications/demo", Token: demoToken})
	if err != nil {
		return err
	}
	defer reg.Close()

	cfg, err := config.Parse([]byte(fmt.Sprintf(`
listenAddress: %q
registries:
  - name: demo
    url: %s
    webhookToken: %s
openshift:
  kubeconfig: %q
`, ln.Addr().String(), reg.URL, demoToken, kubeconfig)))
	if err != nil {
		return err
	}
	logOut := io.Discard
	if *verbose {
		logOut = stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, &slog.HandlerOptions{Level: slog.LevelInfo}))
	bctx, stopBridge := context.WithCancel(ctx)
	defer stopBridge()
	served := make(chan error, 1)
	go func() { served <- app.Serve(bctx, cfg, log, ln) }()
	if err := waitReady(ctx, bridgeURL); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "registry   %s (distribution v3, in memory)\n", reg.URL)
	fmt.Fprintf(stdout, "api server %s (OpenShift image-API emulator)\n", api.URL)
	fmt.Fprintf(stdout, "bridge     %s/notifications/demo\n\n", bridgeURL)

	img, err := sandbox.RandomImage(3, false, "amd64")
	if err != nil {
		return err
	}
	idx, err := sandbox.RandomIndex(true, "amd64", "arm64", "arm")
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintln(stdout, "pushing demo/app:v1 (Docker schema2, 3 layers) and demo/multiarch:latest (OCI index: amd64, arm64, arm/v7)")
	if err := sandbox.Push(reg.Host, "demo/app", "v1", img); err != nil {
		return err
	}
	if err := sandbox.Push(reg.Host, "demo/multiarch", "latest", idx); err != nil {
		return err
	}
	if err := waitFor(ctx, func() bool {
		return len(api.TagHistory("demo", "app", "v1")) > 0 && len(api.TagHistory("demo", "multiarch", "latest")) > 0
	}); err != nil {
		return fmt.Errorf("image stream tags did not appear: %w", err)
	}
	fmt.Fprintf(stdout, "image stream tags appeared %s after the first push\n\n", time.Since(start).Round(time.Millisecond))

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tIMAGESTREAM\tTAG\tIMAGE\tDOCKER IMAGE REFERENCE")
	for _, s := range api.Streams() {
		for _, t := range s.Status.Tags {
			it := t.Items[0]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Name, t.Tag, it.Image, it.DockerImageReference)
		}
	}
	tw.Flush()

	for _, m := range api.Mappings() {
		if m.Name == "app" {
			fmt.Fprintln(stdout, "\nthe ImageStreamMapping posted for demo/app:v1 (manifest and config bytes shortened):")
			printMapping(stdout, m.ImageStreamMapping)
			break
		}
	}
	stopBridge()
	if err := <-served; err != nil {
		return err
	}
	return nil
}

func printMapping(w io.Writer, m imagev1.ImageStreamMapping) {
	m.Image.DockerImageManifest = shorten(m.Image.DockerImageManifest)
	m.Image.DockerImageConfig = shorten(m.Image.DockerImageConfig)
	var meta any
	_ = json.Unmarshal(m.Image.DockerImageMetadata.Raw, &meta)
	out := map[string]any{
		"apiVersion": "image.openshift.io/v1", "kind": "ImageStreamMapping",
		"metadata": map[string]any{"name": m.Name, "namespace": m.Namespace}, "tag": m.Tag,
		"image": map[string]any{
			"metadata":                     map[string]any{"name": m.Image.Name, "annotations": m.Image.Annotations},
			"dockerImageReference":         m.Image.DockerImageReference,
			"dockerImageManifestMediaType": m.Image.DockerImageManifestMediaType,
			"dockerImageManifest":          m.Image.DockerImageManifest,
			"dockerImageConfig":            m.Image.DockerImageConfig,
			"dockerImageLayers":            m.Image.DockerImageLayers,
			"dockerImageMetadataVersion":   m.Image.DockerImageMetadataVersion,
			"dockerImageMetadata":          meta,
		},
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	fmt.Fprintln(w, string(b))
}

func shorten(s string) string {
	if len(s) <= 72 {
		return s
	}
	return s[:72] + fmt.Sprintf("... (%d bytes)", len(s))
}

func waitReady(ctx context.Context, base string) error {
	return waitFor(ctx, func() bool {
		resp, err := http.Get(base + "/readyz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

func waitFor(ctx context.Context, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
