// Package sandbox runs the real parts the bridge talks to, in-process: a
// distribution v3 registry with in-memory storage whose notifications point at
// the bridge. The demo, the end-to-end tests and the benchmark share it.
package sandbox

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory" // storage driver
	"github.com/sirupsen/logrus"
)

var quietOnce sync.Once

// Registry is a running in-process distribution registry.
type Registry struct {
	// URL is http://127.0.0.1:PORT.
	URL string
	// Host is 127.0.0.1:PORT.
	Host string
	// CAPEM is the certificate of a TLS registry (nil for plain HTTP).
	CAPEM  []byte
	server *httptest.Server
	app    *handlers.App
}

// Notify describes where the registry sends notifications.
type Notify struct {
	URL   string
	Token string
	// Timeout of one delivery. Default 2s.
	Timeout time.Duration
}

// StartRegistry starts a registry; with n.URL set, it sends push
// notifications (blobs and pulls filtered out, as docs/registry.md advises).
func StartRegistry(ctx context.Context, n Notify) (*Registry, error) {
	return startRegistry(ctx, n, false, RegistryOptions{})
}

// RegistryOptions tune a registry started by StartRegistryWith.
type RegistryOptions struct {
	// CatalogMaxEntries is catalog.maxentries: the largest catalog page, and
	// the largest n a client may ask for (PAGINATION_NUMBER_INVALID above it). Default 1000.
	CatalogMaxEntries int
}

// StartRegistryWith starts a plain-HTTP registry as StartRegistry does, tuned by o.
func StartRegistryWith(ctx context.Context, n Notify, o RegistryOptions) (*Registry, error) {
	return startRegistry(ctx, n, false, o)
}

// StartRegistryTLS starts a registry serving HTTPS with a self-signed
// certificate; CAPEM is set to that certificate.
func StartRegistryTLS(ctx context.Context, n Notify) (*Registry, error) {
	return startRegistry(ctx, n, true, RegistryOptions{})
}

func startRegistry(ctx context.Context, n Notify, useTLS bool, o RegistryOptions) (*Registry, error) {
	quietOnce.Do(func() { logrus.SetOutput(io.Discard) })
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
		// Tag deletion (DELETE /v2/NAME/manifests/TAG), which sends a delete event naming the tag.
		"delete": configuration.Parameters{"enabled": true},
	}
	cfg.HTTP.Secret = "sandbox-secret"
	cfg.Catalog.MaxEntries = 1000
	if o.CatalogMaxEntries > 0 {
		cfg.Catalog.MaxEntries = o.CatalogMaxEntries
	}
	cfg.Log.Level = "error"
	cfg.Log.AccessLog.Disabled = true
	if n.URL != "" {
		timeout := n.Timeout
		if timeout == 0 {
			timeout = 2 * time.Second
		}
		cfg.Notifications.EventConfig.IncludeReferences = true
		ep := configuration.Endpoint{
			Name:              "imagestream-bridge",
			URL:               n.URL,
			Timeout:           timeout,
			Threshold:         5,
			Backoff:           100 * time.Millisecond,
			IgnoredMediaTypes: []string{"application/octet-stream"},
			Ignore:            configuration.Ignore{Actions: []string{"pull", "mount"}},
		}
		if n.Token != "" {
			ep.Headers = http.Header{"Authorization": []string{"Bearer " + n.Token}}
		}
		cfg.Notifications.Endpoints = []configuration.Endpoint{ep}
	}
	app := handlers.NewApp(ctx, cfg)
	r := &Registry{app: app}
	if useTLS {
		r.server = httptest.NewTLSServer(app)
		r.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.server.Certificate().Raw})
	} else {
		r.server = httptest.NewServer(app)
	}
	r.URL, r.Host = r.server.URL, r.server.Listener.Addr().String()
	return r, nil
}

// Close stops the registry.
func (r *Registry) Close() {
	r.server.Close()
	if err := r.app.Shutdown(); err != nil {
		fmt.Println("registry shutdown:", err)
	}
}
