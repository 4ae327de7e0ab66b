package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// syncBuffer is a bytes.Buffer safe for the command's writes and the test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestUpLocalPath runs `imagestream-bridge-demo up` as a user would, runs
// the offline push it prints first (the demo's own push command: nothing but
// the local registry), and reads the image stream and the imagestreamtag from
// the emulator it printed, through client-go's discovery (as kubectl resolves
// "imagestreamtags") and the OpenShift image clientset; with kubectl
// installed, through kubectl too.
func TestUpLocalPath(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"up"}, &out, &errOut) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("up exited %d: %s", code, errOut.String())
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), "Ctrl-C") {
		if time.Now().After(deadline) {
			t.Fatalf("up printed no instructions:\n%s\n%s", out.String(), errOut.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	text := out.String()
	// The first command under the push heading is the offline one.
	first := regexp.MustCompile(`Push an image into namespace "demo"[^\n]*\n  (\S+) (push (127\.0\.0\.1:\d+)/demo/app:v2)\n`).FindStringSubmatch(text)
	api := regexp.MustCompile(`(?m)^api server (http://127\.0\.0\.1:\d+) `).FindStringSubmatch(text)
	kc := regexp.MustCompile(`(?m)^kubeconfig (\S+)$`).FindStringSubmatch(text)
	if first == nil || api == nil || kc == nil {
		t.Fatalf("up output lacks the offline push as the first option, the api server or the kubeconfig line:\n%s", text)
	}
	if first[1] != os.Args[0] {
		t.Errorf("the offline push runs %q, want this binary %q", first[1], os.Args[0])
	}
	host := first[3]
	for _, want := range []string{
		"crane copy --insecure docker.io/library/busybox:latest " + host + "/demo/app:v2",
		"skopeo copy --dest-tls-verify=false", "podman push --tls-verify=false",
		"curl -s " + api[1] + "/apis/image.openshift.io/v1/namespaces/demo/imagestreams/app",
		"curl -s " + api[1] + "/apis/image.openshift.io/v1/namespaces/demo/imagestreamtags/app:v2",
		"oc --server " + api[1] + " get imagestreams,imagestreamtags -n demo"} {
		if !strings.Contains(text, want) {
			t.Errorf("up output lacks %q", want)
		}
	}
	if strings.Index(text, "crane copy") < strings.Index(text, " push "+host) {
		t.Errorf("the Docker Hub lines come before the offline push:\n%s", text)
	}

	// docs/operations.md shows this block as printed, ports and directory as placeholders.
	block := text[strings.Index(text, "Push an image"):strings.Index(text, "\nCtrl-C")]
	block = strings.NewReplacer(first[1]+" push", "bin/imagestream-bridge-demo push", api[1], "http://127.0.0.1:APIPORT",
		host, "127.0.0.1:PORT", filepath.Dir(kc[1]), "/tmp/imagestream-bridge-sandbox-NNN").Replace(block)
	if doc, err := os.ReadFile("../../docs/operations.md"); err != nil || !strings.Contains(string(doc), block) {
		t.Errorf("docs/operations.md (%v) does not show what up prints:\n%s", err, block)
	}
	if !regexp.MustCompile(`^imagestream-bridge-sandbox-\d+$`).MatchString(filepath.Base(filepath.Dir(kc[1]))) {
		t.Errorf("kubeconfig %s is not in the imagestream-bridge-sandbox-NNN directory the docs name", kc[1])
	}

	// Run the printed offline push, arguments as printed.
	var pushOut, pushErr bytes.Buffer
	if code := run(ctx, strings.Fields(first[2]), &pushOut, &pushErr); code != 0 {
		t.Fatalf("%s exited %d: %s%s", first[2], code, pushOut.String(), pushErr.String())
	}
	pushed := regexp.MustCompile(`^pushed ` + regexp.QuoteMeta(host) + `/demo/app:v2@(sha256:[0-9a-f]{64}) \(2 layers\)\n$`).FindStringSubmatch(pushOut.String())
	if pushed == nil {
		t.Fatalf("push printed %q", pushOut.String())
	}
	digest := pushed[1]

	rc := &rest.Config{Host: api[1]}
	dc, err := discovery.NewDiscoveryClientForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	groups, err := restmapper.GetAPIGroupResources(dc)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	mapper := restmapper.NewShortcutExpander(restmapper.NewDiscoveryRESTMapper(groups), dc, nil)
	for _, short := range []string{"imagestreamtags", "istag", "imagestreams", "is"} {
		gvr, err := mapper.ResourceFor(schema.GroupVersionResource{Resource: short})
		if err != nil || gvr.Group != "image.openshift.io" {
			t.Errorf("resolve %q as kubectl does: %v %v", short, gvr, err)
		}
	}
	if v, err := dc.ServerVersion(); err != nil || v.Major != "1" {
		t.Errorf("server version: %v %v", v, err)
	}

	cs, err := imageclient.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	var latest string
	deadline = time.Now().Add(20 * time.Second)
	for latest != digest {
		if time.Now().After(deadline) {
			t.Fatalf("image stream tag demo/app:v2 is %q, want %s", latest, digest)
		}
		time.Sleep(50 * time.Millisecond)
		if s, err := cs.ImageV1().ImageStreams("demo").Get(ctx, "app", metav1.GetOptions{}); err == nil {
			for _, tag := range s.Status.Tags {
				if tag.Tag == "v2" && len(tag.Items) > 0 {
					latest = tag.Items[0].Image
				}
			}
		}
	}
	ist, err := cs.ImageV1().ImageStreamTags("demo").Get(ctx, "app:v2", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get imagestreamtag: %v", err)
	}
	if ist.Image.Name != digest || !strings.HasSuffix(ist.Image.DockerImageReference, "/demo/app@"+digest) ||
		len(ist.Image.DockerImageLayers) != 2 || ist.Image.DockerImageManifest != "" {
		t.Errorf("imagestreamtag image: name %s ref %s layers %d manifest %d bytes", ist.Image.Name,
			ist.Image.DockerImageReference, len(ist.Image.DockerImageLayers), len(ist.Image.DockerImageManifest))
	}
	list, err := cs.ImageV1().ImageStreamTags("demo").List(ctx, metav1.ListOptions{})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "app:v2" || list.Items[0].Image.Name != digest {
		t.Errorf("list imagestreamtags: %v %+v", err, list)
	}

	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.CommandContext(ctx, kubectl, "--kubeconfig", kc[1], "get", "imagestreams,imagestreamtags", "-n", "demo")
		b, err := cmd.CombinedOutput()
		// The server's printer columns (a Table), not only NAME and AGE.
		if err != nil || !regexp.MustCompile(`(?m)^NAME +IMAGE REPOSITORY +TAGS +UPDATED$`).Match(b) ||
			!regexp.MustCompile(`(?m)^imagestream.image.openshift.io/app +\S+/demo/app +v2 +\S`).Match(b) ||
			!regexp.MustCompile(`(?m)^NAME +IMAGE REFERENCE +UPDATED$`).Match(b) ||
			!regexp.MustCompile(`(?m)^imagestreamtag.image.openshift.io/app:v2 +`+regexp.QuoteMeta(host+"/demo/app@"+digest)+` +\S`).Match(b) {
			t.Errorf("kubectl get: %v\n%s", err, b)
		}
	}

	// The printed roll-up steps: two versions, then v1.2 holds the second (derivedTags).
	rollup := regexp.MustCompile(`Push two versions[^\n]*\n  \S+ (push \S+/demo/app:v1\.2\.0)\n  \S+ (push \S+/demo/app:v1\.2\.1)\n  curl -s \S+/imagestreamtags/app:v1\.2\n`).FindStringSubmatch(text)
	if rollup == nil {
		t.Fatalf("up output lacks the roll-up steps:\n%s", text)
	}
	var second string
	for _, step := range rollup[1:] {
		pushOut.Reset()
		if code := run(ctx, strings.Fields(step), &pushOut, &pushErr); code != 0 {
			t.Fatalf("%s exited %d: %s%s", step, code, pushOut.String(), pushErr.String())
		}
		second = regexp.MustCompile(`@(sha256:[0-9a-f]{64}) `).FindStringSubmatch(pushOut.String())[1]
	}
	deadline = time.Now().Add(20 * time.Second)
	for {
		got := ""
		ist, err := cs.ImageV1().ImageStreamTags("demo").Get(ctx, "app:v1.2", metav1.GetOptions{})
		if err == nil {
			got = ist.Image.Name
		}
		if got == second {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("imagestreamtag app:v1.2 is %q (%v), want the second version %s", got, err, second)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDemo runs the demo as make demo does: the pushes reach the image
// streams, the roll-up tags follow the second version, and it ends with what
// to try next.
func TestDemo(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run(t.Context(), nil, &out, &errOut); code != 0 {
		t.Fatalf("demo exited %d: %s%s", code, out.String(), errOut.String())
	}
	text := out.String()
	for _, want := range []string{"image stream tags appeared", `"kind": "ImageStreamMapping"`,
		"demo/app:v1.2   -> v1.2.1, v1.2.0", "demo/app:v1     -> v1.2.1", "demo/app:latest -> v1.2.1"} {
		if !strings.Contains(text, want) {
			t.Errorf("demo output lacks %q:\n%s", want, text)
		}
	}
	if !strings.HasSuffix(text, nextStep) || !strings.Contains(nextStep, "make demo-up") {
		t.Errorf("demo output does not end with the next step:\n%s", text)
	}
}

// TestUsage: a wrong flag prints the usage and exits 2; help exits 0.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{[]string{"--bogus"}, 2, "unknown flag: --bogus"},
		{[]string{"emulator", "--bogus"}, 2, "--namespaces string"},
		{[]string{"emulator", "--help"}, 0, "--namespaces string"},
		{[]string{"up", "--help"}, 0, "up starts the same three parts"},
		{[]string{"frob"}, 2, `unknown command "frob"`},
		{[]string{"push"}, 2, "takes exactly one image reference"},
		{[]string{"push", "127.0.0.1:1/demo/app"}, 2, "parse image reference"},
		{[]string{"push", "--layers", "0", "127.0.0.1:1/demo/app:v2"}, 2, "--layers must be between 1 and 20"},
		{[]string{"push", "--help"}, 0, "push builds a small random image"},
	} {
		var out, errOut bytes.Buffer
		code := run(t.Context(), tc.args, &out, &errOut)
		if code != tc.code || !strings.Contains(out.String()+errOut.String(), tc.out) {
			t.Errorf("%v: exit %d, output %s%s; want exit %d and %q", tc.args, code, out.String(), errOut.String(), tc.code, tc.out)
		}
	}
}
