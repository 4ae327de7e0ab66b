package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/event"
	"github.com/imagestream-bridge/imagestream-bridge/webhook/sender"
)

const testToken = "s3cret/token+1"

func sign(body string) string {
	m := hmac.New(sha256.New, []byte(testToken))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// Bodies one event long, one per sender (shapes from the sender package's reference payloads).
const (
	digestA    = "sha256:ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845"
	distBody   = `{"events":[{"id":"e1","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digestA + `","repository":"team/app","tag":"v1"}}]}`
	harborBody = `{"type":"PUSH_ARTIFACT","occur_at":1586922308,"event_data":{"resources":[{"digest":"` + digestA + `","tag":"v1"}],"repository":{"repo_full_name":"team/app"}}}`
	quayBody   = `{"repository":"team/app","updated_tags":["v1"]}`
	jfrogBody  = `{"domain":"docker","event_type":"pushed","data":{"path":"team/app/v1/manifest.json","sha256":"ab6dabe1275a055b3efb52b96b7ed51e0718ae8bba94f7d71274fc564caf2845","image_name":"team/app","tag":"v1"}}`
	acrBody    = `{"id":"e1","action":"push","target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"` + digestA + `","repository":"team/app","tag":"v1"}}`
)

// TestSenderRouting drives each sender's authentication, content type and
// decoding as the handler composes them, without HTTP.
func TestSenderRouting(t *testing.T) {
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	for _, tc := range []struct {
		name     string
		kind     sender.Kind
		h        http.Header
		path     string // "" without a path token
		ct, body string
		auth     bool // authenticated in the end
		needBody bool
		n        int // events decoded
		digest   string
	}{
		{"distribution bearer", sender.Distribution, hdr("Authorization", "Bearer "+testToken), "", "application/vnd.docker.distribution.events.v2+json", distBody, true, false, 1, digestA},
		{"distribution path token", sender.Distribution, hdr(), testToken, "application/json", distBody, true, false, 1, digestA},
		{"distribution wrong bearer", sender.Distribution, hdr("Authorization", "Bearer x"), "", "application/json", distBody, false, false, 0, ""},
		{"distribution wrong path token beats a right header", sender.Distribution, hdr("Authorization", "Bearer "+testToken), "x", "application/json", distBody, false, false, 0, ""},
		{"harbor bare", sender.Harbor, hdr("Authorization", testToken), "", "application/json", harborBody, true, false, 1, digestA},
		{"harbor bearer cloudevents type", sender.Harbor, hdr("Authorization", "Bearer "+testToken), "", "application/cloudevents+json", harborBody, true, false, 1, digestA},
		{"harbor path token", sender.Harbor, hdr(), testToken, "application/json", harborBody, true, false, 1, digestA},
		{"quay path token", sender.Quay, hdr(), testToken, "application/json", quayBody, true, false, 1, ""},
		{"quay header refused", sender.Quay, hdr("Authorization", "Bearer "+testToken), "", "application/json", quayBody, false, false, 0, ""},
		{"artifactory hmac", sender.Artifactory, hdr("X-JFrog-Event-Auth", sign(jfrogBody)), "", "application/json", jfrogBody, true, true, 1, digestA},
		{"artifactory hmac of another body", sender.Artifactory, hdr("X-JFrog-Event-Auth", sign(jfrogBody+" ")), "", "application/json", jfrogBody, false, true, 0, ""},
		{"artifactory plain secret", sender.Artifactory, hdr("X-JFrog-Event-Auth", testToken), "", "application/json", jfrogBody, true, true, 1, digestA},
		{"artifactory bearer", sender.Artifactory, hdr("Authorization", "Bearer "+testToken), "", "application/json", jfrogBody, true, false, 1, digestA},
		{"artifactory nothing", sender.Artifactory, hdr(), "", "application/json", jfrogBody, false, false, 0, ""},
		{"acr bearer", sender.ACR, hdr("Authorization", "Bearer "+testToken), "", "application/json", acrBody, true, false, 1, digestA},
		{"acr bare refused", sender.ACR, hdr("Authorization", testToken), "", "application/json", acrBody, false, false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &peer{kind: tc.kind, token: func() string { return testToken }}
			step := p.authenticate(tc.h, tc.path, tc.path != "")
			if (step == authNeedsBody) != tc.needBody {
				t.Fatalf("step %v, needs body %v", step, tc.needBody)
			}
			ok := step == authOK || step == authNeedsBody && p.authenticateBody(tc.h, []byte(tc.body))
			if ok != tc.auth {
				t.Fatalf("authenticated %v, want %v", ok, tc.auth)
			}
			if !ok {
				return
			}
			if !sender.ContentTypeOK(tc.kind, tc.ct) {
				t.Fatalf("content type %s refused", tc.ct)
			}
			evs, err := decode(tc.kind, []byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			if len(evs) != tc.n || evs[0].Action != event.Push || evs[0].Repository != "team/app" || evs[0].Tag != "v1" || evs[0].Digest != tc.digest {
				t.Errorf("events %+v", evs)
			}
		})
	}
}

// TestDecodeRules: the rules every sender shares (distribution's probe
// bodies, long ids hashed for every sender that has ids, malformed bodies).
func TestDecodeRules(t *testing.T) {
	long := strings.Repeat("x", 65)
	for _, tc := range []struct {
		name string
		kind sender.Kind
		body string
		want []event.Event
		err  string
	}{
		{name: "distribution probe", kind: sender.Distribution, body: `{}`},
		{name: "distribution no events", kind: sender.Distribution, body: `{"events":[]}`},
		{name: "distribution long id", kind: sender.Distribution, body: `{"events":[{"id":"` + long + `","action":"push"}]}`,
			want: []event.Event{{ID: eventID(long), Action: event.Push}}},
		{name: "acr long id", kind: sender.ACR, body: `{"id":"` + long + `","action":"ping"}`,
			want: []event.Event{{ID: eventID(long), Action: event.Ping}}},
		{name: "harbor cloudevents long id", kind: sender.Harbor, body: `{"specversion":"1.0","id":"` + long + `","type":"harbor.artifact.pushed","data":{"resources":[{"digest":"` + digestA + `","tag":"` + digestA + `"}],"repository":{"repo_full_name":"a/b"}}}`,
			want: []event.Event{{ID: eventID(long), Action: event.Push, Repository: "a/b", Digest: digestA}}},
		{name: "trailing data", kind: sender.Distribution, body: `{"events":[]}{}`, err: "decode distribution notification"},
		{name: "too many", kind: sender.Distribution, body: `{"events":[` + strings.Repeat(`{},`, sender.MaxEvents) + `{}]}`, err: "1001 events, at most 1000"},
		{name: "not an object", kind: sender.Quay, body: `[]`, err: "decode quay notification"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := decode(tc.kind, []byte(tc.body))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("events (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEventID(t *testing.T) {
	uuid := "01a218bb-4fe6-7aa0-b1bb-750e74b5560a"
	if eventID(uuid) != uuid {
		t.Error("a UUID id was changed")
	}
	long := strings.Repeat("y", 1<<20)
	if id := eventID(long); len(id) > 71 || id != eventID(long) || id == eventID(long[1:]) {
		t.Errorf("long id not replaced by a stable hash: %d bytes", len(id))
	}
}

// TestDedupKey: events with an id or a digest are deduplicated; a Quay
// event (neither) never is, so two pushes of one tag both resolve it.
func TestDedupKey(t *testing.T) {
	for _, tc := range []struct {
		ev    event.Event
		dedup bool
	}{
		{event.Event{ID: "e1", Action: event.Push}, true},
		{event.Event{Action: event.Push, Repository: "a/b", Tag: "v1", Digest: digestA}, true},
		{event.Event{Action: event.Push, Repository: "a/b", Tag: "v1"}, false},
	} {
		if _, ok := dedupKey("main", &tc.ev); ok != tc.dedup {
			t.Errorf("%+v: deduplicated %v, want %v", tc.ev, ok, tc.dedup)
		}
	}
}

// recordingDomain accepts every event, or refuses all with err.
type recordingDomain struct {
	stalledDomain
	err error
	got []event.Event
}

func (d *recordingDomain) Accept(_ context.Context, _ string, evs []event.Event) ([]bool, error) {
	if d.err != nil {
		return nil, d.err
	}
	d.got = append(d.got, evs...)
	q := make([]bool, len(evs))
	for i := range q {
		q[i] = true
	}
	return q, nil
}

func newTestServer(t *testing.T, d Domain, log io.Writer) *Server {
	t.Helper()
	cfg, err := config.Parse([]byte(`registries:
  - {name: main, url: 'http://r', webhookToken: '` + testToken + `'}
  - {name: quay, url: 'http://r', webhookToken: '` + testToken + `', sender: quay}
  - {name: jfrog, url: 'http://r', webhookToken: '` + testToken + `', sender: artifactory}
`))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, d, nopObserver{}, http.NotFoundHandler(), slog.New(slog.NewTextHandler(log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.SetReady(true)
	s.SetLeading(true)
	return s
}

func serve(s *Server, path, ct, body string, h ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	req.Header.Set("Content-Type", ct)
	for i := 0; i+1 < len(h); i += 2 {
		req.Header.Set(h[i], h[i+1])
	}
	rec := httptest.NewRecorder()
	s.echo.ServeHTTP(rec, req)
	return rec
}

// TestPathTokenNeverLogged: rejected requests are logged, but with the path
// token (right or wrong) redacted.
func TestPathTokenNeverLogged(t *testing.T) {
	var log bytes.Buffer
	s := newTestServer(t, &recordingDomain{}, &log)
	right := "/notifications/quay/s3cret%2Ftoken+1"
	for _, tc := range []struct {
		path, ct string
		code     int
	}{
		{"/notifications/quay/wrong-guess-123", "application/json", 401},
		{right, "text/plain", 415},
		{right + "/more", "application/json", 401}, // Echo's last param takes the rest: a wrong token
		{"/notifications/nope/" + "s3cret%2Ftoken+1", "application/json", 401},
		{right, "application/json", 202}, // the right token: not a rejection, not logged
	} {
		if rec := serve(s, tc.path, tc.ct, quayBody); rec.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.path, rec.Code, rec.Body, tc.code)
		}
	}
	out := log.String()
	for _, secret := range []string{"s3cret", "wrong-guess-123", "token+1"} {
		if strings.Contains(out, secret) {
			t.Errorf("log holds %q:\n%s", secret, out)
		}
	}
	if n := strings.Count(out, "path=/notifications/quay/REDACTED"); n != 3 {
		t.Errorf("%d redacted quay paths logged, want 3:\n%s", n, out)
	}
}

// TestQuayAlways2xx: a Quay notification the bridge cannot queue is answered
// 200 (three failures switch the hook off), every other sender's 503.
func TestQuayAlways2xx(t *testing.T) {
	full := &Error{Kind: KindQueueFull, Message: "queue is full"}
	s := newTestServer(t, &recordingDomain{err: full}, io.Discard)
	if rec := serve(s, "/notifications/quay/s3cret%2Ftoken+1", "application/json", quayBody); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"dropped":1`) {
		t.Errorf("quay, queue full: %d %s, want 200 with dropped 1", rec.Code, rec.Body)
	}
	if rec := serve(s, "/notifications/main", "application/json", distBody, "Authorization", "Bearer "+testToken); rec.Code != 503 {
		t.Errorf("distribution, queue full: %d %s, want 503", rec.Code, rec.Body)
	}
	s.SetLeading(false)
	if rec := serve(s, "/notifications/quay/s3cret%2Ftoken+1", "application/json", quayBody); rec.Code != 200 {
		t.Errorf("quay, not the leader: %d %s, want 200", rec.Code, rec.Body)
	}
	down := &Error{Kind: KindUnavailable, Message: "event log unavailable", RetryAfter: 5 * time.Second}
	s = newTestServer(t, &recordingDomain{err: down}, io.Discard)
	if rec := serve(s, "/notifications/quay/s3cret%2Ftoken+1", "application/json", quayBody); rec.Code != 200 {
		t.Errorf("quay, log unavailable: %d %s, want 200", rec.Code, rec.Body)
	}
	if rec := serve(s, "/notifications/main", "application/json", distBody, "Authorization", "Bearer "+testToken); rec.Code != 503 || rec.Header().Get("Retry-After") != "5" {
		t.Errorf("distribution, log unavailable: %d Retry-After %q, want 503 with Retry-After 5", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// TestArtifactorySignatureOrder: the HMAC is checked on the bounded body,
// after 415 and 413; a wrong signature is 401.
func TestArtifactorySignatureOrder(t *testing.T) {
	d := &recordingDomain{}
	s := newTestServer(t, d, io.Discard)
	for _, tc := range []struct {
		name, ct, body, sig string
		code                int
	}{
		{"signed", "application/json", jfrogBody, sign(jfrogBody), 202},
		{"signed other body", "application/json", jfrogBody, sign(`{}`), 401},
		{"wrong type first", "text/plain", jfrogBody, "junk", 415},
		{"too large first", "application/json", strings.Repeat(" ", 2<<20), "junk", 413},
	} {
		if rec := serve(s, "/notifications/jfrog", tc.ct, tc.body, "X-JFrog-Event-Auth", tc.sig); rec.Code != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.code)
		}
	}
	if len(d.got) != 1 || d.got[0].Digest != digestA {
		t.Errorf("accepted %+v", d.got)
	}
}

// FuzzDecode feeds arbitrary bodies to every sender's decoding as the
// webhook runs it: nothing panics, and what comes out is bounded.
func FuzzDecode(f *testing.F) {
	for i, seed := range []string{distBody, harborBody, quayBody, jfrogBody, acrBody, `{}`, `{"events":[{}]}{}`, `[]`, `"`, ``} {
		f.Add(uint8(i), []byte(seed))
	}
	kinds := sender.Kinds()
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		evs, err := decode(kinds[int(k)%len(kinds)], body)
		if err != nil {
			return
		}
		if len(evs) > sender.MaxEvents {
			t.Fatalf("%d events", len(evs))
		}
		for _, ev := range evs {
			if len(ev.ID) > 71 {
				t.Fatalf("id of %d bytes kept", len(ev.ID))
			}
		}
	})
}

// timeoutReader fails as a connection whose read deadline passed.
type timeoutReader struct{}

func (timeoutReader) Read([]byte) (int, error) {
	return 0, &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}
}

// TestBodyReadTimeoutIs408: a body the server's read timeout cut off is a
// retryable 408, not a malformed 400.
func TestBodyReadTimeoutIs408(t *testing.T) {
	s := newTestServer(t, &recordingDomain{}, io.Discard)
	req := httptest.NewRequest(http.MethodPost, "/notifications/main", io.NopCloser(timeoutReader{}))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	req.Header.Set("Authorization", "Bearer "+testToken)
	rec := httptest.NewRecorder()
	s.echo.ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestTimeout {
		t.Fatalf("answer %d %s, want 408", rec.Code, rec.Body)
	}
}
