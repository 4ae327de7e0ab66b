package charts

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks the image build (issue 13, item 13): the build stage runs on the
// build platform and cross-compiles for the target one, base images are ARGs (so that a
// digest-pinned reference can be passed), and the image carries the OCI labels.
func TestDockerfile(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(b)
	froms := regexp.MustCompile(`(?m)^FROM\s+(.*)$`).FindAllStringSubmatch(df, -1)
	if len(froms) != 2 {
		t.Fatalf("%d FROM lines, want 2 (build, runtime)", len(froms))
	}
	if !strings.HasPrefix(froms[0][1], "--platform=$BUILDPLATFORM ") {
		t.Errorf("build stage %q does not run on $BUILDPLATFORM: a multi-arch build would emulate the compiler", froms[0][1])
	}
	if strings.Contains(froms[1][1], "--platform") {
		t.Errorf("runtime stage %q must use the target platform", froms[1][1])
	}
	for _, f := range froms {
		img := strings.Fields(f[1])
		ref := img[len(img)-1]
		if len(img) > 2 && img[len(img)-2] == "AS" {
			ref = img[len(img)-3]
		}
		arg := strings.Trim(ref, "${}")
		m := regexp.MustCompile(`(?m)^ARG ` + regexp.QuoteMeta(arg) + `=(\S+)`).FindStringSubmatch(df)
		if !strings.HasPrefix(ref, "${") || m == nil {
			t.Errorf("FROM %s: the base image is not an ARG with a default (digest pinning by --build-arg)", f[1])
		}
	}
	for _, want := range []string{
		"ARG TARGETOS", "ARG TARGETARCH", "GOOS=${TARGETOS}", "GOARCH=${TARGETARCH}",
		`org.opencontainers.image.source="${SOURCE}"`, `org.opencontainers.image.version="${VERSION}"`,
		`org.opencontainers.image.revision="${REVISION}"`,
	} {
		if !strings.Contains(df, want) {
			t.Errorf("Dockerfile lacks %s", want)
		}
	}
	mk, err := os.ReadFile("../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--build-arg VERSION=", "--build-arg REVISION=", "--build-arg SOURCE="} {
		if !strings.Contains(string(mk), want) {
			t.Errorf("make image does not pass %s", want)
		}
	}
}
