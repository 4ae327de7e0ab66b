package sender

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
)

func TestAuthenticate(t *testing.T) {
	const token = "s3cret-token"
	body := []byte(artifactoryManifest)
	sign := func(key string, b []byte) string {
		m := hmac.New(sha256.New, []byte(key))
		m.Write(b)
		return hex.EncodeToString(m.Sum(nil))
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	cases := []struct {
		name string
		kind Kind
		h    http.Header
		body []byte
		want bool
	}{
		{"distribution bearer", Distribution, hdr("Authorization", "Bearer "+token), nil, true},
		{"distribution lowercase scheme", Distribution, hdr("Authorization", "bearer "+token), nil, true},
		{"distribution spaces around token", Distribution, hdr("Authorization", "Bearer   "+token+" "), nil, true},
		{"distribution wrong token", Distribution, hdr("Authorization", "Bearer wrong"), nil, false},
		{"distribution token prefix", Distribution, hdr("Authorization", "Bearer "+token[:5]), nil, false},
		{"distribution bare token", Distribution, hdr("Authorization", token), nil, false},
		{"distribution basic scheme", Distribution, hdr("Authorization", "Basic "+token), nil, false},
		{"distribution scheme only", Distribution, hdr("Authorization", "Bearer "), nil, false},
		{"distribution no header", Distribution, hdr(), nil, false},
		{"distribution jfrog header", Distribution, hdr("X-JFrog-Event-Auth", token), nil, false},
		{"acr bearer", ACR, hdr("Authorization", "Bearer "+token), nil, true},
		{"acr wrong token", ACR, hdr("Authorization", "Bearer x"+token), nil, false},
		{"acr bare token", ACR, hdr("Authorization", token), nil, false},
		{"acr no header", ACR, hdr(), nil, false},
		{"harbor bearer", Harbor, hdr("Authorization", "Bearer "+token), nil, true},
		{"harbor bare token", Harbor, hdr("Authorization", token), nil, true},
		{"harbor wrong bearer", Harbor, hdr("Authorization", "Bearer nope"), nil, false},
		{"harbor wrong bare", Harbor, hdr("Authorization", "nope"), nil, false},
		{"harbor token with suffix", Harbor, hdr("Authorization", token+"x"), nil, false},
		{"harbor other scheme", Harbor, hdr("Authorization", "Token "+token), nil, false},
		{"harbor empty header", Harbor, hdr("Authorization", ""), nil, false},
		{"harbor no header", Harbor, hdr(), nil, false},
		{"artifactory plain secret", Artifactory, hdr("X-JFrog-Event-Auth", token), body, true},
		{"artifactory hmac", Artifactory, hdr("X-JFrog-Event-Auth", sign(token, body)), body, true},
		{"artifactory hmac of another body", Artifactory, hdr("X-JFrog-Event-Auth", sign(token, body)), append([]byte(" "), body...), false},
		{"artifactory hmac with another key", Artifactory, hdr("X-JFrog-Event-Auth", sign("wrong", body)), body, false},
		{"artifactory hmac uppercase", Artifactory, hdr("X-JFrog-Event-Auth", strings.ToUpper(sign(token, body))), body, false},
		{"artifactory wrong secret", Artifactory, hdr("X-JFrog-Event-Auth", "wrong"), body, false},
		{"artifactory bearer", Artifactory, hdr("Authorization", "Bearer "+token), body, true},
		{"artifactory wrong bearer", Artifactory, hdr("Authorization", "Bearer wrong"), body, false},
		{"artifactory bare authorization", Artifactory, hdr("Authorization", token), body, false},
		{"artifactory empty header", Artifactory, hdr("X-JFrog-Event-Auth", ""), body, false},
		{"artifactory no header", Artifactory, hdr(), body, false},
		{"quay bearer never", Quay, hdr("Authorization", "Bearer "+token), nil, false},
		{"quay bare never", Quay, hdr("Authorization", token), nil, false},
		{"quay jfrog never", Quay, hdr("X-JFrog-Event-Auth", token), nil, false},
		{"unknown kind", "nexus", hdr("Authorization", "Bearer "+token), nil, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Authenticate(tc.kind, tc.h, tc.body, token); got != tc.want {
				t.Errorf("Authenticate(%s, %v) = %v, want %v", tc.kind, tc.h, got, tc.want)
			}
		})
	}
}

func TestAuthenticateEmptyTokenAcceptsNothing(t *testing.T) {
	for _, k := range Kinds() {
		h := http.Header{"Authorization": {"Bearer "}, "X-Jfrog-Event-Auth": {""}}
		empty := hmac.New(sha256.New, nil)
		h.Add("X-Jfrog-Event-Auth", hex.EncodeToString(empty.Sum(nil)))
		if Authenticate(k, h, nil, "") {
			t.Errorf("Authenticate(%s) with an empty token = true", k)
		}
		if Authenticate(k, http.Header{}, nil, "") {
			t.Errorf("Authenticate(%s) with an empty token and no headers = true", k)
		}
	}
}

func TestTokenEqual(t *testing.T) {
	cases := []struct {
		candidate, token string
		want             bool
	}{
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"ab", "abc", false},
		{"abcd", "abc", false},
		{"", "abc", false},
		{"", "", false},
		{"ABC", "abc", false},
	}
	for _, tc := range cases {
		if got := TokenEqual(tc.candidate, tc.token); got != tc.want {
			t.Errorf("TokenEqual(%q, %q) = %v, want %v", tc.candidate, tc.token, got, tc.want)
		}
	}
}
