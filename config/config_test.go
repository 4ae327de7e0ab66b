package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte("registries: [{name: main, url: 'https://r.example.com:5000', webhookToken: t}]"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Registries[0]
	if c.ListenAddress != ":8080" || c.MaxBodyBytes != 1<<20 || c.QueueSize != 10000 || c.Workers != 8 ||
		c.Retry.InitialBackoff.Duration != 200*time.Millisecond || c.OpenShift.QPS != 300 || c.OpenShift.Burst != 600 ||
		!c.OpenShift.CreateStreams() || c.ResyncInterval.Duration != 10*time.Minute || r.ReferenceHost != "r.example.com:5000" || c.DataDir != "" ||
		r.FetchTimeout.Duration != 10*time.Second || r.TokenHosts != nil || r.Sender != "distribution" {
		t.Errorf("defaults: %+v", c)
	}
}

func TestStrictAndValidated(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"registries: [{name: a, url: 'http://r', webhookToken: t, typo: 1}]", `registries[0].typo: unknown key`},
		{"registries: []", "registries"},
		{"registries: [{name: a, url: 'http://r/path', webhookToken: t}]", "registries[0].url"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, webhookTokenFile: /x}]", "registries[0].webhookToken"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t}, {name: a, url: 'http://r', webhookToken: t}]", "registries[1].name"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, mapping: {join: '/'}}]", "registries[0].mapping.join"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, password: p}]", "registries[0].username"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, fetchTimeout: -1s}]", "registries[0].fetchTimeout"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, sender: gitlab}]", `registries[0].sender: unknown sender "gitlab"`},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, Sender: quay}]", `registries[0].Sender: unknown key (keys are case-sensitive: did you mean "sender"?)`},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, tokenHosts: ['https://auth.example.com']}]", "registries[0].tokenHosts"},
		{"tls: {certFile: a}\nregistries: [{name: a, url: 'http://r', webhookToken: t}]", "tls"},
		{"leaderElection: {enabled: true}\nregistries: [{name: a, url: 'http://r', webhookToken: t}]", "leaderElection.namespace"},
		{"retry: {initialBackoff: 10s, maxBackoff: 1s}\nregistries: [{name: a, url: 'http://r', webhookToken: t}]", "retry.maxBackoff"},
	} {
		_, err := Parse([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want mention of %s", tc.yaml, err, tc.want)
		}
	}
}

func TestResyncCanBeTurnedOff(t *testing.T) {
	c, err := Parse([]byte("resyncInterval: 0s\nregistries: [{name: main, url: 'http://r', webhookToken: t}]"))
	if err != nil || c.ResyncInterval.Duration != 0 {
		t.Fatalf("resyncInterval 0s: %v %+v", err, c.ResyncInterval)
	}
}

