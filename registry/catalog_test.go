package registry

import (
	"fmt"
	"slices"
	"testing"

	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

// TestCatalogBelowOurPageSize: a registry whose catalog.maxentries (5) is
// below our page size (100) refuses n=100 with PAGINATION_NUMBER_INVALID;
// the catalog is still listed whole, by the registry's own Link pages.
func TestCatalogBelowOurPageSize(t *testing.T) {
	reg, err := sandbox.StartRegistryWith(t.Context(), sandbox.Notify{}, sandbox.RegistryOptions{CatalogMaxEntries: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer reg.Close()
	img, err := sandbox.RandomImage(1, false, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 12 {
		repo := fmt.Sprintf("team/app%02d", i)
		if err := sandbox.Push(reg.Host, repo, "v1", img); err != nil {
			t.Fatal(err)
		}
		want = append(want, repo)
	}
	c := newClient(t, Config{URL: reg.URL}, Options{})
	got, err := c.Repositories(t.Context())
	if err != nil {
		t.Fatalf("list catalog: %v", err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("catalog %v, want %v", got, want)
	}
}
