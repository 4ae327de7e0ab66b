package main

import (
	"fmt"
	"io"
	"os"
	"text/template"

	"github.com/spf13/cobra"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

func newUpCommand() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "up [-v]",
		Short: "Keep a registry, the image-API emulator and the bridge running, and print what to type",
		Long: `up starts the same three parts as the demo and keeps them running until Ctrl-C: push
an image to the registry (with this binary's push command, which needs nothing but the
registry, or with crane, skopeo or podman; it is plain HTTP on loopback) and read the
image stream from the emulator with curl, kubectl or oc. Everything lives in memory and
is gone when it stops.`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			logOut := io.Discard
			if verbose {
				logOut = cmd.ErrOrStderr()
			}
			ctx := cmd.Context()
			st, err := startStack(ctx, logOut)
			if err != nil {
				return err
			}
			if err := printUp(cmd.OutOrStdout(), st, os.Args[0]); err != nil {
				st.Close()
				return err
			}
			<-ctx.Done()
			fmt.Fprintln(cmd.OutOrStdout(), "stopping")
			return st.Close()
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "show the bridge's log")
	return cmd
}

var upText = template.Must(template.New("up").Parse(`registry   {{.Registry}} (distribution v3, in memory, plain HTTP)
api server {{.API}} (OpenShift image-API emulator)
bridge     {{.Bridge}}/notifications/demo
kubeconfig {{.Kubeconfig}}

Push an image into namespace "demo" (the first path component is the namespace; run it again for a new image):
  {{.Self}} push {{.Host}}/demo/app:v2

Or copy one from Docker Hub (needs the internet), with any of these:
  crane copy --insecure docker.io/library/busybox:latest {{.Host}}/demo/app:v2
  skopeo copy --dest-tls-verify=false docker://docker.io/library/busybox:latest docker://{{.Host}}/demo/app:v2
  podman push --tls-verify=false busybox:latest {{.Host}}/demo/app:v2

Push two versions: the roll-up tags v1.2, v1 and latest follow the highest (derivedTags):
  {{.Self}} push {{.Host}}/demo/app:v1.2.0
  {{.Self}} push {{.Host}}/demo/app:v1.2.1
  curl -s {{.API}}/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/app:v1.2

Read the image stream and its tags:
  curl -s {{.API}}/apis/image.openshift.io/v1/namespaces/demo/imagestreams/app
  curl -s {{.API}}/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/app:v2
  kubectl --kubeconfig {{.Kubeconfig}} get imagestreams,imagestreamtags -n demo
  oc --server {{.API}} get imagestreams,imagestreamtags -n demo

Ctrl-C stops everything.
`))

// printUp prints what to type; self is how to run this binary again
// (os.Args[0]: bin/imagestream-bridge-demo under make demo-up).
func printUp(w io.Writer, st *loopback.Stack, self string) error {
	return upText.Execute(w, map[string]string{
		"Registry": st.Registry.URL, "Host": st.Registry.Host, "API": st.API.URL, "Bridge": st.Bridge.URL,
		"Kubeconfig": st.Kubeconfig, "Self": self,
	})
}
