// Package mapping builds the image.openshift.io/v1 ImageStreamMapping that
// OpenShift's own registry and API server would produce for a pushed manifest.
//
// The rules follow openshift-apiserver's InternalImageWithMetadata and image
// strategy: metadata comes from the exact config blob, layers keep manifest
// order and are marked ascending, Size counts the config and each distinct
// layer once, and lists carry one dockerImageManifests entry per child.
// A config the server cannot decode does not fail the push there: the Image
// is stored with empty metadata and, as the integrated registry has it
// stored, without manifest and config; Build does the same (see Build's warn).
package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Manifest media types the bridge maps.
const (
	MediaTypeDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
	MediaTypeDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	MediaTypeOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	MediaTypeOCIIndex       = "application/vnd.oci.image.index.v1+json"
)

// Annotations OpenShift reads on Images. Build never sets AnnotationManaged or
// AnnotationManifestBlobStored: they claim that the integrated registry holds
// the image, and on an image it does not hold they make the API server
// re-reference every later mapping of the digest to the integrated registry.
const (
	AnnotationLayersOrder        = "image.openshift.io/dockerLayersOrder"
	AnnotationManaged            = "openshift.io/image.managed"
	AnnotationManifestBlobStored = "image.openshift.io/manifestBlobStored"
)

// MaxChildren is the most children a manifest list or index may have. A list
// with more is refused with ErrTooManyChildren before any child is read: no
// real multi-platform image comes near it, and each child can cost a fetch and
// an Image when createChildImages is on.
const MaxChildren = 1000

var (
	// ErrInvalidImage marks content that OpenShift cannot turn into an Image; retrying never helps.
	ErrInvalidImage = errors.New("invalid image")
	// ErrTooManyChildren marks a list or index with more than MaxChildren children.
	ErrTooManyChildren = errors.New("too many children")
)

// IsImageManifest reports whether mediaType is a single-image manifest (schema2 or OCI).
func IsImageManifest(mediaType string) bool {
	return mediaType == MediaTypeDockerManifest || mediaType == MediaTypeOCIManifest
}

// IsList reports whether mediaType is a manifest list or OCI index.
func IsList(mediaType string) bool {
	return mediaType == MediaTypeDockerList || mediaType == MediaTypeOCIIndex
}

// IsManifest reports whether mediaType is one the bridge maps.
func IsManifest(mediaType string) bool { return IsImageManifest(mediaType) || IsList(mediaType) }

// Input is everything a mapping is built from.
type Input struct {
	// Namespace, Stream and Tag name the target; they do not enter the reference.
	Namespace, Stream, Tag string
	// Repository is the repository path the registry sent (team/group/app).
	Repository string
	// ReferenceHost is host[:port] written into dockerImageReference.
	ReferenceHost string
	// Digest is the manifest digest, already verified against Manifest.
	Digest string
	// MediaType of the manifest, as the registry served it.
	MediaType string
	// Manifest and Config are the exact bytes; Config is empty for lists.
	Manifest, Config []byte
	// Now stamps list metadata, as the API server does. Default time.Now.
	Now func() time.Time
}

// descriptor is the part of an OCI/Docker descriptor the mapping reads.
type descriptor struct {
	MediaType string    `json:"mediaType,omitempty"`
	Size      int64     `json:"size,omitempty"`
	Digest    string    `json:"digest,omitempty"`
	Platform  *platform `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// manifest decodes both image manifests and lists, as a registry reads them.
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	ArtifactType  string       `json:"artifactType,omitempty"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
}

// serverManifest has the shape of openshift-apiserver's docker10.DockerImageManifest,
// which the server decodes before it reads the config: a manifest it cannot
// decode leaves the metadata empty.
type serverManifest struct {
	SchemaVersion int    `json:"schemaVersion"`
	MediaType     string `json:"mediaType,omitempty"`
	Name          string `json:"name"`
	Tag           string `json:"tag"`
	Architecture  string `json:"architecture"`
	FSLayers      []struct {
		BlobSum string `json:"blobSum"`
	} `json:"fsLayers"`
	History []struct {
		V1Compatibility string `json:"v1Compatibility"`
	} `json:"history"`
	Layers []serverDescriptor `json:"layers"`
	Config serverDescriptor   `json:"config"`
}

type serverDescriptor struct {
	MediaType string `json:"mediaType,omitempty"`
	Size      int64  `json:"size,omitempty"`
	Digest    string `json:"digest,omitempty"`
}

