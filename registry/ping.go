package registry

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// pingTTL is how long the registry's answer to GET /v2/ is reused.
const pingTTL = time.Minute

// pings keeps the registry's last answer to GET /v2/, the ping with which
// go-containerregistry opens every repository it has not seen yet (its
// Puller authenticates per repository): a resync pass over 5,000
// repositories would otherwise send 5,000 pings for one answer. Only an
// answer that decides authentication (200, or 401 with its challenge) is
// kept, for pingTTL; anything else goes to the registry every time.
type pings struct {
	mu     sync.Mutex
	at     time.Time
	status int
	header http.Header
}

// isPing reports a GET of the API root, the request go-containerregistry pings with.
func isPing(req *http.Request) bool {
	return req.Method == http.MethodGet && req.URL.Path == "/v2/"
}

// answer is the kept answer to req, or nil.
func (p *pings) answer(req *http.Request) *http.Response {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.status == 0 || time.Since(p.at) > pingTTL {
		return nil
	}
	return &http.Response{
		Status: http.StatusText(p.status), StatusCode: p.status, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header: p.header.Clone(), Body: io.NopCloser(bytes.NewReader(nil)), ContentLength: 0, Request: req,
	}
}

// keep remembers resp when it decides authentication.
func (p *pings) keep(resp *http.Response) {
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusUnauthorized {
		return
	}
	h := http.Header{}
	for _, k := range []string{"WWW-Authenticate", "Docker-Distribution-Api-Version"} {
		if v := resp.Header.Values(k); len(v) > 0 {
			h[http.CanonicalHeaderKey(k)] = v
		}
	}
	p.mu.Lock()
	p.at, p.status, p.header = time.Now(), resp.StatusCode, h
	p.mu.Unlock()
}
