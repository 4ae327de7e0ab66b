package sender

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"strings"
)

// Authenticate reports whether the headers (and, for a signing sender, the
// raw body) prove that kind's request knows token, the registry's configured
// webhook token. An empty token authenticates nothing. Every comparison runs
// in constant time (TokenEqual). The path token, accepted for every sender,
// is the webhook's own check.
//
//   - distribution, acr: Authorization: Bearer <token> (scheme case-insensitive).
//   - harbor: Authorization is Bearer <token>, or <token> alone (Harbor sends
//     its policy's "Auth Header" field verbatim).
//   - artifactory: X-JFrog-Event-Auth is the token (plain secret), or the
//     lowercase hex HMAC-SHA256 of the raw body keyed with it ("use secret
//     for signing"); or Authorization: Bearer <token> from a custom header.
//   - quay: never (Quay cannot set headers; only the path token works).
func Authenticate(kind Kind, h http.Header, body []byte, token string) bool {
	sp, ok := specs[kind]
	if !ok || token == "" {
		return false
	}
	return sp.authenticate(h, body, token)
}

// jfrogAuthHeader carries Artifactory's secret or its HMAC of the body.
const jfrogAuthHeader = "X-JFrog-Event-Auth"

// bearerAuth is distribution's and ACR's form: Authorization: Bearer <token>.
func bearerAuth(h http.Header, _ []byte, token string) bool {
	return bearerEqual(h.Get("Authorization"), token)
}

// harborAuth is Harbor's: Authorization is Bearer <token> or <token> alone.
// Both comparisons always run, so the time does not say which form was sent.
func harborAuth(h http.Header, _ []byte, token string) bool {
	authz := h.Get("Authorization")
	bearer := bearerEqual(authz, token)
	plain := TokenEqual(authz, token)
	return bearer || plain
}

// artifactoryAuth is Artifactory's: X-JFrog-Event-Auth is the token or the
// hex HMAC-SHA256 of body keyed with it, or Authorization: Bearer <token>.
// Every comparison always runs.
func artifactoryAuth(h http.Header, body []byte, token string) bool {
	jfrog := h.Get(jfrogAuthHeader)
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write(body)
	plain := TokenEqual(jfrog, token)
	signed := TokenEqual(jfrog, hex.EncodeToString(mac.Sum(nil)))
	bearer := bearerEqual(h.Get("Authorization"), token)
	return plain || signed || bearer
}

// pathTokenOnly is Quay's: it cannot set headers, so no header proves the token.
func pathTokenOnly(http.Header, []byte, string) bool { return false }

// bearerEqual reports whether an Authorization value is "Bearer <token>",
// the scheme in any case, spaces around the token ignored.
func bearerEqual(authz, token string) bool {
	const prefix = "Bearer "
	if len(authz) <= len(prefix) || !strings.EqualFold(authz[:len(prefix)], prefix) {
		return false
	}
	return TokenEqual(strings.TrimSpace(authz[len(prefix):]), token)
}

// TokenEqual reports whether candidate equals token, in time that depends on
// neither's content nor length: both are hashed with SHA-256 and the sums
// compared with subtle.ConstantTimeCompare. An empty token equals nothing.
func TokenEqual(candidate, token string) bool {
	if token == "" {
		return false
	}
	got, want := sha256.Sum256([]byte(candidate)), sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
