package event

import (
	"fmt"
	"regexp"

	"github.com/opencontainers/go-digest"
)

// The distribution reference grammar for repository paths, and the docker tag grammar.
var (
	repositoryRE = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$`)
	tagRE        = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// maxRepositoryLen is distribution's limit on a repository name.
const maxRepositoryLen = 255

// ValidRepository reports whether s is a valid repository path. The bridge
// accepts an event only with a valid one; package registry asks for no other.
func ValidRepository(s string) bool {
	return len(s) <= maxRepositoryLen && repositoryRE.MatchString(s)
}

// ValidTag reports whether s is a valid docker tag.
func ValidTag(s string) bool { return tagRE.MatchString(s) }

// ParseDigest checks the algorithm and hex length of a digest.
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("parse digest: %w", err)
	}
	return d, nil
}
