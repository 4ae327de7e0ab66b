package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/distribution/distribution/v3/notifications"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	imagev1 "github.com/openshift/api/image/v1"
	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

const (
	namespace = "bench"
	// repos is how many repositories (and image streams) the images are spread over.
	repos = 32
)

// image is one pre-pushed image: its repository and the descriptors of its
// manifest, config and layer.
type image struct {
	repo, stream            string
	manifest, config, layer ocispec.Descriptor
}

// fixture is the pre-filled registry: M images that share one layer and
// differ in their config, so every image has its own manifest and config digest.
type fixture struct {
	reg    *sandbox.Registry
	base   v1.Image
	baseCF *v1.ConfigFile
	images []image
}

func repoName(i int) (repo, stream string) {
	stream = fmt.Sprintf("app%02d", i%repos)
	return namespace + "/" + stream, stream
}

// newFixture builds the base image; grow pushes the images.
func newFixture(reg *sandbox.Registry) (*fixture, error) {
	base, err := sandbox.RandomImage(1, false, "amd64")
	if err != nil {
		return nil, err
	}
	cf, err := base.ConfigFile()
	return &fixture{reg: reg, base: base, baseCF: cf}, err
}

// imageAt builds image i deterministically from the base.
func (f *fixture) imageAt(i int) (v1.Image, error) {
	cf := f.baseCF.DeepCopy()
	cf.Config.Labels["bench.image"] = strconv.Itoa(i)
	return mutate.ConfigFile(f.base, cf)
}

// grow pushes images by digest until there are n, 8 at a time through one remote.Pusher.
func (f *fixture) grow(ctx context.Context, n int, progress func(done int)) error {
	from := len(f.images)
	f.images = append(f.images, make([]image, max(0, n-from))...)
	pusher, err := remote.NewPusher(remote.WithTransport(&http.Transport{MaxIdleConnsPerHost: 16}))
	if err != nil {
		return err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i := from; i < n; i++ {
		g.Go(func() error {
			img, err := f.imageAt(i)
			if err != nil {
				return err
			}
			repo, stream := repoName(i)
			if _, err := sandbox.PushByDigest(f.reg.Host, repo, img, remote.Reuse(pusher), remote.WithContext(gctx)); err != nil {
				return fmt.Errorf("push image %d: %w", i, err)
			}
			m, err := img.Manifest()
			if err != nil {
				return err
			}
			d, err := partial.Descriptor(img)
			if err != nil {
				return err
			}
			f.images[i] = image{repo: repo, stream: stream, manifest: oci(*d), config: oci(m.Config), layer: oci(m.Layers[0])}
			return nil
		})
		if (i+1)%5000 == 0 {
			progress(i + 1)
		}
	}
	return g.Wait()
}

func oci(d v1.Descriptor) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: string(d.MediaType), Digest: digest.Digest(d.Digest.String()), Size: d.Size}
}

// tsLayout is a fixed-width RFC 3339 time, so a timestamp can be written into a prebuilt body.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

var tsPlaceholder = time.Date(2000, 1, 1, 0, 0, 0, 123456789, time.UTC)

// event is one planned notification.
type event struct {
	img  int
	tag  string
	body []byte
	tsAt int // where the timestamp is in body
	sent time.Time
}

// buildEvent renders the envelope the registry sends for a tagged manifest
// push (one event, indented with three spaces like the registry's http sink,
// references included), with a placeholder timestamp that stamp overwrites.
func (f *fixture) buildEvent(img int, tag, id string) (*event, error) {
	im := &f.images[img]
	ev := notifications.Event{ID: id, Timestamp: tsPlaceholder, Action: notifications.EventActionPush}
	ev.Target.Descriptor = im.manifest
	ev.Target.Length = im.manifest.Size
	ev.Target.Repository = im.repo
	ev.Target.URL = f.reg.URL + "/v2/" + im.repo + "/manifests/" + im.manifest.Digest.String()
	ev.Target.Tag = tag
	ev.Target.References = []ocispec.Descriptor{im.config, im.layer}
	ev.Request = notifications.RequestRecord{ID: id[:8] + "-req", Addr: "127.0.0.1:40000", Host: f.reg.Host,
		Method: http.MethodPut, UserAgent: "go-containerregistry/v0.22.1"}
	ev.Source = notifications.SourceRecord{Addr: "bench-registry:5000", InstanceID: "00000000-bench-registry"}
	b, err := json.MarshalIndent(struct {
		Events []notifications.Event `json:"events"`
	}{[]notifications.Event{ev}}, "", "   ")
	if err != nil {
		return nil, err
	}
	at := bytes.Index(b, []byte(tsPlaceholder.Format(tsLayout)))
	if at < 0 {
		return nil, fmt.Errorf("timestamp placeholder not found in envelope")
	}
	return &event{img: img, tag: tag, body: b, tsAt: at}, nil
}

// stamp writes now as the event's timestamp.
func (e *event) stamp(now time.Time) {
	e.sent = now
	now.UTC().AppendFormat(e.body[e.tsAt:e.tsAt], tsLayout)
}

const tagPlaceholder = `"benchtagplaceholder"`

// mappingBody is the ImageStreamMapping the bridge would post for image i,
// JSON-encoded, with tagPlaceholder for the tag.
func (f *fixture) mappingBody(i int) ([]byte, error) {
	img, err := f.imageAt(i)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, err
	}
	craw, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	im := &f.images[i]
	ism, _, err := mapping.Build(mapping.Input{
		Namespace: namespace, Stream: im.stream, Tag: tagPlaceholder[1 : len(tagPlaceholder)-1], Repository: im.repo, ReferenceHost: f.reg.Host,
		Digest: im.manifest.Digest.String(), MediaType: im.manifest.MediaType, Manifest: raw, Config: craw, Now: time.Now,
	})
	if err != nil {
		return nil, err
	}
	ism.TypeMeta = metav1.TypeMeta{Kind: "ImageStreamMapping", APIVersion: imagev1.GroupVersion.String()}
	return json.Marshal(ism)
}
