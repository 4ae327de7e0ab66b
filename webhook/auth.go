package webhook

import (
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/reload"
	"github.com/imagestream-bridge/imagestream-bridge/webhook/sender"
)

// peer is one configured registry as the webhook sees it: which product
// sends its notifications (format and header authentication), its webhook
// token and, optionally, the CA its client certificate must chain to.
type peer struct {
	kind sender.Kind
	// token returns the current webhook token ("" when none can be read). It
	// is only ever compared in constant time (sender.TokenEqual,
	// sender.Authenticate) or used as an HMAC key, never logged.
	token func() string
	// clientCAs, when set, must have signed the sender's client certificate.
	clientCAs *x509.CertPool
}

// tokenCheckInterval is how often a token file is checked for rotation.
const tokenCheckInterval = time.Second

func newPeer(rc config.Registry) (*peer, error) {
	kind, err := sender.ParseKind(rc.Sender)
	if err != nil {
		return nil, err
	}
	p := &peer{kind: kind}
	if rc.WebhookTokenFile == "" {
		tok := rc.WebhookToken
		p.token = func() string { return tok }
	} else {
		file := rc.WebhookTokenFile
		tok, err := reload.New(tokenCheckInterval, func() (string, error) {
			b, err := os.ReadFile(file)
			if err != nil {
				return "", err
			}
			t := strings.TrimSpace(string(b))
			if t == "" {
				return "", fmt.Errorf("%s is empty", file)
			}
			return t, nil
		}, file)
		if err != nil {
			return nil, fmt.Errorf("read webhook token: %w", err)
		}
		// A file that cannot be re-read keeps the last good token.
		p.token = tok.Get
	}
	if rc.ClientCAFile != "" {
		pool, err := loadPool(rc.ClientCAFile)
		if err != nil {
			return nil, err
		}
		p.clientCAs = pool
	}
	return p, nil
}

// authStep is what the headers (or the path token) say about a request
// before its body is read.
type authStep int

const (
	authRejected authStep = iota
	authOK
	// authNeedsBody: the request carries a body signature (sender.SignsBody);
	// decided after the bounded read.
	authNeedsBody
)

// authenticate checks the path token when the URL has one (accepted for
// every sender, constant time), otherwise the sender's header forms. A
// request that carries a body signature (sender.SignsBody: Artifactory's
// X-JFrog-Event-Auth) is decided by authenticateBody once the body is read.
func (p *peer) authenticate(h http.Header, pathToken string, hasPathToken bool) authStep {
	tok := p.token()
	if hasPathToken {
		if sender.TokenEqual(pathToken, tok) {
			return authOK
		}
		return authRejected
	}
	if sender.SignsBody(p.kind, h) {
		return authNeedsBody
	}
	if sender.Authenticate(p.kind, h, nil, tok) {
		return authOK
	}
	return authRejected
}

// authenticateBody finishes authNeedsBody with the raw body.
func (p *peer) authenticateBody(h http.Header, body []byte) bool {
	return sender.Authenticate(p.kind, h, body, p.token())
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
