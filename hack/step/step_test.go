// Package step holds no Go code: its test checks step.sh, the progress reporter of make test and make demo.
package step

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// run runs step.sh with args and env, and returns its output and exit code.
func run(t *testing.T, env []string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("./step.sh", args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &exit):
		return string(out), exit.ExitCode()
	}
	t.Fatalf("step.sh: %v\n%s", err, out)
	return "", 0
}

// TestFirstBuild: a build that compiles many packages counts them instead of listing them, says what a
// first build costs once, shows the compiler's errors and ends with the command's exit status.
func TestFirstBuild(t *testing.T) {
	script := `for i in $(seq 60); do echo "example.com/pkg$i"; done; echo "x/y.go:1:2: undefined: z"; exit 3`
	out, code := run(t, []string{"PACKAGES_MANY=50"}, "-p", "go build demo", "a first build: minutes", "--", "bash", "-c", script)
	if code != 3 {
		t.Errorf("exit %d, want the command's 3\n%s", code, out)
	}
	for _, want := range []string{"==> go build demo\n", "    compiling many packages: a first build: minutes\n",
		"x/y.go:1:2: undefined: z\n", "    60 packages compiled\n", "<== go build demo: FAILED (exit 3) after "} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "a first build"); n != 1 {
		t.Errorf("the first-build line printed %d times, want once:\n%s", n, out)
	}
	if strings.Contains(out, "example.com/pkg") {
		t.Errorf("package lines are shown, want them counted:\n%s", out)
	}
}

// TestCachedBuild: a build that compiles a few packages (the cache has the rest) never says "first build".
func TestCachedBuild(t *testing.T) {
	out, code := run(t, []string{"PACKAGES_MANY=50"}, "-p", "go build demo", "a first build: minutes", "--",
		"bash", "-c", `echo example.com/cmd/demo`)
	if code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, out)
	}
	if strings.Contains(out, "first build") {
		t.Errorf("a cached build printed the first-build line:\n%s", out)
	}
	if !strings.Contains(out, "<== go build demo: done in 0m0") {
		t.Errorf("output lacks the step's time:\n%s", out)
	}
}

// TestQuietCommand: a command that prints nothing for a while gets a heartbeat line, and its own lines
// (go test's results, "FAIL" alone included) are shown as they are.
func TestQuietCommand(t *testing.T) {
	out, code := run(t, []string{"HEARTBEAT=1"}, "go test", "", "--", "bash", "-c", `sleep 2.5; echo FAIL; echo "FAIL	example.com/x	0.1s"`)
	if code != 0 {
		t.Errorf("exit %d, want 0\n%s", code, out)
	}
	for _, want := range []string{": still running\n", "\nFAIL\n", "FAIL\texample.com/x\t0.1s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
