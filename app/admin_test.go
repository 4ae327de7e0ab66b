package app

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminSocketNotStolen: a second serve refuses a socket another process
// still serves (and leaves it working); a stale socket file is replaced.
func TestAdminSocketNotStolen(t *testing.T) {
	dir, err := os.MkdirTemp("", "isb")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "a.sock")
	live, err := listenAdmin(path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if ln, err := listenAdmin(path); err == nil || !strings.Contains(err.Error(), "another process serves") {
		if ln != nil {
			ln.Close()
		}
		t.Fatalf("second listen on a live socket: %v, want a refusal", err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("live socket gone after a refused second listen: %v", err)
	}
	c.Close()

	stalePath := filepath.Join(dir, "b.sock")
	stale, err := net.Listen("unix", stalePath)
	if err != nil {
		t.Fatal(err)
	}
	stale.(*net.UnixListener).SetUnlinkOnClose(false)
	stale.Close() // the file stays, nobody answers: a killed process's socket
	ln, err := listenAdmin(stalePath)
	if err != nil {
		t.Fatalf("stale socket not replaced: %v", err)
	}
	ln.Close()
}
