// Package config loads, defaults and validates the bridge's YAML configuration.
//
// Decoding is strict: an unknown key is an error, and every validation error
// names the key that is wrong, so that a typo never silently turns a feature off.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/imagestream-bridge/imagestream-bridge/event"
)

// Config is the whole configuration file.
type Config struct {
	// ListenAddress serves notifications, /healthz, /readyz and /metrics. Default ":8080".
	ListenAddress string `json:"listenAddress"`
	// DataDir holds the embedded event log's file store (DataDir/nats): accepted events survive a crash. Empty keeps
	// the embedded log in memory only. Unused by a NATS cluster log except to import an old journal once. Default "".
	DataDir string `json:"dataDir"`
	// AdminSocket is the path of a Unix socket serving /admin/failed, /admin/replay and /admin/drop
	// (the failed command dials it). Never on the webhook listener. Default "": admin endpoints off.
	AdminSocket string `json:"adminSocket"`
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string `json:"logLevel"`
	// LogFormat is json or text. Default "json".
	LogFormat string `json:"logFormat"`
	// MaxBodyBytes caps a notification body; larger bodies get 413. Default 1 MiB, at most 4 MiB.
	MaxBodyBytes int64 `json:"maxBodyBytes"`
	// QueueSize bounds accepted-but-unapplied events; beyond it the webhook answers 503. Default 10000.
	QueueSize int `json:"queueSize"`
	// Workers is how many tags are applied in parallel. Default 8.
	Workers int `json:"workers"`
	// ResyncInterval is how often serve reconciles registry tags with image streams, after a pass at start; "0s" disables both. Default 10m.
	ResyncInterval *Duration `json:"resyncInterval"`
	// ShutdownTimeout bounds graceful shutdown, counted after shutdownDelay. Default 20s.
	ShutdownTimeout Duration `json:"shutdownTimeout"`
	// ShutdownDelay is how long serve keeps taking webhooks after SIGTERM with /readyz failing, so that a
	// load balancer stops sending to this replica before it stops listening. Default 5s with nats.url or
	// nats.urlFile (every replica takes webhooks), 0s with the embedded log (one replica: nobody to send to instead).
	ShutdownDelay *Duration `json:"shutdownDelay"`
	// TLS serves the listener over HTTPS when certFile and keyFile are set.
	TLS TLS `json:"tls"`
	// LeaderElection makes exactly one replica process events.
	LeaderElection LeaderElection `json:"leaderElection"`
	// Retry tunes the backoff of transient failures.
	Retry Retry `json:"retry"`
	// Registries are the senders the bridge accepts notifications from.
	Registries []Registry `json:"registries"`
	// OpenShift configures the API server client of the default cluster, named "default".
	OpenShift OpenShift `json:"openshift"`
	// OtherClusters (key clusters:) adds more clusters, each with its own API client; Clusters() lists
	// them all, the default first. Default: none (the default cluster only).
	OtherClusters []Cluster `json:"clusters"`
	// NATS configures the durable event log: an embedded nats-server (default) or a JetStream cluster.
	NATS NATS `json:"nats"`
}

// DefaultShutdownDelay is shutdownDelay's default with a shared (cluster) event log:
// longer than a load balancer's readiness period (Kubernetes: the endpoint update after
// the pod turns Terminating, typically well under a second; a probe every few seconds).
const DefaultShutdownDelay = 5 * time.Second

// TLS configures HTTPS serving. Files are re-read when they change.
type TLS struct {
	// CertFile and KeyFile enable HTTPS. Default "" (plain HTTP).
	CertFile string `json:"certFile"`
	KeyFile  string `json:"keyFile"`
}

