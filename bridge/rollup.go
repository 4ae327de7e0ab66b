package bridge

import (
	"strconv"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/imagestream-bridge/imagestream-bridge/config"
)

// latestTag is the roll-up tag of the highest release of all (derivedTags.latest).
const latestTag = "latest"

// release is a tag that is a release: [v]MAJOR.MINOR.PATCH as config.ParseVersion
// reads it, with neither pre-release nor build metadata.
type release struct {
	tag     string
	prefix  string // "v" or ""
	version *semver.Version
}

// parseRelease reads tag as a release; ok is false for anything else
// (pre-releases, leading zeros, 1.2, non-semver tags).
func parseRelease(tag string) (release, bool) {
	v, ok := config.ParseVersion(tag)
	if !ok || v.Prerelease() != "" || v.Metadata() != "" {
		return release{}, false
	}
	r := release{tag: tag, version: v}
	if strings.HasPrefix(tag, "v") {
		r.prefix = "v"
	}
	return r, true
}

// lines are the roll-up tags r takes part in under d: [v]MAJOR.MINOR and
// [v]MAJOR (semver), then latest.
func (r release) lines(d config.DerivedTags) []string {
	var out []string
	if d.Semver {
		major := strconv.FormatUint(r.version.Major(), 10)
		out = append(out, r.prefix+major+"."+strconv.FormatUint(r.version.Minor(), 10), r.prefix+major)
	}
	if d.Latest {
		out = append(out, latestTag)
	}
	return out
}

// above reports whether r wins over o for one roll-up tag: the higher
// version; between equal versions (only latest compares prefixes), the
// v-prefixed tag.
func (r release) above(o release) bool {
	if c := r.version.Compare(o.version); c != 0 {
		return c > 0
	}
	return r.prefix > o.prefix
}

// rollups is the roll-up state of one repository, a pure function of its
// registry tag listing: each roll-up tag d derives mapped to the tag of the
// highest release of its line. Only releases that keep keeps take part (nil
// keeps every tag). A roll-up name that is itself one of the listed tags
// (filtered or not) is the registry's own tag and is never derived.
func rollups(tags []string, keep func(string) bool, d config.DerivedTags) map[string]string {
	if !d.Any() {
		return nil
	}
	listed := make(map[string]bool, len(tags))
	for _, t := range tags {
		listed[t] = true
	}
	best := map[string]release{}
	for _, t := range tags {
		r, ok := parseRelease(t)
		if !ok || (keep != nil && !keep(t)) {
			continue
		}
		for _, name := range r.lines(d) {
			if cur, ok := best[name]; !ok || r.above(cur) {
				best[name] = r
			}
		}
	}
	out := make(map[string]string, len(best))
	for name, r := range best {
		if !listed[name] {
			out[name] = r.tag
		}
	}
	return out
}

// isRollupName reports whether tag has the shape of a roll-up tag d derives:
// latest, or [v]MAJOR.MINOR and [v]MAJOR (numbers without leading zeros).
// Resync never removes such a tag as drift: the registry does not list it.
func isRollupName(tag string, d config.DerivedTags) bool {
	if tag == latestTag {
		return d.Latest
	}
	if !d.Semver {
		return false
	}
	parts := strings.Split(strings.TrimPrefix(tag, "v"), ".")
	if len(parts) > 2 {
		return false
	}
	for _, p := range parts {
		if p == "" || (len(p) > 1 && p[0] == '0') || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}
