package config

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// decode fills c from YAML bytes. It walks the YAML node tree against the
// struct's json tags itself, so that keys match exactly (case too: JSON
// decoders match field names case-insensitively, which would let `kubeConfig:`
// be accepted and ignored), and every problem is reported at once with the
// full key path, the line and the expected form.
func decode(b []byte, c *Config) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return fmt.Errorf("%w: %s", errNotYAML, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil // an empty file: validation says what is missing
	}
	d := &decoder{}
	d.value("", doc.Content[0], reflect.ValueOf(c).Elem())
	return errors.Join(d.errs...)
}

var errNotYAML = errors.New("invalid config: not YAML")

type decoder struct{ errs []error }

func (d *decoder) fail(path string, n *yaml.Node, format string, a ...any) {
	if path == "" {
		path = "(top level)"
	}
	d.errs = append(d.errs, &FieldError{Key: path, Problem: fmt.Sprintf(format, a...) + fmt.Sprintf(" (line %d)", n.Line)})
}

var durationType = reflect.TypeFor[Duration]()

// value decodes n into v, which is addressable.
func (d *decoder) value(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // key present without a value: the default applies
	}
	if v.Kind() == reflect.Pointer {
		p := reflect.New(v.Type().Elem())
		d.value(path, n, p.Elem())
		v.Set(p)
		return
	}
	if v.Type() == durationType {
		s, ok := d.scalar(path, n, `a duration such as "30s", "10m" or "1h30m"`)
		if !ok {
			return
		}
		dur, err := time.ParseDuration(s)
		if err != nil || n.Tag != "!!str" && s != "0" {
			// A bare number has no unit: "10" could mean seconds or minutes.
			d.fail(path, n, `must be a duration with a unit such as "30s", "10m" or "1h30m", got %q`, s)
			return
		}
		v.Set(reflect.ValueOf(Duration{dur}))
		return
	}
	switch v.Kind() {
	case reflect.Struct:
		d.object(path, n, v)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.fail(path, n, "must be a list, got %s", describe(n))
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, item := range n.Content {
			d.value(fmt.Sprintf("%s[%d]", path, i), item, s.Index(i))
		}
		v.Set(s)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.fail(path, n, "must be a map, got %s", describe(n))
			return
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			e := reflect.New(v.Type().Elem()).Elem()
			d.value(path+"."+k, n.Content[i+1], e)
			m.SetMapIndex(reflect.ValueOf(k).Convert(v.Type().Key()), e)
		}
		v.Set(m)
	case reflect.String:
		if s, ok := d.scalar(path, n, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		s, ok := d.scalar(path, n, "true or false")
		if !ok {
			return
		}
		if n.Tag != "!!bool" {
			d.fail(path, n, "must be true or false, got %q", s)
			return
		}
		v.SetBool(s == "true" || s == "True" || s == "TRUE")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		s, ok := d.scalar(path, n, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil || n.Tag != "!!int" {
			d.fail(path, n, "must be a whole number, got %q", s)
			return
		}
		v.SetInt(i)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		s, ok := d.scalar(path, n, "a whole number")
		if !ok {
			return
		}
		i, err := strconv.ParseUint(strings.ReplaceAll(s, "_", ""), 0, v.Type().Bits())
		if err != nil || n.Tag != "!!int" {
			d.fail(path, n, "must be a whole number, not negative, got %q", s)
			return
		}
		v.SetUint(i)
	case reflect.Float32, reflect.Float64:
		s, ok := d.scalar(path, n, "a number")
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(s, v.Type().Bits())
		if err != nil || n.Tag != "!!int" && n.Tag != "!!float" || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(path, n, "must be a number, got %q", s)
			return
		}
		v.SetFloat(f)
	default:
		d.fail(path, n, "cannot be decoded into %s (a bug)", v.Type())
	}
}

// object decodes a mapping node into a struct by exact json-tag match.
func (d *decoder) object(path string, n *yaml.Node, v reflect.Value) {
	if n.Kind != yaml.MappingNode {
		d.fail(path, n, "must be a map of keys, got %s", describe(n))
		return
	}
	fields := map[string][]int{}
	var known []string
	for _, f := range reflect.VisibleFields(v.Type()) {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue // an embedded struct's keys are its fields' (as encoding/json inlines them)
		}
		fields[name] = f.Index
		known = append(known, name)
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		key := kn.Value
		sub := key
		if path != "" {
			sub = path + "." + key
		}
		if kn.Kind == yaml.ScalarNode && kn.Value == "<<" {
			d.fail(sub, kn, "merge keys are not supported")
			continue
		}
		if seen[key] {
			d.fail(sub, kn, "set twice")
			continue
		}
		seen[key] = true
		idx, ok := fields[key]
		if !ok {
			d.fail(sub, kn, "unknown key%s", suggest(key, known))
			continue
		}
		d.value(sub, vn, v.FieldByIndex(idx))
	}
}

// scalar returns a scalar node's text, or reports that want was expected.
func (d *decoder) scalar(path string, n *yaml.Node, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(path, n, "must be %s, got %s", want, describe(n))
		return "", false
	}
	return n.Value, true
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a map"
	case yaml.SequenceNode:
		return "a list"
	default:
		return strconv.Quote(n.Value)
	}
}

// suggest names a known key that differs from key only in case, or by one
// or two edits, the usual typos.
func suggest(key string, known []string) string {
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf(` (keys are case-sensitive: did you mean %q?)`, k)
		}
	}
	best, bestD := "", 3
	for _, k := range known {
		if dist := editDistance(strings.ToLower(key), strings.ToLower(k)); dist < bestD {
			best, bestD = k, dist
		}
	}
	if best != "" {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return fmt.Sprintf(" (known keys: %s)", strings.Join(known, ", "))
}

// editDistance is the optimal string alignment distance (a transposition counts once).
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range rb {
		d[0][j+1] = j + 1
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}
