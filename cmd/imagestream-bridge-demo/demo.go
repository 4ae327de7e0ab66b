package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// demo drives one push of each kind through the stack and prints the result.
func demo(ctx context.Context, verbose bool, stdout, stderr io.Writer) (err error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	logOut := io.Discard
	if verbose {
		logOut = stderr
	}
	st, err := startStack(ctx, logOut)
	if err != nil {
		return err
	}
	defer func() {
		if serr := st.Close(); err == nil {
			err = serr
		}
	}()
	api, reg := st.API, st.Registry
	fmt.Fprintf(stdout, "registry   %s (distribution v3, in memory)\n", reg.URL)
	fmt.Fprintf(stdout, "api server %s (OpenShift image-API emulator)\n", api.URL)
	fmt.Fprintf(stdout, "bridge     %s/notifications/demo\n\n", st.Bridge.URL)

	img, err := sandbox.RandomImage(3, false, "amd64")
	if err != nil {
		return err
	}
	idx, err := sandbox.RandomIndex(true, "amd64", "arm64", "arm")
	if err != nil {
		return err
	}
	start := time.Now()
	fmt.Fprintln(stdout, "pushing demo/app:v1.2.0 (Docker schema2, 3 layers) and demo/multiarch:latest (OCI index: amd64, arm64, arm/v7)")
	if err := sandbox.Push(reg.Host, "demo/app", "v1.2.0", img); err != nil {
		return err
	}
	if err := sandbox.Push(reg.Host, "demo/multiarch", "latest", idx); err != nil {
		return err
	}
	// The first version's roll-up tags too: the second push then moves them.
	if err := waitFor(ctx, func() bool {
		for _, tag := range []string{"v1.2.0", "v1.2", "v1", "latest"} {
			if len(api.TagHistory("demo", "app", tag)) == 0 {
				return false
			}
		}
		return len(api.TagHistory("demo", "multiarch", "latest")) > 0
	}); err != nil {
		return fmt.Errorf("image stream tags did not appear: %w", err)
	}
	fmt.Fprintf(stdout, "image stream tags appeared %s after the first push\n", time.Since(start).Round(time.Millisecond))

	// A second version: the roll-up tags move to it (derivedTags).
	next, err := sandbox.RandomImage(2, false, "amd64")
	if err != nil {
		return err
	}
	nextDigest, err := next.Digest()
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "pushing demo/app:v1.2.1: the roll-up tags v1.2, v1 and latest move to it (derivedTags)")
	if err := sandbox.Push(reg.Host, "demo/app", "v1.2.1", next); err != nil {
		return err
	}
	if err := waitFor(ctx, func() bool {
		for _, tag := range []string{"v1.2", "v1", "latest"} {
			if h := api.TagHistory("demo", "app", tag); len(h) == 0 || h[0] != nextDigest.String() {
				return false
			}
		}
		return true
	}); err != nil {
		return fmt.Errorf("roll-up tags did not move: %w", err)
	}
	fmt.Fprintln(stdout)

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAMESPACE\tIMAGESTREAM\tTAG\tIMAGE\tDOCKER IMAGE REFERENCE")
	for _, s := range api.Streams() {
		for _, t := range s.Status.Tags {
			it := t.Items[0]
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.Namespace, s.Name, t.Tag, it.Image, it.DockerImageReference)
		}
	}
	tw.Flush()
	firstDigest, err := img.Digest()
	if err != nil {
		return err
	}
	release := map[string]string{firstDigest.String(): "v1.2.0", nextDigest.String(): "v1.2.1"}
	fmt.Fprintln(stdout, "\nroll-up tags (derivedTags), their history newest first:")
	for _, tag := range []string{"v1.2", "v1", "latest"} {
		var h []string
		for _, d := range api.TagHistory("demo", "app", tag) {
			h = append(h, release[d])
		}
		fmt.Fprintf(stdout, "  demo/app:%-6s -> %s\n", tag, strings.Join(h, ", "))
	}

	for _, m := range api.Mappings() {
		if m.Name == "app" && m.Tag == "v1.2.0" {
			fmt.Fprintln(stdout, "\nthe ImageStreamMapping posted for demo/app:v1.2.0 (manifest and config bytes shortened):")
			printMapping(stdout, m.ImageStreamMapping)
			break
		}
	}
	fmt.Fprint(stdout, nextStep)
	return nil
}

// nextStep ends the demo: what to try after it.
const nextStep = `
Next: push your own images. make demo-up (bin/imagestream-bridge-demo up) keeps a registry, the emulator and
the bridge running and prints what to type: a push that needs no internet, then curl, kubectl and oc lines
that read the image streams. See "Try it locally" in docs/operations.md.
`

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
