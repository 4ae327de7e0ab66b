package app_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/imagestream-bridge/imagestream-bridge/emulator"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// haStack is the always-on install of issue 19, in one test: a 3-node
// JetStream cluster, the image API emulator (with its Lease API), a registry,
// two bridges (the real binary, nats.url on the cluster, R3, leader election
// on) and a readiness-aware round-robin proxy in front of them, as a
// Kubernetes Service.
type haStack struct {
	t        *testing.T
	bin, dir string
	api      *sandbox.API
	reg      *sandbox.Registry
	nats     *sandbox.NATSCluster
	replicas []*haReplica
	proxy    *sandbox.ReadyProxy
}

// haReplica is one bridge process; it keeps its address across restarts.
type haReplica struct {
	name, addr, cfgFile, logFile string
	mu                           sync.Mutex
	cmd                          *exec.Cmd
	exited                       chan error
}

func (r *haReplica) url() string { return "http://" + r.addr }

// startHA starts the stack; extra is appended to both bridges' config.
func startHA(t *testing.T, extra string) *haStack {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binary against a 3-node JetStream cluster")
	}
	h := &haStack{t: t, bin: buildBinary(t), dir: t.TempDir(), api: sandbox.StartAPI()}
	t.Cleanup(h.api.Close)
	var err error
	if h.reg, err = sandbox.StartRegistry(t.Context(), sandbox.Notify{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.reg.Close)
	if h.nats, err = sandbox.StartNATSCluster(filepath.Join(h.dir, "nats"), 3); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.nats.Close)
	if err := h.nats.WaitLeader(30 * time.Second); err != nil {
		t.Fatal(err)
	}
	kc, _ := h.api.WriteKubeconfig(h.dir)
	token := filepath.Join(h.dir, "token")
	mustWrite(t, token, []byte("tok\n"), 0o600)
	var urls []string
	for _, name := range []string{"a", "b"} {
		addr, _ := sandbox.FreeAddr()
		r := &haReplica{name: name, addr: addr, cfgFile: filepath.Join(h.dir, name+".yaml"), logFile: filepath.Join(h.dir, name+".log")}
		mustWrite(t, r.cfgFile, []byte(fmt.Sprintf(`
listenAddress: %q
workers: 4
resyncInterval: 0s
logFormat: text
retry: {initialBackoff: 50ms, maxBackoff: 500ms}
leaderElection: {enabled: true, namespace: ha, leaseDuration: 2s, renewDeadline: 1500ms, retryPeriod: 200ms}
nats: {url: %q, replicas: 3}
registries: [{name: main, url: %s, webhookTokenFile: %q}]
openshift: {kubeconfig: %q}
%s`, addr, h.nats.URL(), h.reg.URL, token, kc, extra)), 0o600)
		h.replicas = append(h.replicas, r)
		urls = append(urls, r.url())
	}
	for _, r := range h.replicas {
		h.start(r)
	}
	t.Cleanup(func() {
		for _, r := range h.replicas {
			h.kill(r)
		}
		if t.Failed() {
			for _, r := range h.replicas {
				b, _ := os.ReadFile(r.logFile)
				var keep []string
				for _, line := range strings.Split(string(b), "\n") {
					if !strings.Contains(line, "outcome=mapped") {
						keep = append(keep, line)
					}
				}
				t.Logf("log of bridge %s on %s, but for the mapped jobs (last 8000 bytes):\n%s", r.name, r.addr, tail([]byte(strings.Join(keep, "\n")), 8000))
			}
		}
	})
	if h.proxy, err = sandbox.StartReadyProxy(urls...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.proxy.Close)
	h.waitLeader(15 * time.Second)
	return h
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// start runs r's process and waits until it is ready.
func (h *haStack) start(r *haReplica) {
	h.t.Helper()
	f, err := os.OpenFile(r.logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd := exec.Command(h.bin, "serve", "--config", r.cfgFile)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); f.Close() }()
	r.mu.Lock()
	r.cmd, r.exited = cmd, exited
	r.mu.Unlock()
	waitFor(h.t, "bridge "+r.name+" ready", 30*time.Second, func() bool { return ready(r.url()) })
}

// signal sends sig to r's process and returns its exit, or nil when it is not running.
func (h *haStack) signal(r *haReplica, sig syscall.Signal) <-chan error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		h.t.Errorf("signal %s to %s: %v", sig, r.name, err)
	}
	exited := r.exited
	r.cmd = nil
	return exited
}

