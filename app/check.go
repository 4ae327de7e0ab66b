package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/openshift"
)

// LoadConfig reads a config file and runs every check serve runs before it
// starts; the config command runs exactly this. Config problems and the
// kubeconfig's are reported together (errors.Join), each naming its key; when
// both are fine, the parts are assembled once (registry clients, token files,
// CA bundles, the TLS key pair) without opening the event log or a port.
func LoadConfig(file string) (*config.Config, error) {
	cfg, _, err := loadConfig(file)
	return cfg, err
}

func loadConfig(file string) (*config.Config, string, error) {
	cfg, err := config.Read(file)
	if cfg == nil {
		return nil, "", err
	}
	source, kerr := resolveKubeconfig(&cfg.OpenShift)
	if err != nil || kerr != nil {
		return nil, "", errors.Join(err, kerr)
	}
	if err := contents(cfg); err != nil {
		return nil, "", err
	}
	if err := assemble(cfg); err != nil {
		return nil, "", err
	}
	return cfg, source, nil
}

// contents checks that the certificate files the config names parse, naming
// their keys and reporting every problem (config.Validate only checks that
// they can be read).
func contents(cfg *config.Config) error {
	var errs []error
	read := func(file string) []byte {
		b, _ := os.ReadFile(file) // readable: config.Validate checked
		return b
	}
	if cfg.TLS.CertFile != "" {
		if _, err := tls.X509KeyPair(read(cfg.TLS.CertFile), read(cfg.TLS.KeyFile)); err != nil {
			errs = append(errs, &config.FieldError{Key: "tls", Problem: "certFile and keyFile are not a certificate and its key: " + err.Error()})
		}
	}
	for i, r := range cfg.Registries {
		for _, f := range []struct{ key, file string }{{"caFile", r.CAFile}, {"clientCAFile", r.ClientCAFile}} {
			if f.file != "" && !x509.NewCertPool().AppendCertsFromPEM(read(f.file)) {
				errs = append(errs, &config.FieldError{Key: fmt.Sprintf("registries[%d].%s", i, f.key), Problem: "no PEM certificate in " + f.file})
			}
		}
	}
	return errors.Join(errs...)
}

// assemble builds every part from cfg with a private event log in memory and
// discards it: what build and the listener would refuse is refused here.
func assemble(cfg *config.Config) error {
	dry := *cfg
	dry.DataDir = ""
	in, err := build(context.Background(), &dry, slog.New(slog.NewTextHandler(io.Discard, nil)), privateLog)
	if err != nil {
		return err
	}
	defer in.Close()
	srv, err := in.newWebhook()
	if err != nil {
		return err
	}
	if _, err := srv.HTTPServer(); err != nil {
		return &config.FieldError{Key: "tls", Problem: err.Error()}
	}
	return nil
}

// resolveKubeconfig fills an empty openshift.kubeconfig from $KUBECONFIG (as
// kubectl does; of a list, the first file that exists), else leaves it empty
// for the in-cluster service account, and checks that the result loads. It
// returns where the client config comes from.
func resolveKubeconfig(o *config.OpenShift) (string, error) {
	source := "openshift.kubeconfig " + o.Kubeconfig
	var tried []string
	if o.Kubeconfig == "" {
		var list []string
		for _, p := range filepath.SplitList(os.Getenv("KUBECONFIG")) {
			if p != "" {
				list = append(list, p)
			}
		}
		if len(list) > 0 {
			o.Kubeconfig = list[0]
			for _, p := range list {
				if _, err := os.Stat(p); err == nil {
					o.Kubeconfig = p
					break
				}
			}
			source = "$KUBECONFIG " + o.Kubeconfig
		} else {
			tried = append(tried, "openshift.kubeconfig is empty", "$KUBECONFIG is not set")
			source = "in-cluster service account"
		}
	}
	if _, err := openshift.RESTConfig(openshiftOptions(*o)); err != nil {
		msg := strings.TrimPrefix(err.Error(), "load kubernetes client config: ")
		if len(tried) > 0 {
			msg = fmt.Sprintf("no API server client config: %s; in-cluster: %s (set openshift.kubeconfig to a kubeconfig file, or run in a pod with a service account)",
				strings.Join(tried, ", "), msg)
		} else {
			msg = fmt.Sprintf("cannot load %s (%s): %s", o.Kubeconfig, source, msg)
		}
		return "", &config.FieldError{Key: "openshift.kubeconfig", Problem: msg}
	}
	return source, nil
}
