package reload

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFile: a changed file is re-read once the interval has passed, not
// before; a failed reload keeps the last good value; a failed first load is an error.
func TestFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	load := func() (string, error) {
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		if strings.TrimSpace(string(b)) == "" {
			return "", errors.New("empty")
		}
		return string(b), nil
	}
	write("one")
	f, err := New(time.Second, load, p)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	f.now = func() time.Time { return now }
	for _, step := range []struct {
		write   string // new file contents, "" to leave as is
		advance time.Duration
		want    string
	}{
		{want: "one"},
		{write: "two!", want: "one"},                     // within the interval: not checked
		{advance: time.Second, want: "two!"},             // interval passed: re-read
		{write: " ", advance: time.Second, want: "two!"}, // load fails: last good value
		{write: "three", want: "two!"},
		{advance: 2 * time.Second, want: "three"},
	} {
		if step.write != "" {
			write(step.write)
		}
		now = now.Add(step.advance)
		if got := f.Get(); got != step.want {
			t.Fatalf("after writing %q and %s: got %q, want %q", step.write, step.advance, got, step.want)
		}
	}
	write(" ")
	if _, err := New(0, load, p); err == nil {
		t.Error("a failed first load returned no error")
	}
	if _, err := New(0, load, filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("a missing file returned no error")
	}
}