// TestErrorsNameTheKeyPath: each problem of the issue names its full key
// path and the expected form; keys match exactly, case too.
func TestErrorsNameTheKeyPath(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.token")
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const reg = "registries: [{name: main, url: 'http://r', webhookToken: t}]\n"
	for _, tc := range []struct{ name, yaml, want string }{
		{"duration without unit", "resyncInterval: 10\n" + reg, `resyncInterval: must be a duration with a unit such as "30s"`},
		{"duration garbage", "resyncInterval: soon\n" + reg, `resyncInterval: must be a duration`},
		{"int as word", "workers: eight\n" + reg, `workers: must be a whole number, got "eight"`},
		{"bool as word", "openshift: {createChildImages: yes}\n" + reg, `openshift.createChildImages: must be true or false, got "yes"`},
		{"nested typo", "registries: [{name: main, url: 'http://r', webhookTokenFlie: /x}]\n", `registries[0].webhookTokenFlie: unknown key (did you mean "webhookTokenFile"?)`},
		{"wrong case", "openshift: {kubeConfig: /x}\n" + reg, `openshift.kubeConfig: unknown key (keys are case-sensitive: did you mean "kubeconfig"?)`},
		{"wrong case top level", "ListenAddress: ':80'\n" + reg, `ListenAddress: unknown key`},
		{"set twice", "workers: 2\nworkers: 3\n" + reg, `workers: set twice`},
		{"missing token file", "registries: [{name: main, url: 'http://r', webhookTokenFile: " + filepath.Join(dir, "nope") + "}]\n", `registries[0].webhookTokenFile: cannot read the file`},
		{"empty token file", "registries: [{name: main, url: 'http://r', webhookTokenFile: " + empty + "}]\n", `registries[0].webhookTokenFile: file ` + empty + ` is empty`},
		{"listen without port", "listenAddress: '8080'\n" + reg, `listenAddress: must be [host]:port`},
		{"listen bad port", "listenAddress: ':http-ish'\n" + reg, `listenAddress: port "http-ish" is not a number`},
		{"list expected", "registries: {name: main}\n", `registries: must be a list, got a map`},
		{"bad glob in list", "registries: [{name: main, url: 'http://r', webhookToken: t, namespaces: [ok, '[']}]\n", `registries[0].namespaces[1]: bad glob`},
		{"admin socket dir", "adminSocket: /nonexistent-dir/admin.sock\n" + reg, `adminSocket: directory /nonexistent-dir does not exist`},
		{"line number", "logLevel: info\nworkers: eight\n" + reg, `(line 2)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err %v\nwant it to contain %s", err, tc.want)
			}
		})
	}
}

// TestAllProblemsAtOnce: three files missing, three lines, one run.
func TestAllProblemsAtOnce(t *testing.T) {
	_, err := Parse([]byte(`
workers: eight
registries:
  - name: main
    url: https://r
    webhookTokenFile: /nonexistent/main.token
    username: u
    passwordFile: /nonexistent/main.password
    caFile: /nonexistent/ca.crt
`))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"workers:", "registries[0].webhookTokenFile:", "registries[0].passwordFile:", "registries[0].caFile:"}
	if len(lines) != len(want) {
		t.Fatalf("%d problems, want %d:\n%s", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d %q, want %s", i, lines[i], w)
		}
	}
}

// TestEffectiveValues: the defaults are what Write prints, never null.
func TestEffectiveValues(t *testing.T) {
	c, err := Parse([]byte("registries: [{name: main, url: 'http://r', webhookToken: t}]"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.Write(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"createImageStreams: true", "resyncInterval: 10m0s", "workers: 8", "listenAddress: :8080"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("config dump lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "null") {
		t.Errorf("config dump has null:\n%s", b.String())
	}
}

func TestExactKeysStillDecode(t *testing.T) {
	c, err := Parse([]byte(`
workers: 3
resyncInterval: 0
openshift: {kubeconfig: /k, qps: 2.5, createImageStreams: false}
registries: [{name: main, url: 'http://r', webhookToken: t, namespaces: [a, b]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 || c.ResyncInterval.Duration != 0 || c.OpenShift.Kubeconfig != "/k" || c.OpenShift.QPS != 2.5 ||
		c.OpenShift.CreateStreams() || len(c.Registries[0].Namespaces) != 2 {
		t.Errorf("decoded %+v", c)
	}
}

// TestSenderKinds: every sender the webhook knows is a valid config value.
func TestSenderKinds(t *testing.T) {
	for _, k := range []string{"distribution", "harbor", "quay", "artifactory", "acr"} {
		c, err := Parse([]byte("registries: [{name: a, url: 'http://r', webhookToken: t, sender: " + k + "}]"))
		if err != nil {
			t.Fatalf("sender %s: %v", k, err)
		}
		if c.Registries[0].Sender != k {
			t.Errorf("sender %s decoded as %q", k, c.Registries[0].Sender)
		}
	}
}

// TestShutdownDelay: webhooks go on after SIGTERM for 5s by default when
// every replica takes them (a cluster log), not at all with the embedded log;
// 0s turns the pause off and a negative value is refused.
func TestShutdownDelay(t *testing.T) {
	reg := "\nregistries: [{name: main, url: 'http://r', webhookToken: t}]\n"
	for _, tc := range []struct {
		yaml string
		want time.Duration
	}{
		{"nats: {}", 0},
		{"nats: {url: 'nats://n1:4222'}", DefaultShutdownDelay},
		{"nats: {url: 'nats://n1:4222'}\nshutdownDelay: 0s", 0},
		{"shutdownDelay: 2s", 2 * time.Second},
	} {
		c, err := Parse([]byte(tc.yaml + reg))
		if err != nil {
			t.Fatalf("%s: %v", tc.yaml, err)
		}
		if c.ShutdownDelay.Duration != tc.want {
			t.Errorf("%s: shutdownDelay %s, want %s", tc.yaml, c.ShutdownDelay.Duration, tc.want)
		}
	}
	if _, err := Parse([]byte("shutdownDelay: -1s" + reg)); err == nil || !strings.Contains(err.Error(), "shutdownDelay: must not be negative") {
		t.Errorf("a negative shutdownDelay: %v", err)
	}
}
