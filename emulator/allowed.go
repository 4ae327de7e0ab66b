package emulator

import (
	"fmt"
	"net"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// This file is the server's allowedRegistriesForImport check (the registry
// whitelister of openshift-apiserver's image validation), written from its
// rules: an entry without a port means port 443, or port 80 when insecure;
// hosts and ports match as globs where * is any run of characters; docker.io,
// index.docker.io and registry-1.docker.io are one registry; a stream marked
// insecure checks a reference without a port against entries for port 80,
// 443 or *; the integrated registry is always allowed.

// AllowedRegistry is one entry of allowedRegistriesForImport.
type AllowedRegistry struct {
	// DomainName is host[:port], either part a glob.
	DomainName string
	// Insecure makes an entry without a port mean port 80 instead of 443.
	Insecure bool
}

type hostPort struct{ host, port string }

const (
	dockerHub   = "docker.io"
	dockerHubV1 = "index.docker.io"
	dockerHubV2 = "registry-1.docker.io"
)

// insecureRepositoryAnnotation on a stream lets its references use any transport.
const insecureRepositoryAnnotation = "openshift.io/image.insecureRepository"

// SetAllowedRegistries sets allowedRegistriesForImport to secure entries for
// hosts; none allows any registry.
func (e *Emulator) SetAllowedRegistries(hosts ...string) {
	regs := make([]AllowedRegistry, len(hosts))
	for i, h := range hosts {
		regs[i] = AllowedRegistry{DomainName: h}
	}
	e.SetAllowedRegistriesForImport(regs...)
}

// SetAllowedRegistriesForImport sets allowedRegistriesForImport; none allows
// any registry.
func (e *Emulator) SetAllowedRegistriesForImport(regs ...AllowedRegistry) {
	var list []hostPort
	for _, r := range regs {
		list = append(list, entryHostPorts(r.DomainName, r.Insecure)...)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.allowed = list
}

// entryHostPorts expands one entry as the whitelister stores it.
func entryHostPorts(domain string, insecure bool) []hostPort {
	host, port, ok := strings.Cut(domain, ":")
	switch {
	case ok:
		return []hostPort{{host, port}}
	case insecure:
		return []hostPort{{host, "80"}}
	default:
		return []hostPort{{host, "443"}}
	}
}

// registryAllowed reports whether ref may enter a stream's status; insecure
// is the stream's (or its spec tag's) insecure flag.
func (e *Emulator) registryAllowed(ref string, insecure bool) bool {
	if len(e.allowed) == 0 {
		return true
	}
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return false
	}
	registry := registryOf(ref, r.Context().RegistryStr())
	allowed := e.allowed
	if e.internalRegistry != "" {
		allowed = append(entryHostPorts(e.internalRegistry, false), allowed...)
	}
	var host, port string
	if insecure {
		h, p, err := net.SplitHostPort(registry)
		if err != nil {
			h, p = registry, ""
		}
		host, port = h, p
	} else {
		host, port = secureHostPort(registry)
	}
	match := func(h string) bool {
		for _, a := range allowed {
			if !wildcardMatch(h, a.host) {
				continue
			}
			if port == "" {
				if a.port == "80" || a.port == "443" || a.port == "*" {
					return true
				}
				continue
			}
			if wildcardMatch(port, a.port) {
				return true
			}
		}
		return false
	}
	if (host == dockerHubV1 || host == dockerHubV2) && match(dockerHub) {
		return true
	}
	return match(host)
}

// registryOf is the registry part of ref as written: go-containerregistry
// names Docker Hub index.docker.io whatever the reference said.
func registryOf(ref, parsed string) string {
	if first, _, ok := strings.Cut(ref, "/"); ok && (strings.ContainsAny(first, ".:") || first == "localhost") {
		return first
	}
	return parsed
}

// secureHostPort is library-go's RegistryHostPort(false): Docker Hub as its
// v2 host, and port 443 when none is written.
func secureHostPort(registry string) (string, string) {
	if registry == dockerHub || registry == dockerHubV1 {
		registry = dockerHubV2
	}
	if strings.Contains(registry, ":") {
		h, p, _ := net.SplitHostPort(registry)
		return h, p
	}
	return registry, "443"
}

// wildcardMatch matches s against p, where * is any run of characters and ?
// one character (the whitelister's IsWildcardMatch).
func wildcardMatch(s, p string) bool {
	if p == "" {
		return s == ""
	}
	switch p[0] {
	case '*':
		for i := 0; i <= len(s); i++ {
			if wildcardMatch(s[i:], p[1:]) {
				return true
			}
		}
		return false
	case '?':
		return s != "" && wildcardMatch(s[1:], p[1:])
	default:
		return s != "" && s[0] == p[0] && wildcardMatch(s[1:], p[1:])
	}
}

// refNameTooLong is library-go's reference.Parse limit: the name (host and
// path, without tag or digest) may have at most 255 characters.
func refNameTooLong(ref string) error {
	n := ref
	if i := strings.IndexByte(n, '@'); i >= 0 {
		n = n[:i]
	}
	if i := strings.LastIndexByte(n, ':'); i >= 0 && !strings.Contains(n[i:], "/") {
		n = n[:i]
	}
	if len(n) > maxRepositoryName {
		return fmt.Errorf("repository name must not be more than %d characters", maxRepositoryName)
	}
	return nil
}
