package bridge

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// listingFetcher serves one image for every digest and lists the tags of
// tags; err, while set, is the listing's answer instead.
type listingFetcher struct {
	servedFetcher
	tags map[string]string
	err  error
}

func (f *listingFetcher) TagDigests(context.Context, string) (map[string]string, bool, error) {
	if f.err != nil {
		return nil, false, f.err
	}
	return f.tags, true, nil
}

// TestDeriveFailureKeepsTheRelease: a roll-up step that fails transiently
// retries the job (its own mapping is posted again, harmlessly) and the retry
// moves the roll-ups; one that fails for good leaves the job mapped and the
// roll-ups to resync.
func TestDeriveFailureKeepsTheRelease(t *testing.T) {
	api := &oneStreamAPI{tags: map[string]bool{}}
	b, _, _ := newTestBridge(t, `
registries:
  - name: main
    url: http://127.0.0.1:1
    webhookToken: t
    derivedTags: {semver: true}
`, api)
	man, cfg := schema2Image(t)
	dgst := "sha256:" + strings.Repeat("ab", 32)
	f := &listingFetcher{servedFetcher: servedFetcher{manifest: man, config: cfg}, tags: map[string]string{"v1.2.3": dgst}}
	b.registries["main"].fetch = f
	j := &Job{ID: "1", Registry: "main", Repository: "team/app", Namespace: "team", Stream: "app", Tag: "v1.2.3", Digest: dgst}
	mapped := func() []string {
		api.mu.Lock()
		defer api.mu.Unlock()
		var out []string
		for _, m := range api.mapped {
			out = append(out, m.Tag)
		}
		return out
	}

	f.err = errors.New("connection reset by peer")
	err := b.apply(t.Context(), j, false)
	if o := classify(err); o.Result != Retried {
		t.Fatalf("a listing that failed transiently: outcome %+v (%v), want a retry", o, err)
	}
	if got := mapped(); !slices.Equal(got, []string{"v1.2.3"}) {
		t.Fatalf("mapped %v before the retry, want the release only", got)
	}
	f.err = nil
	if err := b.apply(t.Context(), j, false); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := mapped(); !slices.Equal(got, []string{"v1.2.3", "v1.2.3", "v1.2", "v1"}) {
		t.Fatalf("mapped %v after the retry, want the release twice, then v1.2 and v1", got)
	}

	f.err = fmt.Errorf("list tags: %w", ErrTooLarge)
	j.Tag = "v1.2.4"
	if err := b.apply(t.Context(), j, false); err != nil {
		t.Fatalf("a listing that failed for good failed the release: %v", err)
	}
	if got := mapped(); len(got) != 5 || got[4] != "v1.2.4" {
		t.Fatalf("mapped %v, want v1.2.4 mapped and no roll-up moved", got)
	}
}