// LeaderElection configures a coordination.k8s.io Lease.
type LeaderElection struct {
	// Enabled turns leader election on. Default false.
	Enabled bool `json:"enabled"`
	// Namespace of the Lease. Default: the pod's namespace (POD_NAMESPACE).
	Namespace string `json:"namespace"`
	// LeaseName. Default "imagestream-bridge".
	LeaseName string `json:"leaseName"`
	// LeaseDuration, RenewDeadline, RetryPeriod. Defaults 15s, 10s, 2s.
	LeaseDuration Duration `json:"leaseDuration"`
	RenewDeadline Duration `json:"renewDeadline"`
	RetryPeriod   Duration `json:"retryPeriod"`
}

// Retry configures capped exponential backoff with jitter.
type Retry struct {
	// InitialBackoff. Default 200ms.
	InitialBackoff Duration `json:"initialBackoff"`
	// MaxBackoff. Default 30s.
	MaxBackoff Duration `json:"maxBackoff"`
}

// Registry is one notification sender and the registry the bridge fetches from.
type Registry struct {
	// Name identifies the registry: its webhook is POST /notifications/NAME.
	Name string `json:"name"`
	// URL is where manifests and blobs are fetched (scheme, host and port only).
	URL string `json:"url"`
	// ReferenceHost is written into dockerImageReference. Default: the url's host.
	ReferenceHost string `json:"referenceHost"`
	// Sender names the product that posts the notifications: distribution (also GitLab), harbor, quay,
	// artifactory or acr. It decides the body format, how the token is presented, and which API of the
	// product lists tags with their digests for reconciliation (docs/registry.md). Default distribution.
	Sender string `json:"sender"`
	// WebhookToken or WebhookTokenFile: the token the sender presents (Authorization: Bearer TOKEN for
	// distribution and acr; see docs/senders.md for the others), or in the path /notifications/NAME/TOKEN.
	WebhookToken     string `json:"webhookToken"`
	WebhookTokenFile string `json:"webhookTokenFile"`
	// ClientCAFile, when set, also requires the sender to present a certificate signed by it (needs tls).
	ClientCAFile string `json:"clientCAFile"`
	// Namespaces is an allow-list of target namespaces (path.Match globs). Default: any.
	Namespaces []string `json:"namespaces"`
	// Mapping turns repository paths other than NS/STREAM into a namespace and stream.
	Mapping Mapping `json:"mapping"`
	// Repositories is listed by resync instead of the catalog API when set. Default: use the catalog.
	Repositories []string `json:"repositories"`
	// Username and Password or PasswordFile authenticate pulls (basic or token auth).
	Username     string `json:"username"`
	Password     string `json:"password"`
	PasswordFile string `json:"passwordFile"`
	// DockerConfigFile is a docker config.json with credentials for the registry host.
	DockerConfigFile string `json:"dockerConfigFile"`
	// CAFile verifies the registry's TLS certificate. Default: system roots.
	CAFile string `json:"caFile"`
	// InsecureSkipTLSVerify disables TLS verification towards the registry. Default false.
	InsecureSkipTLSVerify bool `json:"insecureSkipTLSVerify"`
	// RedirectHosts lists extra hosts that blob downloads may be redirected to (object storage). Default: none.
	RedirectHosts []string `json:"redirectHosts"`
	// Artifacts decides what happens to OCI artifacts (Helm charts, signatures, attestations, SBOMs):
	// "skip" (skip reason artifact) or "map" (mapped as OpenShift would store them). Default "skip".
	Artifacts string `json:"artifacts"`
	// TokenHosts lists extra hosts (host[:port]) whose token endpoint (the realm of a Bearer challenge)
	// may receive the pull credentials; https only for an https registry. Default: the registry's own host only.
	TokenHosts []string `json:"tokenHosts"`
	// FetchTimeout bounds one fetch in total (manifest and config), one tag lookup and one page of a
	// tag or catalog listing: set it a few seconds above the registry's normal latency. Default 10s.
	FetchTimeout Duration `json:"fetchTimeout"`
	// Clusters names the clusters its pushes go to ("default" or a name from clusters:). Default: every cluster.
	Clusters []string `json:"clusters"`
	// DeleteTags makes a tag delete event (and resync) delete the ImageStreamTag in each target cluster
	// once the registry no longer has the tag. Default false: delete events are skipped.
	DeleteTags bool `json:"deleteTags"`
	// DeleteTagsMaxShare is the largest share of one image stream's tags that one resync pass may
	// remove (with deleteTags): a pass that would remove more removes none of that stream's tags,
	// logs why and counts it. 1 allows any share. Default 0.5.
	DeleteTagsMaxShare float64 `json:"deleteTagsMaxShare"`
	// Resync is resync's request budget towards this registry.
	Resync Resync `json:"resync"`
	// MaxTagsPerStream: a push that would add a tag to an image stream that has this many tags already
	// (in that cluster) is skipped with reason tag_limit; its existing tags keep moving and no tag is
	// ever deleted to make room. Costs one GET of the stream per push. Default 0: no limit.
	MaxTagsPerStream int `json:"maxTagsPerStream"`
	// Streams is how an image stream the bridge creates (openshift.createImageStreams) looks; a stream
	// that exists is left as it is.
	Streams Streams `json:"streams"`
	// Tags chooses which of the registry's tags become image stream tags (docs/registry.md, "Tag policy").
	// Default: every tag.
	Tags Tags `json:"tags"`
	// DerivedTags moves roll-up tags (v1.2, v1, latest) to the highest release of their line
	// (docs/registry.md, "Tag policy"). Default: none.
	DerivedTags DerivedTags `json:"derivedTags"`
}

