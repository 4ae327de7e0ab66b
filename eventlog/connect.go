package eventlog

import (
	"fmt"

	"github.com/nats-io/nats.go"
)

// connect dials the cluster with the configured credentials and TLS (files
// read now), reconnecting forever: a cluster that is away makes Append fail
// with ErrUnavailable until it is back, never the process exit.
func (l *Log) connect() error {
	o := []nats.Option{
		nats.Name("imagestream-bridge"),
		nats.MaxReconnects(-1),
		nats.RetryOnFailedConnect(true),
	}
	if l.opts.CredsFile != "" {
		o = append(o, nats.UserCredentials(l.opts.CredsFile))
	}
	if l.opts.CAFile != "" {
		o = append(o, nats.RootCAs(l.opts.CAFile))
	}
	if l.opts.CertFile != "" {
		o = append(o, nats.ClientCert(l.opts.CertFile, l.opts.KeyFile))
	}
	nc, err := nats.Connect(l.opts.URL, o...)
	if err != nil {
		return fmt.Errorf("connect nats: %w", err)
	}
	l.nc = nc
	return nil
}
