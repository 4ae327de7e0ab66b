package bridge

import (
	"crypto/tls"
	"fmt"
	"os"
	"sync"
	"time"
)

// keyPair serves a certificate and key from files, re-reading them when
// either file changes (checked at most every few seconds), so cert-manager
// renewals apply without a restart. A pair that fails to load keeps the last good one.
type keyPair struct {
	cert, key string

	mu      sync.Mutex
	current *tls.Certificate
	stamp   string
	checked time.Time
}

func (k *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.current != nil && time.Since(k.checked) < 5*time.Second {
		return k.current, nil
	}
	k.checked = time.Now()
	stamp, err := fileStamp(k.cert, k.key)
	if err == nil && stamp == k.stamp && k.current != nil {
		return k.current, nil
	}
	c, err := tls.LoadX509KeyPair(k.cert, k.key)
	if err != nil {
		if k.current != nil {
			return k.current, nil
		}
		return nil, fmt.Errorf("load tls key pair: %w", err)
	}
	k.current, k.stamp = &c, stamp
	return k.current, nil
}

func fileStamp(files ...string) (string, error) {
	s := ""
	for _, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			return "", err
		}
		s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
	}
	return s, nil
}
