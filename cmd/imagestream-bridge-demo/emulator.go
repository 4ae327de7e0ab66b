package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/imagestream-bridge/imagestream-bridge/emulator"
)

func newEmulatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "emulator [--listen ADDR] [--kubeconfig FILE] [--namespaces NS,...]",
		Short: "Serve the OpenShift image-API emulator alone (plain HTTP), for serve to talk to",
		Long: `emulator serves the OpenShift image-API emulator the tests use: ImageStreamMappings,
image streams, imagestreamtags, Images, Leases and API discovery, held in memory, with
the real server's validation. Point serve's openshift.kubeconfig at the file written by
--kubeconfig, or use kubectl/oc --server against it. It is a test double: no
authentication, no persistence.`,
		Example: "  imagestream-bridge-demo emulator --listen 127.0.0.1:8443 --kubeconfig /tmp/emulator.kubeconfig --namespaces demo,team-a",
		Args:    noArgs,
	}
	f := cmd.Flags()
	listen := f.String("listen", "127.0.0.1:8443", "address to listen on (plain HTTP)")
	kubeconfig := f.String("kubeconfig", "", "write a kubeconfig for the emulator to this file (default: none)")
	namespaces := f.String("namespaces", "", "comma-separated namespaces that exist; mappings elsewhere get 404 (default: every namespace exists)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		ln, err := net.Listen("tcp", *listen)
		if err != nil {
			return err
		}
		e := emulator.New()
		if *namespaces != "" {
			e.SetNamespaces(strings.Split(*namespaces, ",")...)
		}
		url := "http://" + ln.Addr().String()
		if *kubeconfig != "" {
			if err := emulator.WriteKubeconfig(url, *kubeconfig); err != nil {
				ln.Close()
				return err
			}
		}
		srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
		errc := make(chan error, 1)
		go func() { errc <- srv.Serve(ln) }()
		fmt.Fprintf(cmd.OutOrStdout(), "OpenShift image-API emulator on %s\n", url)
		select {
		case err := <-errc:
			return err
		case <-cmd.Context().Done():
		}
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return err
		}
		return nil
	}
	return cmd
}
