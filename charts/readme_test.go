package charts

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	yaml3 "sigs.k8s.io/yaml/goyaml.v3"
)

var update = flag.Bool("update", false, "rewrite the values table of charts/imagestream-bridge/README.md")

const (
	readmeBegin = "<!-- values:begin (generated from values.yaml by `go -C charts test -run TestReadmeValues -update .`) -->\n"
	readmeEnd   = "<!-- values:end -->\n"
)

// TestReadmeValues checks that the chart README's values table is the one values.yaml gives:
// every value with its default and its "# --" comment, as helm-docs would print it.
func TestReadmeValues(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml3.Node
	if err := yaml3.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var table bytes.Buffer
	table.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	valueRows(t, &table, "", doc.Content[0])

	path := filepath.Join(chartDir, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no chart README (helm show readme is empty): %v", err)
	}
	before, rest, ok1 := strings.Cut(string(readme), readmeBegin)
	_, after, ok2 := strings.Cut(rest, readmeEnd)
	if !ok1 || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q", path, readmeBegin, readmeEnd)
	}
	want := before + readmeBegin + table.String() + readmeEnd + after
	if want == string(readme) {
		return
	}
	if *update {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s: the values table is not the one values.yaml gives; run go -C charts test -run TestReadmeValues -update .", path)
}

// valueRows writes a row for every leaf (a scalar, a list, an empty map) and for every
// commented map, recursing into maps.
func valueRows(t *testing.T, w *bytes.Buffer, prefix string, m *yaml3.Node) {
	t.Helper()
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := prefix + k.Value
		desc := description(k.HeadComment)
		if v.Kind == yaml3.MappingNode && len(v.Content) > 0 {
			if desc != "" {
				fmt.Fprintf(w, "| `%s` | object | see below | %s |\n", key, desc)
			}
			valueRows(t, w, key+".", v)
			continue
		}
		var val any
		if err := v.Decode(&val); err != nil {
			t.Fatal(err)
		}
		def, _ := json.Marshal(val)
		typ := map[string]string{"!!str": "string", "!!int": "int", "!!bool": "bool", "!!null": "null", "!!map": "object", "!!seq": "list", "!!float": "float"}[v.Tag]
		fmt.Fprintf(w, "| `%s` | %s | `%s` | %s |\n", key, typ, strings.ReplaceAll(string(def), "|", "\\|"), desc)
	}
}

// description is the text after "# --" in a key's head comment (helm-docs' convention).
func description(comment string) string {
	var lines []string
	in := false
	for _, l := range strings.Split(comment, "\n") {
		l = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "#"))
		if rest, ok := strings.CutPrefix(l, "-- "); ok {
			in, lines = true, []string{rest}
			continue
		}
		if in && l != "" {
			lines = append(lines, l)
		}
	}
	return strings.ReplaceAll(strings.Join(lines, " "), "|", "\\|")
}