// DerivedTags chooses the roll-up tags the bridge derives from a registry's
// release tags ([v]MAJOR.MINOR.PATCH, no pre-release) that its tags filter
// keeps. A roll-up name the registry has as a tag of its own is never derived.
type DerivedTags struct {
	// Semver maps [v]MAJOR.MINOR and [v]MAJOR to the highest release of that line (same prefix). Default false.
	Semver bool `json:"semver"`
	// Latest maps latest to the highest release of all (on a tie, the v-prefixed tag). Default false.
	Latest bool `json:"latest"`
}

// Any reports whether any roll-up tag is derived.
func (d DerivedTags) Any() bool { return d.Semver || d.Latest }

// Streams is applied to an image stream when the bridge creates it, never to
// one that exists.
type Streams struct {
	// LookupPolicyLocal sets spec.lookupPolicy.local, as `oc set image-lookup` does: plain Deployments,
	// Jobs and Pods in the namespace can name the stream's tags as images. Default false.
	LookupPolicyLocal bool `json:"lookupPolicyLocal"`
	// Labels are set on a created stream (Kubernetes label syntax). Default: none.
	Labels map[string]string `json:"labels"`
	// Annotations are set on a created stream (Kubernetes annotation syntax). Default: none.
	Annotations map[string]string `json:"annotations"`
}

// Tags is a registry's tag filter. A tag becomes an image stream tag when it
// matches an include glob (or include is empty), matches no exclude glob, and,
// with semver set, is a semantic version that satisfies it. A tag it filters
// out is skipped (reason filtered) and resync neither creates nor deletes it.
type Tags struct {
	// Include lists path.Match globs; a tag must match one. Default: none (every tag).
	Include []string `json:"include"`
	// Exclude lists path.Match globs; a tag matching one is filtered out even when included. Default: none.
	Exclude []string `json:"exclude"`
	// Semver is a Masterminds/semver constraint (">=1.2 <2", "~1.4", "^2"): only tags that are
	// MAJOR.MINOR.PATCH versions (optional pre-release and build metadata, one optional leading "v",
	// no leading zeros) and satisfy it are kept. Default "": no version rule.
	Semver string `json:"semver"`
}

