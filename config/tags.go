package config

import (
	"fmt"
	"path"
	"strings"

	"github.com/Masterminds/semver/v3"
)

// validateTags checks a registry's tag filter: every glob compiles and the
// semver constraint parses.
func validateTags(key string, t Tags, bad func(key, format string, a ...any)) {
	for _, list := range []struct {
		name  string
		globs []string
	}{{"include", t.Include}, {"exclude", t.Exclude}} {
		for i, g := range list.globs {
			if g == "" {
				bad(fmt.Sprintf("%s.%s[%d]", key, list.name, i), "must not be empty")
			} else if _, err := path.Match(g, "x"); err != nil {
				bad(fmt.Sprintf("%s.%s[%d]", key, list.name, i), "bad glob %q (path.Match syntax)", g)
			}
		}
	}
	if t.Semver != "" {
		if _, err := semver.NewConstraint(t.Semver); err != nil {
			bad(key+".semver", "bad constraint %q: %v", t.Semver, err)
		}
	}
}

// TagFilter is a compiled Tags.
type TagFilter struct {
	include, exclude []string
	constraint       *semver.Constraints
}

// Filter compiles t; Validate has checked it, so an error is only for a Tags
// that was not validated.
func (t Tags) Filter() (*TagFilter, error) {
	f := &TagFilter{include: t.Include, exclude: t.Exclude}
	if t.Semver != "" {
		c, err := semver.NewConstraint(t.Semver)
		if err != nil {
			return nil, fmt.Errorf("parse semver constraint %q: %w", t.Semver, err)
		}
		f.constraint = c
	}
	return f, nil
}

// Keeps reports whether tag becomes an image stream tag: exclude wins over
// include, an empty include keeps every tag, and a semver constraint keeps
// only versions that satisfy it. A nil filter keeps every tag.
func (f *TagFilter) Keeps(tag string) bool {
	if f == nil {
		return true
	}
	for _, g := range f.exclude {
		if ok, _ := path.Match(g, tag); ok {
			return false
		}
	}
	if len(f.include) > 0 {
		in := false
		for _, g := range f.include {
			if ok, _ := path.Match(g, tag); ok {
				in = true
				break
			}
		}
		if !in {
			return false
		}
	}
	if f.constraint == nil {
		return true
	}
	v, ok := ParseVersion(tag)
	return ok && f.constraint.Check(v)
}

// ParseVersion parses a tag as a semantic version: MAJOR.MINOR.PATCH with an
// optional pre-release and build metadata, after one optional leading "v".
// Leading zeros, missing parts (1.2) and anything else are not versions.
func ParseVersion(tag string) (*semver.Version, bool) {
	v, err := semver.StrictNewVersion(strings.TrimPrefix(tag, "v"))
	if err != nil {
		return nil, false
	}
	return v, true
}
