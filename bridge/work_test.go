package bridge

import (
	"testing"
	"time"
)

func TestBackoffIsCappedAndJittered(t *testing.T) {
	p := &Bridge{initial: 100 * time.Millisecond, max: time.Second}
	for attempt := 1; attempt <= 20; attempt++ {
		want := min(100*time.Millisecond<<(attempt-1), time.Second)
		if attempt > 10 {
			want = time.Second
		}
		for range 50 {
			d := p.backoff(attempt, 0)
			if d < want/2 || d > want {
				t.Fatalf("attempt %d: backoff %s outside [%s, %s]", attempt, d, want/2, want)
			}
		}
	}
	if d := p.backoff(1, 5*time.Second); d != 5*time.Second {
		t.Errorf("Retry-After not honoured: %s", d)
	}
}
