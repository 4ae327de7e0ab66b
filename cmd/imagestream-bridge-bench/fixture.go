package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3/notifications"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/imagestream-bridge/imagestream-bridge/bridge/mapping"
	"github.com/imagestream-bridge/imagestream-bridge/sandbox"
)

const (
	namespace = "bench"
	// repos is how many repositories (and image streams) the images are spread over.
	repos = 32
)

// image is one pre-pushed image; everything an event or the floor needs.
type image struct {
	repo, stream    string
	digest          string
	mediaType       string
	size            int64
	configDigest    string
	configMediaType string
	configSize      int64
}

// fixture is the pre-filled registry: M images that share one layer and
// differ in their config, so every image has its own manifest and config digest.
type fixture struct {
	reg    *sandbox.Registry
	base   v1.Image
	baseCF *v1.ConfigFile
	layer  ocispec.Descriptor
	images []image
}

func repoName(i int) (repo, stream string) {
	stream = fmt.Sprintf("app%02d", i%repos)
	return namespace + "/" + stream, stream
}

// imageAt builds image i deterministically from the base.
func (f *fixture) imageAt(i int) (v1.Image, error) {
	cf := f.baseCF.DeepCopy()
	cf.Config.Labels["bench.image"] = strconv.Itoa(i)
	return mutate.ConfigFile(f.base, cf)
}

// newFixture builds the base image; grow pushes the images.
func newFixture(reg *sandbox.Registry) (*fixture, error) {
	base, err := sandbox.RandomImage(1, false, "amd64")
	if err != nil {
		return nil, err
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, err
	}
	layers, err := base.Layers()
	if err != nil {
		return nil, err
	}
	ld, err := layers[0].Digest()
	if err != nil {
		return nil, err
	}
	lsz, _ := layers[0].Size()
	lmt, _ := layers[0].MediaType()
	return &fixture{reg: reg, base: base, baseCF: cf,
		layer: ocispec.Descriptor{MediaType: string(lmt), Digest: digest.Digest(ld.String()), Size: lsz}}, nil
}

// grow pushes images until there are n, with remote.Write (through one
// remote.Pusher), 8 at a time.
func (f *fixture) grow(ctx context.Context, n int, progress func(done int)) error {
	from := len(f.images)
	if n <= from {
		return nil
	}
	f.images = append(f.images, make([]image, n-from)...)
	pusher, err := remote.NewPusher(remote.WithTransport(&http.Transport{MaxIdleConnsPerHost: 16}))
	if err != nil {
		return err
	}
	var next, done atomic.Int64
	next.Store(int64(from))
	done.Store(int64(from))
	var wg sync.WaitGroup
	errc := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f.push(ctx, pusher, i); err != nil {
					errc <- err
					return
				}
				if d := done.Add(1); progress != nil && d%5000 == 0 {
					progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	return ctx.Err()
}

func (f *fixture) push(ctx context.Context, pusher *remote.Pusher, i int) error {
	img, err := f.imageAt(i)
	if err != nil {
		return err
	}
	d, err := img.Digest()
	if err != nil {
		return err
	}
	mt, _ := img.MediaType()
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	cd, err := img.ConfigName()
	if err != nil {
		return err
	}
	craw, err := img.RawConfigFile()
	if err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	repo, stream := repoName(i)
	ref, err := name.NewDigest(f.reg.Host+"/"+repo+"@"+d.String(), name.Insecure)
	if err != nil {
		return err
	}
	if err := pusher.Push(ctx, ref, img); err != nil {
		return fmt.Errorf("push image %d: %w", i, err)
	}
	f.images[i] = image{
		repo: repo, stream: stream, digest: d.String(), mediaType: string(mt), size: int64(len(raw)),
		configDigest: cd.String(), configMediaType: string(m.Config.MediaType), configSize: int64(len(craw)),
	}
	return nil
}

// tsLayout is a fixed-width RFC 3339 time, so a timestamp can be written into a prebuilt body.
const tsLayout = "2006-01-02T15:04:05.000000000Z"

var tsPlaceholder = time.Date(2000, 1, 1, 0, 0, 0, 123456789, time.UTC)

// event is one planned notification.
type event struct {
	img  int
	tag  string
	body []byte
	// tsAt is where the timestamp is in body.
	tsAt int
	sent time.Time
}

// envelope is notifications.Envelope with a concrete event type (same JSON).
type envelope struct {
	Events []notifications.Event `json:"events,omitempty"`
}

// buildEvent renders the envelope the registry sends for a tagged manifest
// push (one event, indented with three spaces like the registry's http sink,
// references included), with a placeholder timestamp that stamp overwrites.
func (f *fixture) buildEvent(img int, tag, id string) (*event, error) {
	im := &f.images[img]
	ev := notifications.Event{ID: id, Timestamp: tsPlaceholder, Action: notifications.EventActionPush}
	ev.Target.MediaType = im.mediaType
	ev.Target.Digest = digest.Digest(im.digest)
	ev.Target.Size = im.size
	ev.Target.Length = im.size
	ev.Target.Repository = im.repo
	ev.Target.URL = f.reg.URL + "/v2/" + im.repo + "/manifests/" + im.digest
	ev.Target.Tag = tag
	ev.Target.References = []ocispec.Descriptor{
		{MediaType: im.configMediaType, Digest: digest.Digest(im.configDigest), Size: im.configSize},
		f.layer,
	}
	ev.Request = notifications.RequestRecord{ID: id[:8] + "-req", Addr: "127.0.0.1:40000", Host: f.reg.Host,
		Method: http.MethodPut, UserAgent: "go-containerregistry/v0.22.1"}
	ev.Source = notifications.SourceRecord{Addr: "bench-registry:5000", InstanceID: "00000000-bench-registry"}
	b, err := json.MarshalIndent(envelope{Events: []notifications.Event{ev}}, "", "   ")
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

// mappingBody is the ImageStreamMapping the bridge would post for image i,
// JSON-encoded, split around the tag so that the floor can post it for any tag.
type mappingBody struct{ before, after []byte }

const tagPlaceholder = "benchtagplaceholder"

func (f *fixture) mappingBody(i int) (mappingBody, error) {
	img, err := f.imageAt(i)
	if err != nil {
		return mappingBody{}, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return mappingBody{}, err
	}
	craw, err := img.RawConfigFile()
	if err != nil {
		return mappingBody{}, err
	}
	im := &f.images[i]
	ism, _, err := mapping.Build(mapping.Input{
		Namespace: namespace, Stream: im.stream, Tag: tagPlaceholder, Repository: im.repo, ReferenceHost: f.reg.Host,
		Digest: im.digest, MediaType: im.mediaType, Manifest: raw, Config: craw, Now: time.Now,
	})
	if err != nil {
		return mappingBody{}, err
	}
	ism.TypeMeta = metav1.TypeMeta{Kind: "ImageStreamMapping", APIVersion: imagev1.GroupVersion.String()}
	b, err := json.Marshal(ism)
	if err != nil {
		return mappingBody{}, err
	}
	before, after, ok := bytes.Cut(b, []byte(`"`+tagPlaceholder+`"`))
	if !ok {
		return mappingBody{}, fmt.Errorf("tag placeholder not found in mapping")
	}
	return mappingBody{before: before, after: after}, nil
}

func (m mappingBody) with(tag string) []byte {
	b := make([]byte, 0, len(m.before)+len(m.after)+len(tag)+2)
	b = append(b, m.before...)
	b = strconv.AppendQuote(b, tag)
	return append(b, m.after...)
}
