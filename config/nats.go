package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
)

// NATS configures the durable event log, a JetStream stream: an embedded
// nats-server inside the process (url and urlFile empty) or an existing
// JetStream cluster.
type NATS struct {
	// URL of the JetStream cluster: nats:// or tls:// URLs, comma-separated for several seed servers.
	// Default "": an embedded nats-server in the process, nothing listening outside it.
	URL string `json:"url"`
	// URLFile reads URL from a file (e.g. a mounted Secret key), read at start; not together with url. Default "".
	URLFile string `json:"urlFile"`
	// Replicas of the stream: 1 to 5. Default 3 with a cluster; must be 1 (the default) when embedded.
	Replicas int `json:"replicas"`
	// CredsFile is a NATS credentials file (user JWT and NKey seed), read at start. Default "" (none).
	CredsFile string `json:"credsFile"`
	// TLS towards the cluster: caFile verifies the servers, certFile and keyFile present a client certificate.
	TLS NATSTLS `json:"tls"`
	// Stream names the JetStream stream (and the prefix of its subjects, consumer and failed list).
	// Default "imagestream-bridge".
	Stream string `json:"stream"`
}

// NATSTLS configures TLS towards a NATS cluster; the files are read at start.
type NATSTLS struct {
	// CAFile verifies the servers' certificates. Default: system roots.
	CAFile string `json:"caFile"`
	// CertFile and KeyFile present a client certificate. Default "" (none).
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// Embedded reports whether the log runs in an embedded nats-server.
func (n NATS) Embedded() bool { return n.URL == "" && n.URLFile == "" }

// ServerURL returns url, or the trimmed content of urlFile.
func (n NATS) ServerURL() (string, error) {
	if n.URLFile == "" {
		return n.URL, nil
	}
	b, err := os.ReadFile(n.URLFile)
	if err != nil {
		return "", fmt.Errorf("read nats.urlFile: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// DefaultStream is the default of nats.stream.
const DefaultStream = "imagestream-bridge"

// MaxReplicas is the most replicas a JetStream stream can have.
const MaxReplicas = 5

func (n *NATS) setDefaults() {
	if n.Stream == "" {
		n.Stream = DefaultStream
	}
	if n.Replicas == 0 {
		n.Replicas = 3
		if n.Embedded() {
			n.Replicas = 1
		}
	}
}

// streamRE: JetStream names allow neither whitespace nor . * > / \; the
// stream name also prefixes subjects, so keep it to a plain token.
var streamRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// validateNATS checks nats:. readable reports an unreadable or empty file.
func (c *Config) validateNATS(bad func(key, format string, a ...any), readable func(key, file string, nonEmpty bool) []byte) {
	n := c.NATS
	if n.URL != "" && n.URLFile != "" {
		bad("nats.url", "set url or urlFile, not both")
	}
	if n.URL != "" {
		if err := checkNATSURL(n.URL); err != nil {
			bad("nats.url", "%v", err)
		}
	}
	if b := readable("nats.urlFile", n.URLFile, true); b != nil {
		if err := checkNATSURL(strings.TrimSpace(string(b))); err != nil {
			bad("nats.urlFile", "file %s: %v", n.URLFile, err)
		}
	}
	switch {
	case n.Embedded() && n.Replicas != 1:
		bad("nats.replicas", "must be 1 with the embedded server (nats.url empty): one process holds one copy, got %d", n.Replicas)
	case n.Replicas < 1 || n.Replicas > MaxReplicas:
		bad("nats.replicas", "must be between 1 and %d, got %d", MaxReplicas, n.Replicas)
	}
	if n.Embedded() {
		for key, v := range map[string]string{"nats.credsFile": n.CredsFile, "nats.tls.caFile": n.TLS.CAFile,
			"nats.tls.certFile": n.TLS.CertFile, "nats.tls.keyFile": n.TLS.KeyFile} {
			if v != "" {
				bad(key, "only with nats.url or nats.urlFile: the embedded server has no network connection")
			}
		}
	}
	if (n.TLS.CertFile == "") != (n.TLS.KeyFile == "") {
		bad("nats.tls", "certFile and keyFile must be set together")
	}
	readable("nats.credsFile", n.CredsFile, true)
	readable("nats.tls.caFile", n.TLS.CAFile, true)
	readable("nats.tls.certFile", n.TLS.CertFile, true)
	readable("nats.tls.keyFile", n.TLS.KeyFile, true)
	if !streamRE.MatchString(n.Stream) {
		bad("nats.stream", "must be 1 to 64 letters, digits, - or _, got %q", n.Stream)
	}
}

// checkNATSURL accepts what nats.Connect accepts for a cluster: a
// comma-separated list of nats:// or tls:// URLs with a host.
func checkNATSURL(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("is empty")
	}
	for _, one := range strings.Split(s, ",") {
		one = strings.TrimSpace(one)
		u, err := url.Parse(one)
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			return fmt.Errorf("must be nats://HOST:PORT or tls://HOST:PORT (comma-separated for several), got %q", redactURL(one))
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
			return fmt.Errorf("must not carry a path or query, got %q", redactURL(one))
		}
	}
	return nil
}

// redactURL hides the password (or token) in a NATS URL.
func redactURL(s string) string {
	parts := strings.Split(s, ",")
	for i, p := range parts {
		if u, err := url.Parse(strings.TrimSpace(p)); err == nil && u.User != nil {
			u.User = url.User("REDACTED")
			parts[i] = u.String()
		}
	}
	return strings.Join(parts, ",")
}