// Resync bounds what one resync pass asks of one registry.
type Resync struct {
	// RequestsPerSecond bounds resync's registry requests (catalog and tag pages, tag lookups). Default 1000.
	RequestsPerSecond float64 `json:"requestsPerSecond"`
	// Concurrency is how many repositories resync checks at once. Default 8.
	Concurrency int `json:"concurrency"`
	// IdleTagAfter: a tag whose image stream tag, in every target cluster, was last moved longer ago
	// than this is idle: resync asks the registry for its digest only every IdleTagEvery passes. Default 24h.
	IdleTagAfter Duration `json:"idleTagAfter"`
	// IdleTagEvery is how often (in passes) resync checks an idle tag; 1 checks every tag on every pass. Default 4.
	IdleTagEvery int `json:"idleTagEvery"`
}

// Values of Registry.Artifacts.
const (
	ArtifactsSkip = "skip"
	ArtifactsMap  = "map"
)

// Mapping rules, applied in order: StripPrefix, then Namespace, then Join.
type Mapping struct {
	// StripPrefix removes leading path components, e.g. "mirror/". Default "".
	StripPrefix string `json:"stripPrefix"`
	// Namespace maps every repository of the registry into this namespace; the whole remaining
	// path becomes the stream name (joined with Join). Default "": the first component is the namespace.
	Namespace string `json:"namespace"`
	// Join joins the path components after the namespace into the stream name, e.g. "-" maps
	// team/group/app to namespace team, stream group-app. Default "": deeper paths are skipped.
	Join string `json:"join"`
}

// OpenShift configures the API server client.
type OpenShift struct {
	// Kubeconfig path. Default "": $KUBECONFIG when set, else the in-cluster service account.
	Kubeconfig string `json:"kubeconfig"`
	// CreateImageStreams creates a missing image stream on first push. Default true.
	CreateImageStreams *bool `json:"createImageStreams"`
	// CreateChildImages creates the Image of every child of a manifest list (needs cluster-wide create on images). Default false.
	CreateChildImages bool `json:"createChildImages"`
	// ManagedImages is deprecated and ignored (Warnings reports it): the bridge never sets openshift.io/image.managed,
	// since on an image the integrated registry does not hold it makes the server point every later mapping of the
	// digest at the integrated registry. Accepted so that existing configs stay valid. Default false.
	ManagedImages bool `json:"managedImages"`
	// QPS and Burst of the client-side rate limiter (one mapping is one request). Defaults 300 and 600.
	QPS   float32 `json:"qps"`
	Burst int     `json:"burst"`
	// Timeout of one API request. Default 10s.
	Timeout Duration `json:"timeout"`
}

// Duration is a time.Duration written as "10s" in YAML.
type Duration struct{ time.Duration }

// UnmarshalJSON accepts Go duration strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		d.Duration = 0
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("invalid duration %q", s)
	}
	d.Duration = v
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) { return []byte(`"` + d.String() + `"`), nil }

// CreateStreams reports whether missing image streams are created.
func (o OpenShift) CreateStreams() bool { return o.CreateImageStreams == nil || *o.CreateImageStreams }

