package config

import (
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
		r.FetchTimeout.Duration != 10*time.Second || r.TokenHosts != nil {
		t.Errorf("defaults: %+v", c)
	}
}

func TestStrictAndValidated(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"registries: [{name: a, url: 'http://r', webhookToken: t, typo: 1}]", `unknown field "typo"`},
		{"registries: []", "registries"},
		{"registries: [{name: a, url: 'http://r/path', webhookToken: t}]", "registries[0].url"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, webhookTokenFile: /x}]", "registries[0].webhookToken"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t}, {name: a, url: 'http://r', webhookToken: t}]", "registries[1].name"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, mapping: {join: '/'}}]", "registries[0].mapping.join"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, password: p}]", "registries[0].username"},
		{"registries: [{name: a, url: 'http://r', webhookToken: t, fetchTimeout: -1s}]", "registries[0].fetchTimeout"},
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
