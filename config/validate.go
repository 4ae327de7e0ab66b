package config

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"
)

// Validate checks every key and names the first bad one.
func (c *Config) Validate() error {
	bad := func(key, format string, a ...any) error {
		return fmt.Errorf("invalid config: %s: %s", key, fmt.Sprintf(format, a...))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return bad("logLevel", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		return bad("logFormat", "must be json or text, got %q", c.LogFormat)
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxBody {
		return bad("maxBodyBytes", "must be between 1 and %d", MaxBody)
	}
	if c.QueueSize < 0 {
		return bad("queueSize", "must be positive")
	}
	if c.Workers < 0 || c.Workers > 1024 {
		return bad("workers", "must be between 1 and 1024")
	}
	if c.ResyncInterval.Duration < 0 {
		return bad("resyncInterval", "must not be negative")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return bad("tls", "certFile and keyFile must be set together")
	}
	if c.LeaderElection.Enabled && c.LeaderElection.Namespace == "" {
		return bad("leaderElection.namespace", "required when leader election is enabled (or set POD_NAMESPACE)")
	}
	if c.Retry.MaxBackoff.Duration < c.Retry.InitialBackoff.Duration {
		return bad("retry.maxBackoff", "must not be smaller than retry.initialBackoff")
	}
	if c.OpenShift.QPS < 0 || c.OpenShift.Burst < 0 {
		return bad("openshift.qps", "qps and burst must not be negative")
	}
	if len(c.Registries) == 0 {
		return bad("registries", "at least one registry is required")
	}
	seen := map[string]bool{}
	for i, r := range c.Registries {
		key := fmt.Sprintf("registries[%d]", i)
		if !nameRE.MatchString(r.Name) {
			return bad(key+".name", "must be a lowercase DNS label, got %q", r.Name)
		}
		if seen[r.Name] {
			return bad(key+".name", "duplicate registry name %q", r.Name)
		}
		seen[r.Name] = true
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad(key+".url", "must be an http:// or https:// URL with a host, got %q", r.URL)
		}
		if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			return bad(key+".url", "must not carry a path, query or user info")
		}
		if strings.ContainsAny(r.ReferenceHost, "/@ ") {
			return bad(key+".referenceHost", "must be host[:port], got %q", r.ReferenceHost)
		}
		if (r.WebhookToken == "") == (r.WebhookTokenFile == "") {
			return bad(key+".webhookToken", "exactly one of webhookToken and webhookTokenFile is required")
		}
		if r.WebhookTokenFile != "" {
			if _, err := os.Stat(r.WebhookTokenFile); err != nil {
				return bad(key+".webhookTokenFile", "%v", err)
			}
		}
		if r.ClientCAFile != "" && c.TLS.CertFile == "" {
			return bad(key+".clientCAFile", "client certificates need tls.certFile and tls.keyFile")
		}
		for _, g := range r.Namespaces {
			if _, err := path.Match(g, "x"); err != nil {
				return bad(key+".namespaces", "bad glob %q", g)
			}
		}
		if r.Password != "" && r.PasswordFile != "" {
			return bad(key+".password", "set password or passwordFile, not both")
		}
		if (r.Password != "" || r.PasswordFile != "") && r.Username == "" {
			return bad(key+".username", "required with a password")
		}
		if r.Username != "" && r.DockerConfigFile != "" {
			return bad(key+".dockerConfigFile", "set username/password or dockerConfigFile, not both")
		}
		for _, f := range []struct{ key, file string }{
			{"passwordFile", r.PasswordFile}, {"dockerConfigFile", r.DockerConfigFile},
			{"caFile", r.CAFile}, {"clientCAFile", r.ClientCAFile},
		} {
			if f.file == "" {
				continue
			}
			if _, err := os.Stat(f.file); err != nil {
				return bad(key+"."+f.key, "%v", err)
			}
		}
		if r.Mapping.Namespace != "" && !nameRE.MatchString(r.Mapping.Namespace) {
			return bad(key+".mapping.namespace", "must be a namespace name, got %q", r.Mapping.Namespace)
		}
		if r.Artifacts != ArtifactsSkip && r.Artifacts != ArtifactsMap {
			return bad(key+".artifacts", `must be "skip" or "map", got %q`, r.Artifacts)
		}
		if r.FetchTimeout.Duration < 0 || r.FetchTimeout.Duration > 10*time.Minute {
			return bad(key+".fetchTimeout", "must be between 1ms and 10m, got %s", r.FetchTimeout)
		}
		for _, h := range r.TokenHosts {
			if u, err := url.Parse("//" + h); err != nil || u.Host != h || h == "" {
				return bad(key+".tokenHosts", "must be host[:port], got %q", h)
			}
		}
		switch r.Mapping.Join {
		case "", "-", ".", "_":
		default:
			return bad(key+".mapping.join", `must be "", "-", "." or "_", got %q`, r.Mapping.Join)
		}
	}
	return nil
}
