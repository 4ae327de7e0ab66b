// Package docs holds no code: its test ties the claims of the documentation
// that drift as the code moves (status codes, file names, alerts, metric
// names) to what the code does.
package docs

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
	"github.com/imagestream-bridge/imagestream-bridge/config"
	"github.com/imagestream-bridge/imagestream-bridge/eventlog"
	"github.com/imagestream-bridge/imagestream-bridge/metrics"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox/loopback"
)

// docFiles are the texts a user reads: README, docs, the chart's README,
// values, alert rules and dashboard, and the example config.
func docFiles(t *testing.T) map[string]string {
	t.Helper()
	paths := []string{"../README.md", "../config.example.yaml", "../charts/imagestream-bridge/README.md",
		"../charts/imagestream-bridge/values.yaml", "../charts/imagestream-bridge/alerts/imagestream-bridge.rules.yaml",
		"../charts/imagestream-bridge/dashboards/imagestream-bridge.json", "../hack/promcheck/rules_test.yaml"}
	mds, err := filepath.Glob("*.md")
	if err != nil || len(mds) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	paths = append(paths, mds...)
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[strings.TrimPrefix(p, "../")] = string(b)
	}
	return out
}

// unknownRegistryClaims find a status code stated for a registry name the
// bridge does not know: "401 (unknown registry", "| unknown registry in the
// path | 401", "the registry name in the URL is not ... (404)".
var unknownRegistryClaims = []*regexp.Regexp{
	regexp.MustCompile(`\b([1-5]\d\d)\b[^|.\n]{0,40}?\b(?:unknown registry|registry name)`),
	regexp.MustCompile(`(?:unknown registry|registry name)[^|.\n]{0,60}?\(([1-5]\d\d)\)`),
	regexp.MustCompile(`unknown registry[^|\n]*\|\s*([1-5]\d\d)\b`),
}

// unknownRegistryRow finds a troubleshooting row: "| `code="404"` | | the
// path's registry name is not in ...".
var unknownRegistryRow = regexp.MustCompile(`(?m)^\|[^\n]*code="([1-5]\d\d)"[^\n]*(?:unknown registry|registry name)`)

// TestUnknownRegistryStatus: what the docs say a notification for an
// unknown registry name gets is what the running bridge answers.
func TestUnknownRegistryStatus(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st, err := loopback.Start(ctx, loopback.Options{Registry: "main", Token: "docs-token"})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.Bridge.URL+"/notifications/no-such-registry", strings.NewReader(`{"events":[]}`))
	req.Header.Set("Authorization", "Bearer docs-token")
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	answer := fmt.Sprint(resp.StatusCode)

	claims := 0
	for name, text := range docFiles(t) {
		found := unknownRegistryRow.FindAllStringSubmatch(text, -1)
		// Sentences wrap: match across line ends (table rows stay apart at their "|").
		joined := regexp.MustCompile(`\s*\n\s*`).ReplaceAllString(text, " ")
		for _, re := range unknownRegistryClaims {
			found = append(found, re.FindAllStringSubmatch(joined, -1)...)
		}
		for _, m := range found {
			claims++
			if m[1] != answer {
				t.Errorf("%s says an unknown registry gets %s; the bridge answers %s: %q", name, m[1], answer, m[0])
			}
		}
	}
	t.Logf("%d claims about the unknown registry's status checked", claims)
	if claims < 3 {
		t.Errorf("found %d claims about the unknown registry's status (troubleshooting, senders, security state it); is the pattern stale?", claims)
	}
}

