package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/emulator"
)

// runEmulator serves the OpenShift image-API emulator until ctx ends, so that
// users can try serve without a cluster.
func runEmulator(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8443", "address to listen on (plain HTTP)")
	kubeconfig := fs.String("kubeconfig", "", "write a kubeconfig for the emulator to this file")
	namespaces := fs.String("namespaces", "", "comma-separated namespaces that exist (default: all)")
	if err := fs.Parse(args); err != nil {
		return err
	}
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
			return err
		}
	}
	srv := &http.Server{Handler: e, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "OpenShift image-API emulator on %s\n", url)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}
