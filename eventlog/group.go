package eventlog

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/imagestream-bridge/imagestream-bridge/bridge"
)

// Group is a fairness group of the applier: the events of one registry for
// one cluster. Each group has its own subject in the event stream and its own
// consumer with a bounded window (Options.Window), so a group whose cluster is
// down fills only its own window while the rest of its events, and the other
// groups' deliveries, are not held back by it.
type Group struct {
	Registry, Cluster string
}

// groupOf is the group of a job.
func groupOf(j *bridge.Job) Group { return Group{Registry: j.Registry, Cluster: j.ClusterName()} }

// token is the group's part of its subject: REGISTRY.CLUSTER when both are
// configuration names (lower-case letters, digits and dashes, which a subject
// token may hold), else "_." and a hash (a job from a shared log may carry any
// string; "_" is never in a name, so the two forms never meet).
func (g Group) token() string {
	if plainName(g.Registry) && plainName(g.Cluster) {
		return g.Registry + "." + g.Cluster
	}
	h := sha256.Sum256([]byte(g.Registry + "\x00" + g.Cluster))
	return "_." + hex.EncodeToString(h[:12])
}

// plainName reports whether s is non-empty and only lower-case letters, digits and dashes.
func plainName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// groupSubjects is the wildcard of every group's subject.
func (l *Log) groupSubjects() string { return l.opts.Stream + ".events.>" }

// groupSubject is the subject a job of g is published to.
func (l *Log) groupSubject(g Group) string { return l.opts.Stream + ".events." + g.token() }

// legacySubject is the one subject of every event before the groups
// (kept in the stream so that the events an older version stored are consumed).
func (l *Log) legacySubject() string { return l.opts.Stream + ".events" }

// groupConsumerName is the durable consumer of a group subject (or of the
// legacy subject): the applier's name, "_" and the subject's group part with
// its dots as "_" (a consumer name holds no dot).
func (l *Log) groupConsumerName(subject string) string {
	if subject == l.legacySubject() {
		return l.consumerName() + "_legacy"
	}
	rest := strings.TrimPrefix(subject, l.opts.Stream+".events.")
	return l.consumerName() + "_" + strings.ReplaceAll(rest, ".", "_")
}
