package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// FieldError is one problem with one key of the config.
type FieldError struct {
	// Key is the full key path, e.g. registries[0].webhookTokenFile.
	Key string
	// Problem says what is wrong and what is expected.
	Problem string
}

func (e *FieldError) Error() string { return "invalid config: " + e.Key + ": " + e.Problem }

// maxSocketPath is the longest Unix socket path every platform accepts
// (sun_path is 108 bytes on Linux, 104 on the BSDs, NUL included).
const maxSocketPath = 103

// Validate checks every key and reports every problem (errors.Join of
// *FieldError), each naming its key path. Files named by the config must be
// readable; the kubeconfig is checked by the caller, which loads it.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, &FieldError{Key: key, Problem: fmt.Sprintf(format, a...)})
	}
	// readable reports a file that cannot be read or is empty, and returns its bytes.
	readable := func(key, file string, nonEmpty bool) []byte {
		if file == "" {
			return nil
		}
		b, err := os.ReadFile(file)
		switch {
		case err != nil:
			bad(key, "cannot read the file: %v", unwrapPath(err))
			return nil
		case nonEmpty && strings.TrimSpace(string(b)) == "":
			bad(key, "file %s is empty", file)
			return nil
		}
		return b
	}

	if err := checkListen(c.ListenAddress); err != nil {
		bad("listenAddress", "%v", err)
	}
	if c.AdminSocket != "" {
		if len(c.AdminSocket) > maxSocketPath {
			bad("adminSocket", "path is %d bytes, a Unix socket path has at most %d", len(c.AdminSocket), maxSocketPath)
		}
		if fi, err := os.Stat(filepath.Dir(c.AdminSocket)); err != nil || !fi.IsDir() {
			bad("adminSocket", "directory %s does not exist", filepath.Dir(c.AdminSocket))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("logLevel", "must be debug, info, warn or error, got %q", c.LogLevel)
	}
	switch c.LogFormat {
	case "json", "text":
	default:
		bad("logFormat", "must be json or text, got %q", c.LogFormat)
	}
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxBody {
		bad("maxBodyBytes", "must be between 1 and %d, got %d", MaxBody, c.MaxBodyBytes)
	}
	if c.QueueSize < 0 {
		bad("queueSize", "must be positive, got %d", c.QueueSize)
	}
	if c.Workers < 0 || c.Workers > 1024 {
		bad("workers", "must be between 1 and 1024, got %d", c.Workers)
	}
	if c.ResyncInterval != nil && c.ResyncInterval.Duration < 0 {
		bad("resyncInterval", "must not be negative (0s turns resync off)")
	}
	if c.ShutdownTimeout.Duration < 0 {
		bad("shutdownTimeout", "must not be negative")
	}
	if c.ShutdownDelay != nil && c.ShutdownDelay.Duration < 0 {
		bad("shutdownDelay", "must not be negative (0s stops listening at once)")
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls", "certFile and keyFile must be set together")
	}
	readable("tls.certFile", c.TLS.CertFile, true)
	readable("tls.keyFile", c.TLS.KeyFile, true)
	if c.LeaderElection.Enabled && c.LeaderElection.Namespace == "" {
		bad("leaderElection.namespace", "required when leader election is enabled (or set POD_NAMESPACE)")
	}
	if c.Retry.MaxBackoff.Duration < c.Retry.InitialBackoff.Duration {
		bad("retry.maxBackoff", "must not be smaller than retry.initialBackoff")
	}
	validateOpenShift("openshift", c.OpenShift, bad)
	c.validateClusters(bad)
	c.validateNATS(bad, readable)
	if len(c.Registries) == 0 {
		bad("registries", "at least one registry is required")
	}
	seen := map[string]bool{}
	for i, r := range c.Registries {
		key := fmt.Sprintf("registries[%d]", i)
		if !nameRE.MatchString(r.Name) {
			bad(key+".name", "must be a lowercase DNS label (a-z, 0-9, -), got %q", r.Name)
		} else if seen[r.Name] {
			bad(key+".name", "duplicate registry name %q", r.Name)
		}
		seen[r.Name] = true
		u, err := url.Parse(r.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad(key+".url", "must be an http:// or https:// URL with a host, got %q", r.URL)
		} else if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
			bad(key+".url", "must not carry a path, query or user info, got %q", r.URL)
		}
		if strings.ContainsAny(r.ReferenceHost, "/@ ") {
			bad(key+".referenceHost", "must be host[:port], got %q", r.ReferenceHost)
		}
		if _, err := event.ParseSender(r.Sender); err != nil {
			bad(key+".sender", "%v", err)
		}
		if (r.WebhookToken == "") == (r.WebhookTokenFile == "") {
			bad(key+".webhookToken", "exactly one of webhookToken and webhookTokenFile is required")
		}
		readable(key+".webhookTokenFile", r.WebhookTokenFile, true)
		if r.ClientCAFile != "" && c.TLS.CertFile == "" {
			bad(key+".clientCAFile", "client certificates need tls.certFile and tls.keyFile")
		}
		for j, g := range r.Namespaces {
			if _, err := path.Match(g, "x"); err != nil {
				bad(fmt.Sprintf("%s.namespaces[%d]", key, j), "bad glob %q", g)
			}
		}
		validateTags(key+".tags", r.Tags, bad)
		validateStreams(key+".streams", r.Streams, bad)
		if r.MaxTagsPerStream < 0 {
			bad(key+".maxTagsPerStream", "must be 0 (no limit) or more, got %d", r.MaxTagsPerStream)
		}
		if r.Password != "" && r.PasswordFile != "" {
			bad(key+".password", "set password or passwordFile, not both")
		}
		if (r.Password != "" || r.PasswordFile != "") && r.Username == "" {
			bad(key+".username", "required with a password")
		}
		if r.Username != "" && r.DockerConfigFile != "" {
			bad(key+".dockerConfigFile", "set username/password or dockerConfigFile, not both")
		}
		readable(key+".passwordFile", r.PasswordFile, true)
		readable(key+".dockerConfigFile", r.DockerConfigFile, true)
		readable(key+".caFile", r.CAFile, true)
		readable(key+".clientCAFile", r.ClientCAFile, true)
		if r.Mapping.Namespace != "" && !nameRE.MatchString(r.Mapping.Namespace) {
			bad(key+".mapping.namespace", "must be a namespace name, got %q", r.Mapping.Namespace)
		}
		if r.Artifacts != ArtifactsSkip && r.Artifacts != ArtifactsMap {
			bad(key+".artifacts", `must be "skip" or "map", got %q`, r.Artifacts)
		}
		if r.FetchTimeout.Duration < 0 || r.FetchTimeout.Duration > 10*time.Minute {
			bad(key+".fetchTimeout", "must be between 1ms and 10m, got %s", r.FetchTimeout)
		}
		if r.DeleteTagsMaxShare <= 0 || r.DeleteTagsMaxShare > 1 {
			bad(key+".deleteTagsMaxShare", "must be above 0 and at most 1, got %g", r.DeleteTagsMaxShare)
		}
		if r.Resync.RequestsPerSecond <= 0 || r.Resync.RequestsPerSecond > 100_000 {
			bad(key+".resync.requestsPerSecond", "must be above 0 and at most 100000, got %g", r.Resync.RequestsPerSecond)
		}
		if r.Resync.Concurrency < 1 || r.Resync.Concurrency > 256 {
			bad(key+".resync.concurrency", "must be between 1 and 256, got %d", r.Resync.Concurrency)
		}
		if r.Resync.IdleTagAfter.Duration < time.Minute {
			bad(key+".resync.idleTagAfter", "must be at least 1m, got %s", r.Resync.IdleTagAfter)
		}
		if r.Resync.IdleTagEvery < 1 || r.Resync.IdleTagEvery > 1000 {
			bad(key+".resync.idleTagEvery", "must be between 1 and 1000, got %d", r.Resync.IdleTagEvery)
		}
		for _, h := range r.TokenHosts {
			if u, err := url.Parse("//" + h); err != nil || u.Host != h || h == "" {
				bad(key+".tokenHosts", "must be host[:port], got %q", h)
			}
		}
		switch r.Mapping.Join {
		case "", "-", ".", "_":
		default:
			bad(key+".mapping.join", `must be "", "-", "." or "_", got %q`, r.Mapping.Join)
		}
	}
	return errors.Join(errs...)
}

// checkListen accepts what net.Listen("tcp", addr) accepts: [host]:port.
func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf(`must be [host]:port such as ":8080" or "127.0.0.1:8080", got %q`, addr)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number between 0 and 65535", port)
	}
	if strings.ContainsAny(host, " /") {
		return fmt.Errorf("host %q is not a host name or IP address", host)
	}
	return nil
}

// unwrapPath shortens "open /x: no such file or directory" to keep the path once.
func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", pe.Path, pe.Err)
	}
	return err
}

// unjoin flattens an errors.Join tree.
func unjoin(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

// coveredBy reports whether v concerns a key (or a parent of a key) that
// already has a decoding error in errs.
func coveredBy(v error, errs []error) bool {
	var fe *FieldError
	if !errors.As(v, &fe) {
		return false
	}
	for _, e := range errs {
		var de *FieldError
		if !errors.As(e, &de) {
			continue
		}
		if de.Key == fe.Key || strings.HasPrefix(fe.Key, de.Key+".") || strings.HasPrefix(fe.Key, de.Key+"[") ||
			strings.HasPrefix(de.Key, fe.Key+".") || strings.HasPrefix(de.Key, fe.Key+"[") {
			return true
		}
	}
	return false
}
