package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoTestDoublesInTheBinary: the emulator and the in-process registry
// (sandbox, which pulls in distribution's registry server) are test doubles; they live in the
// demo binary, never in the production one.
func TestNoTestDoublesInTheBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{
			"github.com/imagestream-bridge/imagestream-bridge/emulator",
			"github.com/imagestream-bridge/imagestream-bridge/sandbox",
			"github.com/distribution/distribution/v3/registry", // a registry server (the bridge uses only notifications)
		} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("the production binary depends on %s", pkg)
			}
		}
	}
}
