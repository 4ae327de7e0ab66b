// Package mapping builds the image.openshift.io/v1 ImageStreamMapping that
// OpenShift's own registry and API server would produce for a pushed manifest.
//
// The rules follow openshift-apiserver's InternalImageWithMetadata and image
// strategy: metadata comes from the exact config blob, layers keep manifest
// order and are marked ascending, Size counts the config and each distinct
// layer once, and lists carry one dockerImageManifests entry per child.
package mapping

import (
	"encoding/json"
	"errors"
	"fmt"
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

// Annotations OpenShift reads on Images.
const (
	AnnotationLayersOrder        = "image.openshift.io/dockerLayersOrder"
	AnnotationManaged            = "openshift.io/image.managed"
	AnnotationManifestBlobStored = "image.openshift.io/manifestBlobStored"
)

// ErrInvalidImage marks content that OpenShift cannot turn into an Image; retrying never helps.
var ErrInvalidImage = errors.New("invalid image")

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
	Namespace, Stream, Tag string
	// ReferenceHost is host[:port] written into dockerImageReference.
	ReferenceHost string
	// Digest is the manifest digest, already verified against Manifest.
	Digest string
	// MediaType of the manifest, as the registry served it.
	MediaType string
	// Manifest and Config are the exact bytes; Config is empty for lists.
	Manifest, Config []byte
	// Managed sets the integrated-registry annotations.
	Managed bool
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

// manifest decodes both image manifests and lists.
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers"`
	Manifests     []descriptor `json:"manifests"`
}

// imageConfig mirrors the config fields openshift-apiserver decodes; rootfs and
// history are decoded only so that the same malformed configs are rejected.
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
		Created time.Time `json:"created"`
	} `json:"history,omitempty"`
}

// Build returns the ImageStreamMapping for in.
func Build(in Input) (*imagev1.ImageStreamMapping, error) {
	var m manifest
	if err := json.Unmarshal(in.Manifest, &m); err != nil {
		return nil, fmt.Errorf("%w: decode manifest: %v", ErrInvalidImage, err)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: unsupported manifest schema version %d", ErrInvalidImage, m.SchemaVersion)
	}
	img := imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: in.Digest},
		DockerImageReference:         fmt.Sprintf("%s/%s/%s@%s", in.ReferenceHost, in.Namespace, in.Stream, in.Digest),
		DockerImageManifest:          string(in.Manifest),
		DockerImageManifestMediaType: in.MediaType,
		DockerImageMetadataVersion:   "1.0",
	}
	var meta docker10.DockerImage
	switch {
	case IsList(in.MediaType):
		if len(m.Layers) > 0 {
			return nil, fmt.Errorf("%w: manifest list has layers", ErrInvalidImage)
		}
		children := make([]imagev1.ImageManifest, 0, len(m.Manifests))
		for i, c := range m.Manifests {
			if c.Platform == nil || c.Platform.Architecture == "" || c.Platform.OS == "" {
				return nil, fmt.Errorf("%w: manifests[%d] has no platform architecture and os", ErrInvalidImage, i)
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
		now := time.Now
		if in.Now != nil {
			now = in.Now
		}
		meta = docker10.DockerImage{ID: in.Digest, Created: metav1.NewTime(now())}
	case IsImageManifest(in.MediaType):
		if len(in.Config) == 0 {
			return nil, fmt.Errorf("%w: dockerImageConfig must not be empty for manifest type %q", ErrInvalidImage, in.MediaType)
		}
		var cfg imageConfig
		if err := json.Unmarshal(in.Config, &cfg); err != nil {
			return nil, fmt.Errorf("%w: decode image config: %v", ErrInvalidImage, err)
		}
		meta = docker10.DockerImage{
			ID:              m.Config.Digest,
			Parent:          cfg.Parent,
			Comment:         cfg.Comment,
			Created:         metav1.NewTime(cfg.Created),
			Container:       cfg.Container,
			ContainerConfig: cfg.ContainerConfig,
			DockerVersion:   cfg.DockerVersion,
			Author:          cfg.Author,
			Config:          cfg.Config,
			Architecture:    cfg.Architecture,
			Size:            imageSize(int64(len(in.Config)), m.Config.Digest, m.Layers),
		}
		img.DockerImageConfig = string(in.Config)
		img.DockerImageLayers = make([]imagev1.ImageLayer, len(m.Layers))
		for i, l := range m.Layers {
			img.DockerImageLayers[i] = imagev1.ImageLayer{Name: l.Digest, LayerSize: l.Size, MediaType: l.MediaType}
		}
		img.Annotations = map[string]string{AnnotationLayersOrder: "ascending"}
	default:
		return nil, fmt.Errorf("%w: unsupported manifest media type %q", ErrInvalidImage, in.MediaType)
	}
	if in.Managed {
		if img.Annotations == nil {
			img.Annotations = map[string]string{}
		}
		img.Annotations[AnnotationManaged] = "true"
		img.Annotations[AnnotationManifestBlobStored] = "true"
	}
	meta.TypeMeta = metav1.TypeMeta{Kind: "DockerImage", APIVersion: "image.openshift.io/1.0"}
	raw, err := json.Marshal(&meta)
	if err != nil {
		return nil, fmt.Errorf("encode image metadata: %w", err)
	}
	img.DockerImageMetadata = runtime.RawExtension{Raw: raw}
	return &imagev1.ImageStreamMapping{
		TypeMeta:   metav1.TypeMeta{Kind: "ImageStreamMapping", APIVersion: "image.openshift.io/v1"},
		ObjectMeta: metav1.ObjectMeta{Name: in.Stream, Namespace: in.Namespace},
		Image:      img,
		Tag:        in.Tag,
	}, nil
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
