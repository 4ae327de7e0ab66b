package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestInstallShowsAptOutput runs promcheck.sh where prometheus is missing,
// as root, with an apt-get that fails after printing 30 lines: every line
// reaches the user (none hidden behind a log file or a tail), the script
// says apt-get failed and exits non-zero, and the policy-rc.d it wrote is gone.
func TestInstallShowsAptOutput(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash")
	}
	bin, tmp := t.TempDir(), t.TempDir()
	for _, tool := range []string{"dirname", "chmod", "rm", "mktemp", "tail", "head", "cat"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	var apt strings.Builder
	apt.WriteString("#!" + bash + "\nif [ \"$1\" = update ]; then echo 'Hit:1 http://deb.example stable InRelease'; exit 0; fi\n")
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&apt, "echo 'apt line %d'\n", i)
	}
	apt.WriteString("echo 'E: Unable to locate package prometheus' >&2\nexit 100\n")
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("apt-get", apt.String())
	write("id", "#!"+bash+"\necho 0\n")

	policy := filepath.Join(tmp, "policy-rc.d")
	cmd := exec.Command(bash, "promcheck.sh")
	cmd.Env = []string{"PATH=" + bin, "PROMCHECK_POLICY_RC_D=" + policy, "HOME=" + tmp}
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("promcheck.sh succeeded with a failing apt-get:\n%s", out)
	}
	text := string(out)
	want := []string{"Hit:1 http://deb.example stable InRelease", "E: Unable to locate package prometheus",
		"apt-get could not install prometheus (exit 100"}
	for i := 1; i <= 30; i++ {
		want = append(want, fmt.Sprintf("apt line %d\n", i))
	}
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("output lacks %q:\n%s", w, text)
		}
	}
	if _, err := os.Stat(policy); !os.IsNotExist(err) {
		t.Errorf("policy-rc.d left behind: %v", err)
	}
}
