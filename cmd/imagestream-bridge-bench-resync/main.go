// Command imagestream-bridge-bench-resync measures one resync pass at the
// scale of a real registry.
//
// It starts a distribution registry in this process with N repositories × 5
// tags (one small image; namespaces of 100 repositories each) and an
// image-API emulator, each behind a counting proxy, then runs the bridge's
// resync command as a child process (the binary given by -bin), so that its
// peak RSS is its own: first a pass that finds every tag missing and repairs
// it (waiting for the repairs, as the command does), then a dry run that
// finds nothing to do (-passes chooses; a dry run alone finds every tag missing). It prints a markdown row per pass: pass time, registry
// requests (per tag), pings of /v2/, API requests and the child's peak RSS
// (VmHWM, read every 50 ms while it runs).
//
//	imagestream-bridge-bench-resync -bin bin/imagestream-bridge -repos 1000,5000
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// tagsPerRepository is the tags each repository gets.
const tagsPerRepository = 5

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "imagestream-bridge-bench-resync:", err)
		os.Exit(1)
	}
}

func run() error {
	bin := flag.String("bin", "bin/imagestream-bridge", "the imagestream-bridge binary whose resync command is measured")
	repoList := flag.String("repos", "1000,5000", "repository counts N, comma-separated (N × 5 tags each)")
	passes := flag.String("passes", "repair,dry", "the passes to run, in order: repair (every tag missing, repaired), dry (a dry run)")
	extra := flag.String("config", "", "YAML appended under the registry entry (e.g. the resync budget), indented by the caller")
	flag.Parse()
	fmt.Println("| repositories | tags | pass | drift | pass time | registry requests (per tag) | pings | API requests | peak RSS |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, s := range strings.Split(*repoList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("parse -repos: %q", s)
		}
		if err := bench(*bin, n, *extra, strings.Split(*passes, ",")); err != nil {
			return err
		}
	}
	return nil
}

// counter is a reverse proxy that counts the requests it forwards.
type counter struct {
	srv   *httptest.Server
	total atomic.Int64
	pings atomic.Int64
}

func newCounter(target string) (*counter, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("parse target: %w", err)
	}
	c := &counter{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = &http.Transport{MaxIdleConnsPerHost: 64}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.total.Add(1)
		if r.URL.Path == "/v2/" {
			c.pings.Add(1)
		}
		rp.ServeHTTP(w, r)
	}))
	return c, nil
}

func (c *counter) reset() { c.total.Store(0); c.pings.Store(0) }

func bench(bin string, n int, extra string, passes []string) error {
	ctx := context.Background()
	reg, err := sandbox.StartRegistryWith(ctx, sandbox.Notify{}, sandbox.RegistryOptions{})
	if err != nil {
		return fmt.Errorf("start registry: %w", err)
	}
	defer reg.Close()
	start := time.Now()
	if err := fill(reg.Host, n); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "filled %d repositories × %d tags in %s\n", n, tagsPerRepository, time.Since(start).Round(time.Second))
	api := sandbox.StartAPI()
	defer api.Close()
	regC, err := newCounter(reg.URL)
	if err != nil {
		return err
	}
	defer regC.srv.Close()
	apiC, err := newCounter(api.URL)
	if err != nil {
		return err
	}
	defer apiC.srv.Close()
	dir, err := os.MkdirTemp("", "bench-resync")
	if err != nil {
		return fmt.Errorf("create dir: %w", err)
	}
	defer os.RemoveAll(dir)
	kube := filepath.Join(dir, "kubeconfig")
	if err := writeKubeconfig(apiC.srv.URL, kube); err != nil {
		return err
	}
	cfg := fmt.Sprintf(`logLevel: error
registries:
  - name: main
    url: %s
    referenceHost: %s
    webhookToken: x
%s
openshift:
  kubeconfig: %s
  qps: 100000
  burst: 100000
`, regC.srv.URL, reg.Host, extra, kube)
	cfgFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	tags := n * tagsPerRepository
	missing := fmt.Sprintf("%d missing", tags)
	for _, pass := range passes {
		var p struct {
			name, drift string
			args        []string
		}
		switch pass {
		case "repair":
			p.name, p.drift, p.args = "repair", missing, []string{"resync", "--config", cfgFile}
			missing = "none"
		case "dry":
			p.name, p.drift, p.args = "dry run", missing, []string{"resync", "--config", cfgFile, "--dry-run"}
		default:
			return fmt.Errorf("unknown pass %q", pass)
		}
		regC.reset()
		apiC.reset()
		cmd := exec.Command(bin, p.args...)
		cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
		start := time.Now()
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start %s: %w", p.name, err)
		}
		// The child's rusage maxrss would count this process's RSS too (Linux
		// carries the high-water mark of the mm a vfork'd child execs from):
		// its own VmHWM is read from /proc while it runs instead.
		done := make(chan struct{})
		var hwm atomic.Int64
		go func() {
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				if kib := vmHWM(cmd.Process.Pid); kib > hwm.Load() {
					hwm.Store(kib)
				}
				select {
				case <-done:
					return
				case <-t.C:
				}
			}
		}()
		err := cmd.Wait()
		close(done)
		if err != nil {
			return fmt.Errorf("run %s: %w", p.name, err)
		}
		took := time.Since(start)
		rss := hwm.Load() / 1024
		r := regC.total.Load()
		fmt.Printf("| %d | %d | %s | %s | %.1f s | %d (%.2f) | %d | %d | %d MiB |\n",
			n, tags, p.name, p.drift, took.Seconds(), r, float64(r)/float64(tags), regC.pings.Load(), apiC.total.Load(), rss)
	}
	return nil
}

// vmHWM is the peak resident set of a running process in KiB (0 once it is gone).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kib, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kib
		}
	}
	return 0
}

// writeKubeconfig points a kubeconfig at the emulator's counting proxy.
func writeKubeconfig(server, path string) error {
	kc := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: e, cluster: {server: %q}}]
users: [{name: e, user: {token: bench}}]
contexts: [{name: e, context: {cluster: e, user: e}}]
current-context: e
`, server)
	if err := os.WriteFile(path, []byte(kc), 0o600); err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return nil
}

// fill pushes one small image to N repositories (ns<i/100>/app<i>) and tags
// it 5 times in each, 16 at a time.
func fill(host string, n int) error {
	img, err := sandbox.RandomImage(1, false, "amd64")
	if err != nil {
		return fmt.Errorf("build image: %w", err)
	}
	idx := make(chan int)
	errs := make(chan error, 16)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range idx {
				repo := fmt.Sprintf("ns%03d/app%05d", i/100, i)
				if err := sandbox.Push(host, repo, "v0", img); err != nil {
					errs <- err
					return
				}
				for t := 1; t < tagsPerRepository; t++ {
					ref, _ := name.NewTag(fmt.Sprintf("%s/%s:v%d", host, repo, t), name.Insecure)
					if err := remote.Tag(ref, img); err != nil {
						errs <- err
						return
					}
				}
			}
		}()
	}
	var ferr error
	for i := 0; i < n && ferr == nil; i++ {
		select {
		case idx <- i:
		case ferr = <-errs:
		}
	}
	close(idx)
	wg.Wait()
	select {
	case err := <-errs:
		ferr = err
	default:
	}
	if ferr != nil {
		return fmt.Errorf("fill registry: %w", ferr)
	}
	return nil
}