// imageConfig has exactly the fields and types of openshift-apiserver's
// docker10.DockerImageConfig: a config decodes here if and only if it decodes
// there. Fields it lacks are ignored; os, os.version, os.features, rootfs and
// history are decoded only so that the same mistyped configs fail.
type imageConfig struct {
	ID              string                 `json:"id"`
	Parent          string                 `json:"parent,omitempty"`
	Comment         string                 `json:"comment,omitempty"`
	Created         time.Time              `json:"created"`
	Container       string                 `json:"container,omitempty"`
	ContainerConfig docker10.DockerConfig  `json:"container_config,omitempty"`
	DockerVersion   string                 `json:"docker_version,omitempty"`
	Author          string                 `json:"author,omitempty"`
	Config          *docker10.DockerConfig `json:"config,omitempty"`
	Architecture    string                 `json:"architecture,omitempty"`
	Size            int64                  `json:"size,omitempty"`
	RootFS          *struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids,omitempty"`
	} `json:"rootfs,omitempty"`
	History []struct {
		Created    time.Time `json:"created"`
		Author     string    `json:"author,omitempty"`
		CreatedBy  string    `json:"created_by,omitempty"`
		Comment    string    `json:"comment,omitempty"`
		EmptyLayer bool      `json:"empty_layer,omitempty"`
	} `json:"history,omitempty"`
	OS         string   `json:"os,omitempty"`
	OSVersion  string   `json:"os.version,omitempty"`
	OSFeatures []string `json:"os.features,omitempty"`
}

// Build returns the ImageStreamMapping for in.
//
// err is non-nil when OpenShift would refuse the content (ErrInvalidImage) or
// the list is too large (ErrTooManyChildren). warn is non-nil when the server
// would accept the Image but could not compute its metadata (a config
// "created" that is not a time, a mistyped "os.features", an OCI index
// without a top-level mediaType, ...): its PrepareForCreate ignores that
// error, but the same pass fails every later GET of the ImageStreamTag. m is
// then the Image as OpenShift's own registry has it stored: layers (or a
// list's children), media type and empty dockerImageMetadata, without the
// manifest and config. warn names the field.
func Build(in Input) (m *imagev1.ImageStreamMapping, warn error, err error) {
	var man manifest
	if err := json.Unmarshal(in.Manifest, &man); err != nil {
		return nil, nil, fmt.Errorf("%w: decode manifest: %v", ErrInvalidImage, err)
	}
	if man.SchemaVersion != 2 {
		return nil, nil, fmt.Errorf("%w: unsupported manifest schema version %d", ErrInvalidImage, man.SchemaVersion)
	}
	img := imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: in.Digest},
		DockerImageReference:         fmt.Sprintf("%s/%s@%s", in.ReferenceHost, in.Repository, in.Digest),
		DockerImageManifest:          string(in.Manifest),
		DockerImageManifestMediaType: in.MediaType,
		DockerImageMetadataVersion:   "1.0",
	}
	var meta docker10.DockerImage
	switch {
	case IsList(in.MediaType):
		if len(man.Layers) > 0 {
			return nil, nil, fmt.Errorf("%w: manifest list has layers", ErrInvalidImage)
		}
		if len(man.Manifests) > MaxChildren {
			return nil, nil, fmt.Errorf("%w: the list has %d children, the limit is %d", ErrTooManyChildren, len(man.Manifests), MaxChildren)
		}
		children := make([]imagev1.ImageManifest, 0, len(man.Manifests))
		for i, c := range man.Manifests {
			if c.Platform == nil || c.Platform.Architecture == "" || c.Platform.OS == "" {
				return nil, nil, fmt.Errorf("%w: manifests[%d] has no platform architecture and os", ErrInvalidImage, i)
			}
			children = append(children, imagev1.ImageManifest{
				Digest:       c.Digest,
				MediaType:    c.MediaType,
				ManifestSize: c.Size,
				Architecture: c.Platform.Architecture,
				OS:           c.Platform.OS,
				Variant:      c.Platform.Variant,
			})
		}
		img.DockerImageManifests = children
		// openshift/image-registry's manifest list handler answers Layers with
		// an empty order, and manifestService.Put writes it as is.
		img.Annotations = map[string]string{AnnotationLayersOrder: ""}
		if man.MediaType != MediaTypeDockerList && man.MediaType != MediaTypeOCIIndex {
			// The server picks its list path by the manifest's own mediaType:
			// an OCI index without one takes the image path, which finds no
			// config, computes no metadata and fails.
			warn = errors.New("manifest: an index without a top-level mediaType is not read as a list by the API server, which computes no metadata for it")
			break
		}
		now := time.Now
		if in.Now != nil {
			now = in.Now
		}
		meta = docker10.DockerImage{ID: in.Digest, Created: metav1.NewTime(now())}
	case IsImageManifest(in.MediaType):
		img.DockerImageConfig = string(in.Config)
		img.DockerImageLayers = make([]imagev1.ImageLayer, len(man.Layers))
		for i, l := range man.Layers {
			img.DockerImageLayers[i] = imagev1.ImageLayer{Name: l.Digest, LayerSize: l.Size, MediaType: l.MediaType}
		}
		img.Annotations = map[string]string{AnnotationLayersOrder: "ascending"}
		meta, warn = imageMetadata(in.Manifest, in.Config, in.MediaType)
	default:
		return nil, nil, fmt.Errorf("%w: unsupported manifest media type %q", ErrInvalidImage, in.MediaType)
	}
	if warn != nil {
		// The server's metadata pass fails on this manifest and config, and it
		// runs again on every GET of the ImageStreamTag (and in the Image
		// LimitRange admission): kept, they would make the tag unreadable.
		// OpenShift's own registry has the server drop both (manifestBlobStored),
		// and so the Image is sent without them.
		img.DockerImageManifest, img.DockerImageConfig = "", ""
	}
	meta.TypeMeta = metav1.TypeMeta{Kind: "DockerImage", APIVersion: "image.openshift.io/1.0"}
	raw, err := json.Marshal(&meta)
	if err != nil {
		return nil, nil, fmt.Errorf("encode image metadata: %w", err)
	}
	img.DockerImageMetadata = runtime.RawExtension{Raw: raw}
	return &imagev1.ImageStreamMapping{
		TypeMeta:   metav1.TypeMeta{Kind: "ImageStreamMapping", APIVersion: "image.openshift.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: in.Stream, Namespace: in.Namespace},
		Image:      img,
		Tag:        in.Tag,
	}, warn, nil
}