// TestJournalFileNames: the file names the docs give the journal's files
// (dataDir/journal.log, journal.log.quarantine, journal.created, journal.db,
// and journal.log.imported once the event log imported them) are the files
// a journal left by an older version holds and the import writes; a
// "quarantine bucket" is only the old bbolt file's.
func TestJournalFileNames(t *testing.T) {
	ctx := t.Context()
	written := map[string]bool{}
	list := func(dir string) {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			written[e.Name()] = true
		}
	}
	// The journals an older version left (written by its journal, which is
	// gone), the log with a damaged record between good ones: quarantined.
	events, err := eventlog.Open(ctx, eventlog.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer events.Close()
	for _, fixture := range []string{"log", "bolt"} {
		dir := t.TempDir()
		src := filepath.Join("..", "journal", "testdata", fixture)
		entries, err := os.ReadDir(src)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			data, err := os.ReadFile(filepath.Join(src, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if e.Name() == "journal.log" {
				data[len(data)/3] ^= 0x40 // inside a record followed by others
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		list(dir)
		if pending, _, err := events.Import(ctx, dir); err != nil || pending == 0 {
			t.Fatalf("import the journal in %s: %d pending, %v", dir, pending, err)
		}
		list(dir)
	}
	if !written["journal.log.quarantine"] {
		t.Errorf("the damaged record was not quarantined: files %v", keys(written))
	}

	mentioned := map[string][]string{}
	fileName := regexp.MustCompile("`(?:dataDir/)?(journal\\.[a-z]+(?:\\.[a-z]+)*)`")
	for name, text := range docFiles(t) {
		for _, m := range fileName.FindAllStringSubmatch(text, -1) {
			mentioned[m[1]] = append(mentioned[m[1]], name)
		}
		for i, line := range strings.Split(text, "\n") {
			if regexp.MustCompile("`quarantine` bucket|bucket `quarantine`").MatchString(line) && !strings.Contains(line, "journal.db") {
				t.Errorf("%s:%d: a quarantine bucket outside the old bbolt journal (the log quarantines to a file): %s", name, i+1, line)
			}
		}
	}
	for f, where := range mentioned {
		if !written[f] {
			t.Errorf("%v name the journal file %s; the journal and its import leave %v", where, f, keys(written))
		}
	}
	for _, f := range []string{"journal.log", "journal.log.quarantine", "journal.log" + eventlog.ImportedSuffix} {
		if written[f] && len(mentioned[f]) == 0 {
			t.Errorf("the journal or its import leaves %s; no doc names it", f)
		}
	}
}

// TestAlertsDocumented: the chart's alerts are the alerts of operations.md's
// table and of troubleshooting.md's runbooks, no more, no fewer.
func TestAlertsDocumented(t *testing.T) {
	docs := docFiles(t)
	find := func(re, text string) []string {
		var out []string
		for _, m := range regexp.MustCompile(re).FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
		sort.Strings(out)
		return out
	}
	rules := find(`(?m)^\s*- alert: (\S+)$`, docs["charts/imagestream-bridge/alerts/imagestream-bridge.rules.yaml"])
	if len(rules) < 5 {
		t.Fatalf("found %d alerts in the chart's rules", len(rules))
	}
	for file, re := range map[string]string{
		"operations.md":      "(?m)^\\| `(ImagestreamBridge[A-Za-z]+)` \\|",
		"troubleshooting.md": `(?m)^### (ImagestreamBridge[A-Za-z]+)$`,
	} {
		if diff := cmp.Diff(rules, find(re, docs[file])); diff != "" {
			t.Errorf("the chart's alerts (-) and %s (+) differ:\n%s", file, diff)
		}
	}
}

// metricToken is a backticked metric name, with the prefix or without it
// (troubleshooting.md writes `retries_total{stage,reason}`).
var metricToken = regexp.MustCompile("`(?:imagestream_bridge_)?([a-z][a-z0-9_]*_(?:total|seconds|bytes|records|evicted|depth|capacity|up|info|stalled|count|sum|bucket))(?:\\{[^`]*\\})?`")

// TestMetricNamesExist: every metric a doc names (docs/metrics.md is held to
// /metrics by metrics.TestDocumentedMetricsMatch) is one the bridge
// registers, with the prefix or without it.
func TestMetricNamesExist(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics.New(reg, "test", metrics.Labels{Registries: []string{"main"}, Senders: map[string]string{"main": "distribution"},
		SkipReasons: bridge.SkipReasons(), FailureReasons: bridge.FailureReasons(), RetryReasons: bridge.RetryReasons(), Stages: bridge.Stages(),
		DerivedResults: bridge.DerivedResults()})
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, f := range families {
		served[f.GetName()] = true
	}
	known := func(name string) bool {
		for _, suffix := range []string{"", "_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && served[metrics.Namespace+"_"+base] {
				return true
			}
		}
		return false
	}
	checked := 0
	for name, text := range docFiles(t) {
		for _, m := range regexp.MustCompile(`\bimagestream_bridge_[a-z0-9_]+`).FindAllString(text, -1) {
			checked++
			if !known(strings.TrimPrefix(m, metrics.Namespace+"_")) {
				t.Errorf("%s names metric %s; the bridge registers no such metric", name, m)
			}
		}
		for _, m := range metricToken.FindAllStringSubmatch(text, -1) {
			if strings.HasPrefix(m[1], "go_") || strings.HasPrefix(m[1], "process_") {
				continue
			}
			checked++
			if !known(m[1]) {
				t.Errorf("%s names metric %s; the bridge registers no such metric", name, m[0])
			}
		}
	}
	if checked < 50 {
		t.Errorf("checked only %d metric names; is the pattern stale?", checked)
	}
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestReadmeRBACSummary: the README's RBAC summary names every resource and
// verb of rbac.md's table (which a chart test holds to the rendered rules).
func TestReadmeRBACSummary(t *testing.T) {
	docs := docFiles(t)
	readme := docs["README.md"]
	start := strings.Index(readme, "## RBAC")
	end := strings.Index(readme[start+1:], "\n## ")
	if start < 0 || end < 0 {
		t.Fatal("README.md has no RBAC section")
	}
	summary := strings.ReplaceAll(readme[start:start+1+end], "\n", " ")
	rows := regexp.MustCompile("(?m)^\\| `[a-z0-9.]+` \\| `([a-z]+)` \\| ([^|]+) \\|").FindAllStringSubmatch(docs["rbac.md"], -1)
	if len(rows) < 5 {
		t.Fatalf("found %d rows in rbac.md's table", len(rows))
	}
	for _, r := range rows {
		resource := r[1]
		// The resource's clause: from the ";" or "." before its name.
		i := strings.Index(summary, "`"+resource+"`")
		if i < 0 {
			t.Errorf("README's RBAC summary lacks %s (rbac.md grants %s)", resource, strings.TrimSpace(r[2]))
			continue
		}
		j := strings.LastIndexAny(summary[:i], ";.")
		clause := summary[j+1 : i]
		for _, verb := range regexp.MustCompile("`([a-z]+)`").FindAllStringSubmatch(r[2], -1) {
			if !strings.Contains(clause, "`"+verb[1]+"`") {
				t.Errorf("README's RBAC summary gives %s without %s (rbac.md: %s): %q", resource, verb[1], strings.TrimSpace(r[2]), clause)
			}
		}
	}
}

// retryAfterClaim finds a Retry-After the docs give an answer code:
// "`QUEUE_FULL` (`Retry-After: 1`)", "503 UNAVAILABLE + Retry-After: 5",
// "`Retry-After: 1`, code `QUEUE_FULL`".
var retryAfterClaims = []*regexp.Regexp{
	regexp.MustCompile(`\b(QUEUE_FULL|UNAVAILABLE)\b[^|\n]{0,20}?Retry-After: (\d+)`),
	regexp.MustCompile("Retry-After: (\\d+)`?, code `(QUEUE_FULL|UNAVAILABLE)`"),
}

// TestRetryAfterDocumented: the Retry-After the docs give a full event log
// (QUEUE_FULL) is what the running bridge sends, and the one they give an
// unavailable log (UNAVAILABLE) is eventlog.RetryAfter, which the webhook
// sends with eventlog.ErrUnavailable.
func TestRetryAfterDocumented(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	reg, err := sandbox.StartRegistry(ctx, sandbox.Notify{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := loopback.Start(ctx, loopback.Options{Registry: "main", Token: "docs-token", Reg: reg,
		Configure: func(c *config.Config) {
			c.QueueSize = 1
			c.ResyncInterval = &config.Duration{}
			c.ShutdownTimeout = config.Duration{Duration: 2 * time.Second}
		}})
	if err != nil {
		reg.Close()
		t.Fatal(err)
	}
	defer st.Close()
	// With the registry gone the first event's job is retried, unapplied: it
	// fills the log (queueSize 1), and the second event finds it full.
	reg.Close()
	// post returns the answer's status and headers (its body is closed).
	post := func(id, tag string) (int, http.Header) {
		t.Helper()
		body := fmt.Sprintf(`{"events":[{"id":%q,"timestamp":"2026-01-02T03:04:05Z","action":"push","target":{"mediaType":"application/vnd.docker.distribution.manifest.v2+json","digest":"sha256:%064x","repository":"docs/app","tag":%q}}]}`, id, 1, tag)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, st.Bridge.URL+"/notifications/main", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer docs-token")
		req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode, resp.Header
	}
	if code, _ := post("docs-1", "v1"); code != http.StatusAccepted {
		t.Fatalf("first event: %d, want 202", code)
	}
	code, header := post("docs-2", "v2")
	if code != http.StatusServiceUnavailable {
		t.Fatalf("second event with queueSize 1 and the first unapplied: %d, want 503", code)
	}
	want := map[string]string{
		"QUEUE_FULL":  header.Get("Retry-After"),
		"UNAVAILABLE": fmt.Sprint(int(eventlog.RetryAfter / time.Second)),
	}
	if want["QUEUE_FULL"] == "" {
		t.Fatal("a full log's 503 has no Retry-After")
	}

	claims := map[string]int{}
	for name, text := range docFiles(t) {
		joined := regexp.MustCompile(`\s*\n\s*#?\s*`).ReplaceAllString(text, " ")
		for i, re := range retryAfterClaims {
			for _, m := range re.FindAllStringSubmatch(joined, -1) {
				code, secs := m[1], m[2]
				if i == 1 {
					code, secs = m[2], m[1]
				}
				claims[code]++
				if secs != want[code] {
					t.Errorf("%s says %s comes with Retry-After %s; the bridge sends %s: %q", name, code, secs, want[code], m[0])
				}
			}
		}
	}
	t.Logf("Retry-After claims checked: %v", claims)
	for code := range want {
		if claims[code] < 3 {
			t.Errorf("found %d claims of the Retry-After of %s (delivery, troubleshooting, senders, config state it); is the pattern stale?", claims[code], code)
		}
	}
}
