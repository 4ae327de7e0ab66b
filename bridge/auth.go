package bridge

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// tokenSource holds one registry's webhook token. A file-backed token is
// re-read when the file's modification time or size changes (checked at most
// once a second), so a rotated Secret takes effect without a restart.
type tokenSource struct {
	file string

	mu      sync.Mutex
	sum     [32]byte // sha256 of the token: compared in constant time, never logged
	set     bool
	modTime time.Time
	size    int64
	checked time.Time
}

func newTokenSource(inline, file string) (*tokenSource, error) {
	t := &tokenSource{file: file}
	if file == "" {
		t.sum, t.set = sha256.Sum256([]byte(inline)), inline != ""
		return t, nil
	}
	if err := t.reload(time.Now()); err != nil {
		return nil, err
	}
	return t, nil
}

func (t *tokenSource) reload(now time.Time) error {
	t.checked = now
	fi, err := os.Stat(t.file)
	if err != nil {
		return fmt.Errorf("read webhook token: %w", err)
	}
	if t.set && fi.ModTime().Equal(t.modTime) && fi.Size() == t.size {
		return nil
	}
	b, err := os.ReadFile(t.file)
	if err != nil {
		return fmt.Errorf("read webhook token: %w", err)
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return fmt.Errorf("read webhook token: %s is empty", t.file)
	}
	t.sum, t.set, t.modTime, t.size = sha256.Sum256([]byte(tok)), true, fi.ModTime(), fi.Size()
	return nil
}

// check reports whether the Authorization header carries the token. Both
// sides are hashed first so the comparison takes the same time whatever the
// lengths; a file that cannot be re-read keeps the last good token.
func (t *tokenSource) check(header string) bool {
	const prefix = "Bearer "
	if len(header) <= len(prefix) || !strings.EqualFold(header[:len(prefix)], prefix) {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(header[len(prefix):])))
	t.mu.Lock()
	if t.file != "" && time.Since(t.checked) > time.Second {
		_ = t.reload(time.Now())
	}
	want, ok := t.sum, t.set
	t.mu.Unlock()
	return ok && subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
