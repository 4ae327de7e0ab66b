package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const natsReg = "\nregistries: [{name: a, url: 'http://r', webhookToken: t}]"

func TestNATSDefaults(t *testing.T) {
	for _, tc := range []struct {
		yaml     string
		embedded bool
		replicas int
	}{
		{"nats: {}", true, 1},
		{"nats: {url: 'nats://n1:4222,nats://n2:4222'}", false, 3},
		{"nats: {url: 'tls://n1:4222', replicas: 5}", false, 5},
	} {
		c, err := Parse([]byte(tc.yaml + natsReg))
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if c.NATS.Embedded() != tc.embedded || c.NATS.Replicas != tc.replicas || c.NATS.Stream != "imagestream-bridge" {
			t.Errorf("%s: got %+v, want embedded %v replicas %d stream imagestream-bridge", tc.yaml, c.NATS, tc.embedded, tc.replicas)
		}
	}
}

func TestNATSURLFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "url")
	if err := os.WriteFile(p, []byte("nats://user:pw@nats.nats.svc:4222\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Parse([]byte("nats: {urlFile: " + p + "}" + natsReg))
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.Embedded() || c.NATS.Replicas != 3 {
		t.Errorf("urlFile: not a cluster with 3 replicas: %+v", c.NATS)
	}
	if u, err := c.NATS.ServerURL(); err != nil || u != "nats://user:pw@nats.nats.svc:4222" {
		t.Errorf("ServerURL = %q, %v", u, err)
	}
}

func TestNATSValidated(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	badURL := filepath.Join(dir, "bad")
	if err := os.WriteFile(badURL, []byte("http://n:4222"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"nats: {url: 'nats://n:4222', urlFile: /x}", "nats.url: set url or urlFile, not both"},
		{"nats: {url: 'http://n:4222'}", "nats.url: must be nats://HOST:PORT"},
		{"nats: {url: 'nats://n:4222,'}", "nats.url: must be nats://HOST:PORT"},
		{"nats: {url: 'nats://n:4222/x'}", "nats.url: must not carry a path"},
		{"nats: {urlFile: " + empty + "}", "nats.urlFile: file " + empty + " is empty"},
		{"nats: {urlFile: " + badURL + "}", "nats.urlFile: file " + badURL + ": must be nats://"},
		{"nats: {urlFile: " + dir + "/missing}", "nats.urlFile: cannot read the file"},
		{"nats: {replicas: 3}", "nats.replicas: must be 1 with the embedded server"},
		{"nats: {url: 'nats://n:4222', replicas: 7}", "nats.replicas: must be between 1 and 5, got 7"},
		{"nats: {url: 'nats://n:4222', replicas: -1}", "nats.replicas: must be between 1 and 5, got -1"},
		{"nats: {credsFile: " + empty + "}", "nats.credsFile: only with nats.url"},
		{"nats: {tls: {caFile: " + empty + "}}", "nats.tls.caFile: only with nats.url"},
		{"nats: {url: 'nats://n:4222', credsFile: " + empty + "}", "nats.credsFile: file " + empty + " is empty"},
		{"nats: {url: 'nats://n:4222', tls: {certFile: " + badURL + "}}", "nats.tls: certFile and keyFile must be set together"},
		{"nats: {url: 'nats://n:4222', tls: {caFile: " + dir + "/missing}}", "nats.tls.caFile: cannot read the file"},
		{"nats: {stream: 'a.b'}", `nats.stream: must be 1 to 64 letters, digits, - or _, got "a.b"`},
		{"nats: {Url: 'nats://n:4222'}", `nats.Url: unknown key (keys are case-sensitive: did you mean "url"?)`},
	} {
		_, err := Parse([]byte(tc.yaml + natsReg))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want mention of %q", tc.yaml, err, tc.want)
		}
	}
}

// TestNATSURLRedacted: the config dump and errors never show a password in the URL.
func TestNATSURLRedacted(t *testing.T) {
	c, err := Parse([]byte("nats: {url: 'nats://user:hunter2@n:4222'}" + natsReg))
	if err != nil {
		t.Fatal(err)
	}
	b, err := c.Redacted()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "hunter2") || !strings.Contains(string(b), "REDACTED@n:4222") {
		t.Errorf("dump leaks or lacks the redacted URL:\n%s", b)
	}
	if _, err := Parse([]byte("nats: {url: 'http://user:hunter2@n:4222'}" + natsReg)); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks the password or is missing: %v", err)
	}
}