// imageMetadata is InternalImageWithMetadata's schema 2 path: decode the
// manifest and the config with the server's types; on any error the metadata
// is left empty, as the server leaves it.
func imageMetadata(manifestBytes, config []byte, mediaType string) (docker10.DockerImage, error) {
	var sm serverManifest
	if err := json.Unmarshal(manifestBytes, &sm); err != nil {
		return docker10.DockerImage{}, fmt.Errorf("manifest %s: %v", fieldOf(manifestBytes, func() any { return &serverManifest{} }, err), err)
	}
	if len(config) == 0 {
		return docker10.DockerImage{}, fmt.Errorf("config: dockerImageConfig must not be empty for manifest type %q", mediaType)
	}
	var cfg imageConfig
	if err := json.Unmarshal(config, &cfg); err != nil {
		return docker10.DockerImage{}, fmt.Errorf("config %s: %v", fieldOf(config, func() any { return &imageConfig{} }, err), err)
	}
	layers := make([]descriptor, len(sm.Layers))
	for i, l := range sm.Layers {
		layers[i] = descriptor{Digest: l.Digest, Size: l.Size}
	}
	return docker10.DockerImage{
		ID:              sm.Config.Digest,
		Parent:          cfg.Parent,
		Comment:         cfg.Comment,
		Created:         metav1.NewTime(cfg.Created),
		Container:       cfg.Container,
		ContainerConfig: cfg.ContainerConfig,
		DockerVersion:   cfg.DockerVersion,
		Author:          cfg.Author,
		Config:          cfg.Config,
		Architecture:    cfg.Architecture,
		Size:            imageSize(int64(len(config)), sm.Config.Digest, layers),
	}, nil
}

// fieldOf names the top-level field of doc that makes decoding into a value
// from newValue fail with err: the type error's own field when it has one,
// otherwise the first key (in sorted order) that fails alone.
func fieldOf(doc []byte, newValue func() any, err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Sprintf("field %q", te.Field)
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(doc, &obj) != nil {
		return "(not a JSON object)"
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: obj[k]})
		if json.Unmarshal(one, newValue()) != nil {
			return fmt.Sprintf("field %q", k)
		}
	}
	return "(document)"
}

// imageSize is the API server's image size: the config length plus the size of
// every distinct layer digest, where a layer equal to the config is not counted.
func imageSize(configLen int64, configDigest string, layers []descriptor) int64 {
	size := configLen
	seen := make(map[string]struct{}, len(layers)+1)
	seen[configDigest] = struct{}{}
	for _, l := range layers {
		if _, ok := seen[l.Digest]; ok {
			continue
		}
		seen[l.Digest] = struct{}{}
		size += l.Size
	}
	return size
}
