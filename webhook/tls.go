package webhook

import (
	"crypto/tls"
	"fmt"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/reload"
)

// keyPairCheckInterval is how often the certificate files are checked for renewal.
const keyPairCheckInterval = 5 * time.Second

// keyPair serves a certificate and key from files, re-reading them when
// either file changes, so cert-manager renewals apply without a restart. A
// pair that fails to load keeps the last good one.
type keyPair struct {
	file *reload.File[*tls.Certificate]
}

func newKeyPair(cert, key string, interval time.Duration) (*keyPair, error) {
	f, err := reload.New(interval, func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(cert, key)
		return &c, err
	}, cert, key)
	if err != nil {
		return nil, fmt.Errorf("load tls key pair: %w", err)
	}
	return &keyPair{file: f}, nil
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return k.file.Get(), nil }