func (h *haStack) kill(r *haReplica) {
	if exited := h.signal(r, syscall.SIGKILL); exited != nil {
		if err := <-exited; err == nil {
			h.t.Errorf("%s exited 0 on SIGKILL", r.name)
		}
	}
}

// leader returns the replica whose imagestream_bridge_leader gauge is 1, or nil.
func (h *haStack) leader() *haReplica {
	for _, r := range h.replicas {
		if metric(r.url(), "imagestream_bridge_leader") == 1 {
			return r
		}
	}
	return nil
}

func (h *haStack) waitLeader(d time.Duration) *haReplica {
	h.t.Helper()
	var l *haReplica
	waitFor(h.t, "an applier", d, func() bool { l = h.leader(); return l != nil })
	return l
}

// metric sums the samples of one metric family on a replica's /metrics (-1 when unreachable).
func metric(base, name string) float64 {
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line != name && !strings.HasPrefix(line, name+" ") && !strings.HasPrefix(line, name+"{") {
			continue
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64); err == nil {
			sum += v
		}
	}
	return sum
}

// answer is one notification's answer: the status code (0 when the
// connection failed) and its Retry-After.
type answer struct {
	code       int
	retryAfter string
}

// post sends one push notification for repo:tag@digest with event id id.
func post(url, id, repo, tag, digest string) answer {
	body, _ := json.Marshal(map[string]any{"events": []any{map[string]any{
		"id": id, "timestamp": time.Now().UTC(), "action": "push",
		"target": map[string]any{"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
			"digest": digest, "repository": repo, "tag": tag, "size": 1},
	}}})
	req, _ := http.NewRequest(http.MethodPost, url+"/notifications/main", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.events.v2+json")
	req.Header.Set("Authorization", "Bearer tok")
	client := &http.Client{Timeout: 15 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return answer{}
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		return answer{}
	}
	return answer{code: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
}

// deliver sends a notification until it is answered 2xx, the way
// distribution retries an endpoint (the same event again after a pause), and
// returns the refused attempts.
func deliver(t *testing.T, url, id, repo, tag, digest string) []answer {
	t.Helper()
	var refused []answer
	deadline := time.Now().Add(30 * time.Second)
	for {
		a := post(url, id, repo, tag, digest)
		if a.code/100 == 2 {
			return refused
		}
		refused = append(refused, a)
		if time.Now().After(deadline) {
			t.Fatalf("event %s refused for 30s: %v", id, refused)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// pushSameTag pushes n random images, one after the other, as repo:tag and returns their digests in push order.
func pushSameTag(t *testing.T, host, repo, tag string, n int) []string {
	t.Helper()
	digests := make([]string, n)
	for i := range digests {
		img, _ := sandbox.RandomImage(1, false, "amd64")
		if err := sandbox.Push(host, repo, tag, img); err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		digests[i] = d.String()
	}
	return digests
}

// inPushOrder reports whether history (oldest first) only ever moves forward
// in the push order: repeats are harmless, an older digest after a newer one is not.
func inPushOrder(history, pushed []string) error {
	pos := map[string]int{}
	for i, d := range pushed {
		pos[d] = i
	}
	last := -1
	for k, d := range history {
		p, ok := pos[d]
		if !ok {
			return fmt.Errorf("entry %d: %s was never pushed", k, d)
		}
		if p < last {
			return fmt.Errorf("entry %d: push %d after push %d", k, p, last)
		}
		last = p
	}
	return nil
}

// newestLast reverses a tag history (the emulator lists it newest first).
func newestLast(h []string) []string {
	out := make([]string, len(h))
	for i, d := range h {
		out[len(h)-1-i] = d
	}
	return out
}

// TestHAKillApplierAndNodeMidBurst: the same tag pushed 40 times, one
// notification per push, sent one after the other through the proxy so that
// both replicas append; mid-burst the applier is SIGKILLed and one NATS node
// stops (the one leading the event stream). Every notification ends acknowledged (a refused one is sent again,
// as distribution does, and counted), the tag ends on the last push and its
// history never shows an older push after a newer one.
func TestHAKillApplierAndNodeMidBurst(t *testing.T) {
	h := startHA(t, "")
	const n, killAt = 40, 15
	digests := pushSameTag(t, h.reg.Host, "ha/app", "latest", n)
	// A slow API server keeps the applier behind the burst, so the kill leaves a backlog.
	h.api.Inject(&emulator.Fault{PathContains: "imagestreammappings", Delay: 150 * time.Millisecond})

	var (
		refused  []answer
		killed   time.Time
		survivor *haReplica
		failover = make(chan [2]time.Duration, 1)
	)
	for i := range n {
		if i == killAt {
			applier := h.leader()
			if applier == nil {
				t.Fatal("no applier mid-burst")
			}
			survivor = h.replicas[0]
			if survivor == applier {
				survivor = h.replicas[1]
			}
			if m := metric(survivor.url(), "imagestream_bridge_mappings_total"); m != 0 {
				t.Fatalf("the follower finished %v jobs before the kill", m)
			}
			mapped := h.api.MappingCount.Load()
			if mapped >= killAt {
				t.Fatalf("%d mappings before the kill: the applier is not behind, the test proves nothing", mapped)
			}
			// The node that leads the event stream: appends wait for a new stream leader.
			node := max(h.nats.StreamLeader("imagestream-bridge"), 0)
			killed = time.Now()
			h.kill(applier)
			h.nats.Stop(node)
			t.Logf("killed applier %s and NATS node n%d (the event stream's leader) after %d notifications, %d mappings", applier.name, node, i, mapped)
			// The survivor's first leader gauge and its first finished job: the failover.
			go func() {
				var leads time.Duration
				for time.Since(killed) < 30*time.Second {
					if leads == 0 && metric(survivor.url(), "imagestream_bridge_leader") == 1 {
						leads = time.Since(killed)
					}
					if metric(survivor.url(), "imagestream_bridge_mappings_total")+metric(survivor.url(), "imagestream_bridge_events_skipped_total") > 0 {
						failover <- [2]time.Duration{leads, time.Since(killed)}
						return
					}
					time.Sleep(20 * time.Millisecond)
				}
			}()
		}
		refused = append(refused, deliver(t, h.proxy.URL, fmt.Sprintf("k%d", i), "ha/app", "latest", digests[i])...)
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("all %d notifications acknowledged %s after the kill; %d attempts refused and sent again: %v",
		n, time.Since(killed).Round(time.Millisecond), len(refused), refused)

	waitFor(t, "the tag on the last push", 40*time.Second, func() bool {
		hist := h.api.TagHistory("ha", "app", "latest")
		return len(hist) > 0 && hist[0] == digests[n-1]
	})
	select {
	case f := <-failover:
		t.Logf("failover: the survivor leads %s after the kill, finishes its first job %s after it", f[0].Round(time.Millisecond), f[1].Round(time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Error("the survivor finished no job")
	}
	time.Sleep(time.Second) // a late or repeated mapping would land by now
	hist := newestLast(h.api.TagHistory("ha", "app", "latest"))
	if err := inPushOrder(hist, digests); err != nil {
		t.Errorf("tag history out of push order: %v\nhistory (oldest first): %v\npushed: %v", err, hist, digests)
	}
	if hist[len(hist)-1] != digests[n-1] {
		t.Errorf("the tag ends on %s, want the last push %s", hist[len(hist)-1], digests[n-1])
	}
	t.Logf("history: %d entries for %d pushes, %d mapping requests", len(hist), n, h.api.MappingCount.Load())
}

// TestHARollingRestart: a steady stream of notifications through the proxy
// while both replicas are restarted one after the other with SIGTERM (the
// next once the restarted one is ready), as a rolling update does: every
// notification is answered 2xx, and every event is applied.
func TestHARollingRestart(t *testing.T) {
	h := startHA(t, "")
	const rate, n = 20, 300
	img, _ := sandbox.RandomImage(1, false, "amd64")
	d, _ := img.Digest()
	for i := range n {
		if err := sandbox.Push(h.reg.Host, "ha/roll", fmt.Sprintf("r%d", i), img); err != nil {
			t.Fatal(err)
		}
	}

	answers := make([]answer, n)
	var sent sync.WaitGroup
	allSent := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(allSent)
		tick := time.NewTicker(time.Second / rate)
		defer tick.Stop()
		for i := range n {
			<-tick.C
			sent.Go(func() {
				answers[i] = post(h.proxy.URL, fmt.Sprintf("r%d", i), "ha/roll", fmt.Sprintf("r%d", i), d.String())
			})
		}
	}()
	time.Sleep(2 * time.Second)
	for k, r := range h.replicas {
		began := time.Now()
		exited := h.signal(r, syscall.SIGTERM)
		if err := <-exited; err != nil {
			t.Errorf("bridge %s on SIGTERM: %v, want exit 0", r.name, err)
		}
		stopped := time.Since(began)
		h.start(r)
		waitFor(t, "the proxy sends to bridge "+r.name, 5*time.Second, func() bool { return h.proxy.Ready()[k] })
		t.Logf("%s (%s): bridge %s stopped in %s, ready again %s after SIGTERM", time.Since(start).Round(time.Millisecond), time.Now().Format("15:04:05.000"), r.name,
			stopped.Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
	}
	<-allSent
	sent.Wait()
	t.Logf("%d notifications over %s", n, time.Since(start).Round(time.Millisecond))
	var bad []string
	for i, a := range answers {
		if a.code/100 != 2 {
			bad = append(bad, fmt.Sprintf("r%d: %d", i, a.code))
		}
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d notifications not answered 2xx during the rolling restart: %v\nproxy errors: %v", len(bad), n, bad, h.proxy.Errors())
	}
	waitFor(t, "every acknowledged event applied", 30*time.Second, func() bool {
		for i := range n {
			if answers[i].code/100 != 2 {
				continue
			}
			if hist := h.api.TagHistory("ha", "roll", fmt.Sprintf("r%d", i)); len(hist) == 0 || hist[0] != d.String() {
				return false
			}
		}
		return true
	})
}

// TestHAQuorumLoss: with two of three NATS nodes down no event can be stored:
// every notification is answered 503 with Retry-After (never 2xx) and /readyz
// fails on both replicas. When the nodes return, readiness and 202 come back
// by themselves, and the events acknowledged before and after are all applied.
func TestHAQuorumLoss(t *testing.T) {
	h := startHA(t, "")
	img, _ := sandbox.RandomImage(1, false, "amd64")
	d, _ := img.Digest()
	tags := map[string][]string{}
	for _, phase := range []string{"before", "during", "after"} {
		for i := range 4 {
			tag := fmt.Sprintf("%s%d", phase, i)
			if err := sandbox.Push(h.reg.Host, "ha/quorum", tag, img); err != nil {
				t.Fatal(err)
			}
			tags[phase] = append(tags[phase], tag)
		}
	}
	applied := func(phase string) func() bool {
		return func() bool {
			for _, tag := range tags[phase] {
				if hist := h.api.TagHistory("ha", "quorum", tag); len(hist) == 0 || hist[0] != d.String() {
					return false
				}
			}
			return true
		}
	}
	for _, tag := range tags["before"] {
		if refused := deliver(t, h.proxy.URL, tag, "ha/quorum", tag, d.String()); len(refused) > 0 {
			t.Errorf("%s refused with the cluster whole: %v", tag, refused)
		}
	}
	waitFor(t, "the events before applied", 10*time.Second, applied("before"))

	lost := time.Now()
	h.nats.Stop(1)
	h.nats.Stop(2)
	var wg sync.WaitGroup
	for i, tag := range tags["during"] {
		r := h.replicas[i%2]
		wg.Go(func() {
			a := post(r.url(), tag, "ha/quorum", tag, d.String())
			if a.code != http.StatusServiceUnavailable || a.retryAfter == "" {
				t.Errorf("%s to bridge %s without quorum: %d, Retry-After %q; want 503 with Retry-After", tag, r.name, a.code, a.retryAfter)
			}
		})
	}
	wg.Wait()
	t.Logf("quorum lost: %d notifications answered in %s", len(tags["during"]), time.Since(lost).Round(time.Millisecond))
	waitFor(t, "both replicas not ready", 15*time.Second, func() bool { return !ready(h.replicas[0].url()) && !ready(h.replicas[1].url()) })
	t.Logf("both replicas not ready %s after the quorum was lost", time.Since(lost).Round(time.Millisecond))

	back := time.Now()
	for _, i := range []int{1, 2} {
		if err := h.nats.Start(i); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both replicas ready again", 45*time.Second, func() bool { return ready(h.replicas[0].url()) && ready(h.replicas[1].url()) })
	t.Logf("both replicas ready %s after the nodes returned", time.Since(back).Round(time.Millisecond))
	waitFor(t, "the proxy sends to both", 5*time.Second, func() bool { r := h.proxy.Ready(); return r[0] && r[1] })
	var refused []answer
	for _, tag := range tags["after"] {
		refused = append(refused, deliver(t, h.proxy.URL, tag, "ha/quorum", tag, d.String())...)
	}
	t.Logf("after the quorum returned: %d attempts refused and sent again: %v", len(refused), refused)
	waitFor(t, "the events after applied", 30*time.Second, applied("after"))
	t.Logf("the events after applied %s after the nodes returned", time.Since(back).Round(time.Millisecond))
	if !applied("before")() {
		t.Error("an event applied before the quorum loss is gone")
	}
}
