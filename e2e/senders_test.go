package e2e_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// The registries of startSenders, one per sender, all serving the env's
// registry: "main" is distribution (and GitLab), the others are named here.
var senderRegistries = []struct{ name, kind string }{
	{"harbor", "harbor"}, {"quay", "quay"}, {"jfrog", "artifactory"}, {"acr", "acr"},
}

// startSenders is an env whose config has a registry of every sender kind,
// the registry's own notifications off: the tests post what each product
// sends for a real push.
func startSenders(t *testing.T) *env {
	t.Helper()
	return startEnv(t, envOpts{configure: func(c *config.Config) {
		for _, s := range senderRegistries {
			c.Registries = append(c.Registries, config.Registry{Name: s.name, URL: c.Registries[0].URL, WebhookToken: token, Sender: s.kind})
		}
	}})
}

// send posts body to path with the given headers (name, value pairs).
func (e *env) send(path, contentType string, body []byte, headers ...string) answer {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, string(b), resp.Header}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func hmacHex(key string, body []byte) string {
	m := hmac.New(sha256.New, []byte(key))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// Payloads as each product sends them for a push of repo:tag at digest
// (shapes from docs/senders.md and the sender package's reference payloads;
// the hosts they name are deliberately wrong: the bridge never uses them).
func harborDefault(repo, tag, digest string) []byte {
	ns, name, _ := strings.Cut(repo, "/")
	return mustJSON(map[string]any{"type": "PUSH_ARTIFACT", "occur_at": time.Now().Unix(), "operator": "admin",
		"event_data": map[string]any{
			"resources":  []any{map[string]any{"digest": digest, "tag": tag, "resource_url": "attacker.invalid/" + repo + ":" + tag}},
			"repository": map[string]any{"date_created": 1586922308, "name": name, "namespace": ns, "repo_full_name": repo, "repo_type": "private"}}})
}

func harborCloud(id, typ, repo, tag, digest string) []byte {
	ns, name, _ := strings.Cut(repo, "/")
	return mustJSON(map[string]any{"specversion": "1.0", "requestid": "r-" + id, "id": id,
		"source": "/projects/1/webhook/policies/3", "type": typ, "datacontenttype": "application/json",
		"time": time.Now().UTC().Format(time.RFC3339), "operator": "robot$ci",
		"data": map[string]any{
			"resources":  []any{map[string]any{"digest": digest, "tag": tag, "resource_url": "attacker.invalid/" + repo + "@" + digest}},
			"repository": map[string]any{"name": name, "namespace": ns, "repo_full_name": repo}}})
}

func quayPush(repo string, tags ...string) []byte {
	ns, name, _ := strings.Cut(repo, "/")
	return mustJSON(map[string]any{"name": name, "repository": repo, "namespace": ns,
		"docker_url": "attacker.invalid/" + repo, "homepage": "https://attacker.invalid/repository/" + repo, "updated_tags": tags})
}

func artifactoryPush(repo, tag, digest, file string) []byte {
	return mustJSON(map[string]any{"domain": "docker", "event_type": "pushed", "subscription_key": "isb",
		"jpd_origin": "https://attacker.invalid", "source": "jfrog/user@example.com",
		"data": map[string]any{"repo_key": "docker-local", "event_type": "pushed", "path": repo + "/" + tag + "/" + file,
			"name": file, "sha256": strings.TrimPrefix(digest, "sha256:"), "size": 1234, "image_name": repo, "tag": tag,
			"platforms": []any{map[string]any{"architecture": "amd64", "os": "linux"}}}})
}

func acrEvent(id, action, repo, tag, digest, mediaType string) []byte {
	return mustJSON(map[string]any{"id": id, "timestamp": time.Now().UTC().Format(time.RFC3339Nano), "action": action,
		"target":  map[string]any{"mediaType": mediaType, "size": 524, "digest": digest, "length": 524, "repository": repo, "tag": tag},
		"request": map[string]any{"id": "r", "host": "attacker.invalid", "method": "PUT", "useragent": "docker/27"}})
}

// gitlabEnvelope is GitLab's distribution envelope with its extra fields.
func gitlabEnvelope(events ...map[string]any) []byte {
	for _, ev := range events {
		ev["actor"] = map[string]any{"name": "root", "user_type": "personal_access_token"}
	}
	return envelope(events...)
}

// reference maps repo:tag@digest through the distribution path in a bridge
// of its own (own emulator, same registry) and returns what it stored.
func reference(t *testing.T, reg *sandbox.Registry, repo, tag, digest, mediaType string) (*imagev1.Image, imagev1.TagEvent) {
	t.Helper()
	ref := startEnv(t, envOpts{registry: reg})
	if a := ref.notify(event("ref-"+tag, repo, tag, digest, mediaType)); a.status != http.StatusAccepted {
		t.Fatalf("reference: %d %s", a.status, a.body)
	}
	ns, stream, _ := strings.Cut(repo, "/")
	ref.waitTag(ns, stream, tag, digest)
	return ref.api.Image(digest), tagEvent(t, ref, ns, stream, tag)
}

func tagEvent(t *testing.T, e *env, ns, stream, tag string) imagev1.TagEvent {
	t.Helper()
	for _, tg := range e.api.Stream(ns, stream).Status.Tags {
		if tg.Tag == tag && len(tg.Items) > 0 {
			return tg.Items[0]
		}
	}
	t.Fatalf("%s/%s:%s not in the stream", ns, stream, tag)
	return imagev1.TagEvent{}
}

// sameAsDistribution checks that what e stored for repo:tag is exactly what
// the distribution path stores for the same push: the Image (reference,
// manifest bytes, config, layers, metadata, annotations) and the tag event.
func sameAsDistribution(t *testing.T, e *env, repo, tag, digest, mediaType string) {
	t.Helper()
	ns, stream, _ := strings.Cut(repo, "/")
	e.waitTag(ns, stream, tag, digest)
	wantImg, wantEv := reference(t, e.reg, repo, tag, digest, mediaType)
	got := e.api.Image(digest)
	if got == nil || wantImg == nil {
		t.Fatalf("image stored %v, reference %v", got != nil, wantImg != nil)
	}
	if got.DockerImageManifest == "" && got.DockerImageManifests == nil {
		t.Fatal("stored Image has no manifest")
	}
	ignore := cmpopts.IgnoreFields(metav1.ObjectMeta{}, "UID", "ResourceVersion", "CreationTimestamp", "Generation", "ManagedFields")
	if diff := cmp.Diff(withoutServerClock(t, wantImg), withoutServerClock(t, got), ignore); diff != "" {
		t.Errorf("Image differs from the distribution path's (-distribution +sender):\n%s", diff)
	}
	gotEv := tagEvent(t, e, ns, stream, tag)
	if gotEv.DockerImageReference != wantEv.DockerImageReference || gotEv.Image != wantEv.Image {
		t.Errorf("tag event %s %s, distribution path %s %s", gotEv.DockerImageReference, gotEv.Image, wantEv.DockerImageReference, wantEv.Image)
	}
}

// withoutServerClock returns a copy of img whose metadata Created is zeroed
// when it is the API server's clock rather than content: a list's Created is
// the time the server stored it, so two pushes a second apart differ there
// and nowhere else. It must still be set. An image's Created comes from its
// config and is compared as it is.
func withoutServerClock(t *testing.T, img *imagev1.Image) *imagev1.Image {
	t.Helper()
	if len(img.DockerImageManifests) == 0 {
		return img
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatalf("decode metadata of %s: %v", img.Name, err)
	}
	if meta.Created.IsZero() {
		t.Errorf("list %s stored without a Created time", img.Name)
	}
	meta.Created = metav1.Time{}
	raw, err := json.Marshal(&meta)
	if err != nil {
		t.Fatal(err)
	}
	out := img.DeepCopy()
	out.DockerImageMetadata.Raw = raw
	return out
}

func digestOf(t *testing.T, x interface{ Digest() (v1.Hash, error) }) string {
	t.Helper()
	d, err := x.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return d.String()
}

const (
	ociMan = "application/vnd.oci.image.manifest.v1+json"
	ociIdx = "application/vnd.oci.image.index.v1+json"
)

// TestE2ESenderHarbor: Harbor's pushes of a multi-arch image (one event per
// child, tag = digest, then the index's) in both payload formats end as
// the exact mapping of the index; children are skipped as untagged; a
// CloudEvents retry is a duplicate; Default's bare and Bearer auth work.
func TestE2ESenderHarbor(t *testing.T) {
	e := startSenders(t)
	idx, err := sandbox.RandomIndex(true, "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	d := e.push("team/harbor", "v1", idx)
	man, _ := idx.IndexManifest()
	for _, c := range man.Manifests { // the children, as Harbor reports them: untagged
		a := e.send("/notifications/harbor", "application/json", harborDefault("team/harbor", c.Digest.String(), c.Digest.String()), "Authorization", token)
		if a.status != http.StatusOK || !strings.Contains(a.body, `"skipped":1`) {
			t.Fatalf("child: %d %s", a.status, a.body)
		}
	}
	if a := e.send("/notifications/harbor", "application/json", harborDefault("team/harbor", "v1", d), "Authorization", token); a.status != http.StatusAccepted {
		t.Fatalf("index, Default format, bare token: %d %s", a.status, a.body)
	}
	sameAsDistribution(t, e, "team/harbor", "v1", d, ociIdx)

	img := randomImage(t, 2, false)
	d2 := e.push("team/harbor", "v2", img)
	body := harborCloud("4b2f89a6-548d-4c12-9993-a1f5790b97d2", "harbor.artifact.pushed", "team/harbor", "v2", d2)
	if a := e.send("/notifications/harbor", "application/cloudevents+json", body, "Authorization", "Bearer "+token); a.status != http.StatusAccepted {
		t.Fatalf("CloudEvents, Bearer: %d %s", a.status, a.body)
	}
	if a := e.send("/notifications/harbor", "application/cloudevents+json", body, "Authorization", "Bearer "+token); !strings.Contains(a.body, `"duplicates":1`) {
		t.Errorf("CloudEvents retry: %d %s, want a duplicate", a.status, a.body)
	}
	sameAsDistribution(t, e, "team/harbor", "v2", d2, schema2)
	if a := e.send("/notifications/harbor", "application/cloudevents+json", harborCloud("p1", "harbor.artifact.pulled", "team/harbor", "v2", d2), "Authorization", token); a.status != 200 || !strings.Contains(a.body, `"skipped":1`) {
		t.Errorf("pull: %d %s", a.status, a.body)
	}
	if got := e.metric(`imagestream_bridge_events_skipped_total{reason="untagged",registry="harbor"}`); got != float64(len(man.Manifests)) {
		t.Errorf("untagged skips %v, want %d", got, len(man.Manifests))
	}
}

// TestE2ESenderQuay: Quay's repo_push (no digest) to the path-token URL
// maps what the tag points at, resolved at the configured registry; two
// pushes of one tag are not merged by dedup; the Test button maps nothing.
func TestE2ESenderQuay(t *testing.T) {
	e := startSenders(t)
	path := "/notifications/quay/" + token
	d := e.push("team/quay", "v1", randomImage(t, 2, true))
	if a := e.send(path, "application/json", quayPush("team/quay", "v1")); a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	sameAsDistribution(t, e, "team/quay", "v1", d, ociMan)

	// The same tag pushed again: the same body, which must not be a duplicate.
	d2 := e.push("team/quay", "v1", randomImage(t, 1, true))
	if a := e.send(path, "application/json", quayPush("team/quay", "v1")); a.status != http.StatusAccepted {
		t.Fatalf("second push of the tag: %d %s", a.status, a.body)
	}
	e.waitTag("team", "quay", "v1", d2)

	// A tag gone by the time the job resolves it is skipped as stale, not failed.
	if a := e.send(path, "application/json", quayPush("team/quay", "gone")); a.status != http.StatusAccepted {
		t.Fatalf("push of a missing tag: %d %s", a.status, a.body)
	}
	e.waitFor("the missing tag to be skipped", func() bool {
		return e.metric(`imagestream_bridge_events_skipped_total{reason="stale",registry="quay"}`) == 1
	})

	before := e.api.MappingCount.Load()
	if a := e.send(path, "application/json", quayPush("team/quay", "latest", "foo")); a.status != http.StatusOK || !strings.Contains(a.body, `"skipped":1`) {
		t.Errorf("test button: %d %s, want 200 skipped", a.status, a.body)
	}
	if a := e.send(path, "application/json", mustJSON(map[string]any{"repository": "team/quay", "message": "mirror sync started"})); a.status != http.StatusOK {
		t.Errorf("mirror sync: %d %s", a.status, a.body)
	}
	time.Sleep(100 * time.Millisecond)
	if n := e.api.MappingCount.Load(); n != before {
		t.Errorf("%d mappings after the test button", n-before)
	}
}

// TestE2ESenderArtifactory: JFrog's docker "pushed" event, signed with the
// token (HMAC) or carrying it, ends as the exact mapping, fetched by the
// digest from data.sha256 and verified.
func TestE2ESenderArtifactory(t *testing.T) {
	e := startSenders(t)
	d := e.push("team/jfrog", "v1", randomImage(t, 2, false))
	body := artifactoryPush("team/jfrog", "v1", d, "manifest.json")
	if a := e.send("/notifications/jfrog", "application/json", body, "X-JFrog-Event-Auth", hmacHex(token, body)); a.status != http.StatusAccepted {
		t.Fatalf("signed: %d %s", a.status, a.body)
	}
	sameAsDistribution(t, e, "team/jfrog", "v1", d, schema2)

	idx, err := sandbox.RandomIndex(false, "amd64", "arm64")
	if err != nil {
		t.Fatal(err)
	}
	d2 := e.push("team/jfrog", "multi", idx)
	if a := e.send("/notifications/jfrog", "application/json", artifactoryPush("team/jfrog", "multi", d2, "list.manifest.json"), "X-JFrog-Event-Auth", token); a.status != http.StatusAccepted {
		t.Fatalf("plain secret, list: %d %s", a.status, a.body)
	}
	sameAsDistribution(t, e, "team/jfrog", "multi", d2, "application/vnd.docker.distribution.manifest.list.v2+json")

	// A checksum that is not the manifest's: the fetch by digest verifies, nothing is mapped.
	other := digestOf(t, randomImage(t, 1, false))
	if a := e.send("/notifications/jfrog", "application/json", artifactoryPush("team/jfrog", "v9", other, "manifest.json"), "Authorization", "Bearer "+token); a.status != http.StatusAccepted {
		t.Fatalf("wrong checksum: %d %s", a.status, a.body)
	}
	e.waitFor("the unknown digest to fail", func() bool {
		return e.metric(`imagestream_bridge_permanent_failures_total{cluster="default",reason="manifest_not_found",registry="jfrog"}`) == 1
	})
	if h := e.api.TagHistory("team", "jfrog", "v9"); len(h) != 0 {
		t.Errorf("v9 mapped: %v", h)
	}
}

// TestE2ESenderACR: an ACR webhook's push (one event object) ends as the
// exact mapping; its ping answers 2xx and maps nothing.
func TestE2ESenderACR(t *testing.T) {
	e := startSenders(t)
	d := e.push("team/acr", "v1", randomImage(t, 2, true))
	if a := e.send("/notifications/acr", "application/json", acrEvent("a1", "push", "team/acr", "v1", d, ociMan), "Authorization", "Bearer "+token); a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	sameAsDistribution(t, e, "team/acr", "v1", d, ociMan)
	before := e.api.MappingCount.Load()
	ping := mustJSON(map[string]any{"id": "p1", "timestamp": time.Now().UTC().Format(time.RFC3339Nano), "action": "ping",
		"target": map[string]any{}, "request": map[string]any{"id": "r", "host": "x", "method": "POST", "useragent": "AzureContainerRegistry"}})
	if a := e.send("/notifications/acr", "application/json", ping, "Authorization", "Bearer "+token); a.status != http.StatusOK || !strings.Contains(a.body, `"skipped":1`) {
		t.Errorf("ping: %d %s, want 200 skipped", a.status, a.body)
	}
	if got := e.metric(`imagestream_bridge_events_total{action="ping",outcome="skipped",registry="acr"}`); got != 1 {
		t.Errorf("ping events %v, want 1", got)
	}
	if a := e.send("/notifications/acr", "application/json", acrEvent("a2", "push", "team/acr", "", d, ociMan), "Authorization", "Bearer "+token); !strings.Contains(a.body, `"skipped":1`) {
		t.Errorf("digest-only push: %d %s, want skipped", a.status, a.body)
	}
	if n := e.api.MappingCount.Load(); n != before {
		t.Errorf("%d mappings after ping and untagged push", n-before)
	}
}

// TestE2ESenderGitLab: GitLab's envelope (distribution format, actor.user_type)
// posted with a path token ends as the exact mapping; a rename is skipped.
func TestE2ESenderGitLab(t *testing.T) {
	e := startSenders(t)
	d := e.push("team/gitlab", "v1", randomImage(t, 1, false))
	if a := e.send("/notifications/main/"+token, eventsType, gitlabEnvelope(event("g1", "team/gitlab", "v1", d, schema2))); a.status != http.StatusAccepted {
		t.Fatalf("push: %d %s", a.status, a.body)
	}
	sameAsDistribution(t, e, "team/gitlab", "v1", d, schema2)
	rename := event("g2", "team/gitlab", "", "", "")
	rename["action"] = "rename"
	rename["target"].(map[string]any)["rename"] = map[string]any{"type": "project", "from": "team/gitlab", "to": "team/gitlab2"}
	if a := e.notify(rename); a.status != http.StatusOK || !strings.Contains(a.body, `"skipped":1`) {
		t.Errorf("rename: %d %s, want 200 skipped", a.status, a.body)
	}
	if got := e.metric(`imagestream_bridge_events_skipped_total{reason="not_push",registry="main"}`); got != 1 {
		t.Errorf("not_push skips %v, want 1", got)
	}
}

// TestE2ESenderAuth: every auth form of every sender, wrong, answers 401 and
// maps nothing; the right one is 2xx.
func TestE2ESenderAuth(t *testing.T) {
	e := startSenders(t)
	d := e.push("team/auth", "v1", randomImage(t, 1, false))
	dist := envelope(event("x1", "team/auth", "v1", d, schema2))
	harbor := harborDefault("team/auth", "v1", d)
	quay := quayPush("team/auth", "v1")
	jfrog := artifactoryPush("team/auth", "v1", d, "manifest.json")
	acr := acrEvent("x2", "push", "team/auth", "v1", d, schema2)
	for _, tc := range []struct {
		name, path, ct string
		body           []byte
		headers        []string
		status         int
	}{
		{"distribution wrong bearer", "/notifications/main", eventsType, dist, []string{"Authorization", "Bearer nope"}, 401},
		{"distribution wrong path token", "/notifications/main/nope", eventsType, dist, nil, 401},
		{"distribution path token with right header", "/notifications/main/nope", eventsType, dist, []string{"Authorization", "Bearer " + token}, 401},
		{"harbor wrong bare", "/notifications/harbor", "application/json", harbor, []string{"Authorization", "nope"}, 401},
		{"harbor wrong bearer", "/notifications/harbor", "application/json", harbor, []string{"Authorization", "Bearer nope"}, 401},
		{"harbor wrong path token", "/notifications/harbor/nope", "application/json", harbor, nil, 401},
		{"quay no path token", "/notifications/quay", "application/json", quay, []string{"Authorization", "Bearer " + token}, 401},
		{"quay wrong path token", "/notifications/quay/nope", "application/json", quay, nil, 401},
		{"quay token of another registry", "/notifications/quay/other-token", "application/json", quay, nil, 401},
		{"artifactory wrong plain secret", "/notifications/jfrog", "application/json", jfrog, []string{"X-JFrog-Event-Auth", "nope"}, 401},
		{"artifactory HMAC of another body", "/notifications/jfrog", "application/json", jfrog, []string{"X-JFrog-Event-Auth", hmacHex(token, quay)}, 401},
		{"artifactory HMAC with another key", "/notifications/jfrog", "application/json", jfrog, []string{"X-JFrog-Event-Auth", hmacHex("nope", jfrog)}, 401},
		{"artifactory wrong bearer", "/notifications/jfrog", "application/json", jfrog, []string{"Authorization", "Bearer nope"}, 401},
		{"artifactory wrong path token", "/notifications/jfrog/nope", "application/json", jfrog, nil, 401},
		{"acr wrong bearer", "/notifications/acr", "application/json", acr, []string{"Authorization", "Bearer nope"}, 401},
		{"acr bare token", "/notifications/acr", "application/json", acr, []string{"Authorization", token}, 401},
		{"acr wrong path token", "/notifications/acr/nope", "application/json", acr, nil, 401},
		{"unknown registry with the token", "/notifications/nope/" + token, "application/json", quay, nil, 401},
		{"harbor wrong content type", "/notifications/harbor", "text/plain", harbor, []string{"Authorization", token}, 415},
		{"quay cloudevents content type", "/notifications/quay/" + token, "application/cloudevents+json", quay, nil, 415},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if a := e.send(tc.path, tc.ct, tc.body, tc.headers...); a.status != tc.status {
				t.Errorf("answer %d %s, want %d", a.status, a.body, tc.status)
			}
		})
	}
	if n := e.api.MappingCount.Load(); n != 0 {
		t.Fatalf("%d mappings after wrong auth", n)
	}
	// The right form of each is accepted: the first maps, the rest are the same tag again.
	for _, ok := range []struct {
		path    string
		ct      string
		body    []byte
		headers []string
	}{
		{"/notifications/main/" + token, eventsType, dist, nil},
		{"/notifications/harbor/" + token, "application/json", harbor, nil},
		{"/notifications/quay/" + token, "application/json", quay, nil},
		{"/notifications/jfrog", "application/json", jfrog, []string{"Authorization", "Bearer " + token}},
		{"/notifications/acr/" + token, "application/json", acr, nil},
	} {
		if a := e.send(ok.path, ok.ct, ok.body, ok.headers...); a.status != http.StatusAccepted {
			t.Errorf("%s: %d %s", strings.Replace(ok.path, token, "TOKEN", 1), a.status, a.body)
		}
	}
	e.waitTag("team", "auth", "v1", d)
	if got := e.metric(`imagestream_bridge_registry_info{registry="jfrog",sender="artifactory"}`); got != 1 {
		t.Errorf("registry_info for jfrog = %v", got)
	}
}
