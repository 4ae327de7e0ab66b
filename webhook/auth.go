package webhook

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/reload"
)

// sender is how one configured registry proves a notification is its own: a
// bearer token and, optionally, a client certificate signed by its CA.
type sender struct {
	// token is the sha256 of the token: compared in constant time, never logged.
	token func() ([32]byte, bool)
	// clientCAs, when set, must have signed the sender's client certificate.
	clientCAs *x509.CertPool
}

// tokenCheckInterval is how often a token file is checked for rotation.
const tokenCheckInterval = time.Second

func newSender(rc config.Registry) (*sender, error) {
	s := &sender{}
	if rc.WebhookTokenFile == "" {
		sum, set := sha256.Sum256([]byte(rc.WebhookToken)), rc.WebhookToken != ""
		s.token = func() ([32]byte, bool) { return sum, set }
	} else {
		file := rc.WebhookTokenFile
		tok, err := reload.New(tokenCheckInterval, func() ([32]byte, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return [32]byte{}, err
			}
			t := strings.TrimSpace(string(b))
			if t == "" {
				return [32]byte{}, fmt.Errorf("%s is empty", file)
			}
			return sha256.Sum256([]byte(t)), nil
		}, file)
		if err != nil {
			return nil, fmt.Errorf("read webhook token: %w", err)
		}
		s.token = func() ([32]byte, bool) { return tok.Get(), true }
	}
	if rc.ClientCAFile != "" {
		pool, err := loadPool(rc.ClientCAFile)
		if err != nil {
			return nil, err
		}
		s.clientCAs = pool
	}
	return s, nil
}

// checkToken reports whether the Authorization header carries the token. Both
// sides are hashed first so the comparison takes the same time whatever the
// lengths; a file that cannot be re-read keeps the last good token.
func (s *sender) checkToken(header string) bool {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(header[len(prefix):])))
	want, ok := s.token()
	return ok && subtle.ConstantTimeCompare(got[:], want[:]) == 1
}

// verifiedBy reports whether the request's client certificate chains to pool.
func verifiedBy(req *http.Request, pool *x509.CertPool) bool {
	if req.TLS == nil || len(req.TLS.PeerCertificates) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range req.TLS.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := req.TLS.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots: pool, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	return err == nil
}

// loadPool reads PEM certificates into a pool.
func loadPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("read CA file %s: no certificates found", file)
	}
	return pool, nil
}
