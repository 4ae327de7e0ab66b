package sandbox

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/imagestream-bridge/imagestream-bridge/emulator"
)

// API is a running image-API emulator.
type API struct {
	*emulator.Emulator
	URL    string
	server *httptest.Server
}

// StartAPI serves a fresh emulator on a free loopback port.
func StartAPI() *API {
	e := emulator.New()
	srv := httptest.NewServer(e)
	return &API{Emulator: e, URL: srv.URL, server: srv}
}

// Close stops the emulator.
func (a *API) Close() { a.server.Close() }

// WriteKubeconfig writes DIR/kubeconfig for the emulator and returns its path.
func (a *API) WriteKubeconfig(dir string) (string, error) {
	p := filepath.Join(dir, "kubeconfig")
	return p, emulator.WriteKubeconfig(a.URL, p)
}

// FreeAddr returns a loopback address with a free port.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// RandomImage returns a random image with the given number of layers, as a
// Docker schema2 or (oci true) an OCI manifest, with a real config naming arch.
func RandomImage(layers int, oci bool, arch string) (v1.Image, error) {
	img, err := random.Image(512, int64(layers))
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture, cf.OS = arch, "linux"
	cf.Author = "imagestream-bridge sandbox"
	cf.Created = v1.Time{Time: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	cf.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	cf.Config.Cmd = []string{"/app"}
	cf.Config.Labels = map[string]string{"io.openshift.tags": "sandbox"}
	cf.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		return nil, err
	}
	if oci {
		img = mutate.MediaType(img, types.OCIManifestSchema1)
		img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	}
	return img, nil
}

// RandomIndex returns a multi-platform index (OCI) or manifest list (Docker) of random images.
func RandomIndex(oci bool, archs ...string) (v1.ImageIndex, error) {
	var idx v1.ImageIndex = empty.Index
	if oci {
		idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
	} else {
		idx = mutate.IndexMediaType(idx, types.DockerManifestList)
	}
	for _, a := range archs {
		img, err := RandomImage(2, oci, a)
		if err != nil {
			return nil, err
		}
		p := &v1.Platform{OS: "linux", Architecture: a}
		if a == "arm" {
			p.Variant = "v7"
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: p}})
	}
	return idx, nil
}

// Push writes img to host/repo:tag: blobs and manifest by digest first, then
// a forced manifest PUT by tag, so the registry always sends a tagged push event.
func Push(host, repo, tag string, img remote.Taggable, opts ...remote.Option) error {
	ref, err := name.NewTag(host+"/"+repo+":"+tag, name.Insecure)
	if err != nil {
		return err
	}
	switch t := img.(type) {
	case v1.Image:
		d, err := t.Digest()
		if err != nil {
			return err
		}
		if err := remote.Write(ref.Context().Digest(d.String()), t, opts...); err != nil {
			return fmt.Errorf("push image: %w", err)
		}
	case v1.ImageIndex:
		d, err := t.Digest()
		if err != nil {
			return err
		}
		if err := remote.WriteIndex(ref.Context().Digest(d.String()), t, opts...); err != nil {
			return fmt.Errorf("push index: %w", err)
		}
	}
	if err := remote.Put(ref, img, opts...); err != nil {
		return fmt.Errorf("push tag: %w", err)
	}
	return nil
}

// PushByDigest writes img without a tag and returns its digest.
func PushByDigest(host, repo string, img v1.Image, opts ...remote.Option) (string, error) {
	d, err := img.Digest()
	if err != nil {
		return "", err
	}
	ref, err := name.NewDigest(host+"/"+repo+"@"+d.String(), name.Insecure)
	if err != nil {
		return "", err
	}
	return d.String(), remote.Write(ref, img, opts...)
}

// PushTLS is Push to a registry serving HTTPS with a certificate from roots.
func PushTLS(host, repo, tag string, img remote.Taggable, roots *x509.CertPool) error {
	base := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}}
	return Push(host, repo, tag, img, remote.WithTransport(httpsOnly{base}))
}

// httpsOnly upgrades every request to https: go-containerregistry assumes
// plain HTTP for loopback registries.
type httpsOnly struct{ next http.RoundTripper }

func (h httpsOnly) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme != "https" {
		r = r.Clone(r.Context())
		r.URL.Scheme = "https"
	}
	return h.next.RoundTrip(r)
}