// MaxBody is the hard ceiling on notification bodies.
const MaxBody = 4 << 20

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// Load reads, decodes strictly, defaults and validates a config file.
func Load(file string) (*Config, error) {
	c, err := Read(file)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Read is Load for callers that check more and report it together: it
// returns the decoded, defaulted config along with every problem found, or a
// nil config when the file cannot be read.
func Read(file string) (*Config, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return parse(b)
}

// Parse decodes strictly, defaults and validates config bytes. The error,
// when there is one, joins every problem found (errors.Join), each naming its
// key path; decoding problems come first.
func Parse(b []byte) (*Config, error) {
	c, err := parse(b)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Complete defaults and validates a Config built in code, as Parse does for YAML.
func (c *Config) Complete() error {
	c.setDefaults()
	return c.Validate()
}

func parse(b []byte) (*Config, error) {
	var c Config
	decErr := decode(b, &c)
	if errors.Is(decErr, errNotYAML) {
		return nil, decErr
	}
	c.setDefaults()
	valErr := c.Validate()
	if decErr == nil && valErr == nil {
		return &c, nil
	}
	// A key that could not be decoded is at its default: leave out what
	// validation says about it, the decoding error already names it.
	errs := unjoin(decErr)
	for _, v := range unjoin(valErr) {
		if !coveredBy(v, errs) {
			errs = append(errs, v)
		}
	}
	return &c, errors.Join(errs...)
}

func (c *Config) setDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	defD := func(d *Duration, v time.Duration) {
		if d.Duration == 0 {
			d.Duration = v
		}
	}
	def(&c.ListenAddress, ":8080")
	def(&c.LogLevel, "info")
	def(&c.LogFormat, "json")
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.QueueSize == 0 {
		c.QueueSize = 10000
	}
	if c.Workers == 0 {
		c.Workers = 8
	}
	defD(&c.ShutdownTimeout, 20*time.Second)
	if c.ShutdownDelay == nil {
		c.ShutdownDelay = &Duration{}
		if !c.NATS.Embedded() {
			c.ShutdownDelay.Duration = DefaultShutdownDelay
		}
	}
	if c.ResyncInterval == nil {
		c.ResyncInterval = &Duration{10 * time.Minute}
	}
	defD(&c.Retry.InitialBackoff, 200*time.Millisecond)
	defD(&c.Retry.MaxBackoff, 30*time.Second)
	le := &c.LeaderElection
	def(&le.LeaseName, "imagestream-bridge")
	def(&le.Namespace, os.Getenv("POD_NAMESPACE"))
	defD(&le.LeaseDuration, 15*time.Second)
	defD(&le.RenewDeadline, 10*time.Second)
	defD(&le.RetryPeriod, 2*time.Second)
	c.OpenShift.setDefaults()
	c.NATS.setDefaults()
	for i := range c.OtherClusters {
		c.OtherClusters[i].OpenShift.setDefaults()
	}
	for i := range c.Registries {
		r := &c.Registries[i]
		def(&r.Artifacts, ArtifactsSkip)
		def(&r.Sender, string(event.Distribution))
		if u, err := url.Parse(r.URL); err == nil && r.ReferenceHost == "" {
			r.ReferenceHost = u.Host
		}
		defD(&r.FetchTimeout, 10*time.Second)
		if r.DeleteTagsMaxShare == 0 {
			r.DeleteTagsMaxShare = 0.5
		}
		if r.Resync.RequestsPerSecond == 0 {
			r.Resync.RequestsPerSecond = 1000
		}
		if r.Resync.Concurrency == 0 {
			r.Resync.Concurrency = 8
		}
		defD(&r.Resync.IdleTagAfter, 24*time.Hour)
		if r.Resync.IdleTagEvery == 0 {
			r.Resync.IdleTagEvery = 4
		}
	}
}

// Redacted returns a YAML dump of the config with every secret replaced.
func (c *Config) Redacted() ([]byte, error) {
	cp := *c
	cp.Registries = append([]Registry(nil), c.Registries...)
	for i := range cp.Registries {
		if cp.Registries[i].WebhookToken != "" {
			cp.Registries[i].WebhookToken = "REDACTED"
		}
		if cp.Registries[i].Password != "" {
			cp.Registries[i].Password = "REDACTED"
		}
	}
	cp.NATS.URL = redactURL(cp.NATS.URL)
	emptyNotNull(reflect.ValueOf(&cp).Elem())
	b, err := yaml.Marshal(cp)
	if err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return bytes.TrimSpace(b), nil
}

// emptyNotNull sets nil slices and maps to empty ones, so that the dump shows
// the effective value ([]), not null. v is a copy the caller owns.
func emptyNotNull(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				emptyNotNull(v.Field(i))
			}
		}
	case reflect.Slice:
		if v.IsNil() {
			v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		}
		for i := range v.Len() {
			emptyNotNull(v.Index(i))
		}
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
	}
}

// Write prints the redacted config with every effective value.
func (c *Config) Write(w io.Writer) error {
	b, err := c.Redacted()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
