package emulator

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// This file is the server's image strategy (PrepareForCreate and
// InternalImageWithMetadata of openshift-apiserver) and the Image part of
// its validation, written from their rules.

const (
	annLayersOrder = "image.openshift.io/dockerLayersOrder"
	annManaged     = "openshift.io/image.managed"
	annBlobStored  = "image.openshift.io/manifestBlobStored"
)

// A digest somewhere in the string (the server's check is not anchored) and an
// RFC 6838 type/subtype, optionally surrounded by spaces.
var (
	childDigestRE    = regexp.MustCompile(`[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9A-Fa-f]{32,}`)
	childMediaTypeRE = regexp.MustCompile(`^ *[A-Za-z0-9][A-Za-z0-9!#$&^_-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126} *$`)
)

// serverManifest is the shape the server decodes manifests into (docker10.DockerImageManifest).
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

// serverConfig is the shape the server decodes configs into (docker10.DockerImageConfig).
type serverConfig struct {
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

// listChild is a manifest list / index entry as distribution decodes it:
// the platform is a value, so a missing one reads as empty strings.
type listChild struct {
	MediaType string `json:"mediaType"`
	Size      int64  `json:"size"`
	Digest    string `json:"digest"`
	Platform  struct {
		Architecture string `json:"architecture"`
		OS           string `json:"os"`
		Variant      string `json:"variant"`
	} `json:"platform"`
}

// prepareImage does what the image strategy's PrepareForCreate does to an
// Image before validation: fill metadata and layers from the manifest
// (ignoring errors), re-read a list's children from the manifest, clear
// manifest and config when the blob is stored, drop signatures.
func prepareImage(img *imagev1.Image, now time.Time) {
	_ = imageWithMetadata(img, now) // PrepareForCreate logs and ignores the error
	// The server stores its internal metadata and serves it encoded as a
	// DockerImage 1.0, so even "nothing" comes back as an empty DockerImage.
	setMetadata(img, clientMetadata(img))
	if img.DockerImageManifest != "" && listTypes[img.DockerImageManifestMediaType] {
		if children, ok := decodeListChildren(img.DockerImageManifestMediaType, img.DockerImageManifest); ok {
			img.DockerImageManifests = children
		}
	}
	if img.Annotations[annBlobStored] == "true" {
		img.DockerImageManifest, img.DockerImageConfig = "", ""
	}
	img.Signatures = nil
}

// imageWithMetadata is InternalImageWithMetadata, with its errors: the image
// strategy ignores them (the metadata stays as the client sent it), while
// ImageStreamTag GET and the Image LimitRange admission fail with them.
func imageWithMetadata(img *imagev1.Image, now time.Time) error {
	if img.DockerImageManifest == "" {
		return nil
	}
	reorderLayers(img)
	meta := clientMetadata(img)
	if len(img.DockerImageLayers) > 0 && meta.Size > 0 && img.DockerImageManifestMediaType != "" {
		return nil // "already filled"
	}
	var m serverManifest
	if err := json.Unmarshal([]byte(img.DockerImageManifest), &m); err != nil {
		return err
	}
	if listTypes[m.MediaType] {
		meta.ID = img.Name
		meta.Created = metav1.NewTime(now)
		setMetadata(img, meta)
		return nil
	}
	if m.SchemaVersion != 2 {
		if m.SchemaVersion == 1 {
			return nil // schema 1 is not modelled: the bridge never sends it
		}
		return fmt.Errorf("unrecognized container image manifest schema %d for %q (%s)", m.SchemaVersion, img.Name, img.DockerImageReference)
	}
	if len(img.DockerImageLayers) == 0 {
		img.DockerImageLayers = make([]imagev1.ImageLayer, len(m.Layers))
		for i, l := range m.Layers {
			img.DockerImageLayers[i] = imagev1.ImageLayer{Name: l.Digest, LayerSize: l.Size, MediaType: l.MediaType}
		}
		if img.Annotations == nil {
			img.Annotations = map[string]string{}
		}
		img.Annotations[annLayersOrder] = "ascending"
	}
	switch {
	case m.MediaType != "":
		img.DockerImageManifestMediaType = m.MediaType
	case img.DockerImageManifestMediaType == "":
		img.DockerImageManifestMediaType = "application/vnd.docker.distribution.manifest.v2+json"
	}
	if img.DockerImageConfig == "" {
		return fmt.Errorf("dockerImageConfig must not be empty for manifest type %q", img.DockerImageManifestMediaType)
	}
	var c serverConfig
	if err := json.Unmarshal([]byte(img.DockerImageConfig), &c); err != nil {
		return fmt.Errorf("failed to parse dockerImageConfig: %v", err)
	}
	meta = docker10.DockerImage{
		ID: m.Config.Digest, Parent: c.Parent, Comment: c.Comment, Created: metav1.NewTime(c.Created),
		Container: c.Container, ContainerConfig: c.ContainerConfig, DockerVersion: c.DockerVersion,
		Author: c.Author, Config: c.Config, Architecture: c.Architecture,
		Size: int64(len(img.DockerImageConfig)),
	}
	seen := map[string]bool{m.Config.Digest: true}
	for _, l := range img.DockerImageLayers {
		if !seen[l.Name] {
			seen[l.Name] = true
			meta.Size += l.LayerSize
		}
	}
	setMetadata(img, meta)
	return nil
}

// reorderLayers puts layers in ascending order as the server does when the
// order annotation is missing or says descending.
func reorderLayers(img *imagev1.Image) {
	if len(img.DockerImageLayers) == 0 {
		return
	}
	order, ok := img.Annotations[annLayersOrder]
	if !ok {
		if !descendingByDefault[img.DockerImageManifestMediaType] {
			return
		}
		order = "descending"
	}
	if order == "descending" {
		l := img.DockerImageLayers
		for i, j := 0, len(l)-1; i < j; i, j = i+1, j-1 {
			l[i], l[j] = l[j], l[i]
		}
	}
	if img.Annotations == nil {
		img.Annotations = map[string]string{}
	}
	img.Annotations[annLayersOrder] = "ascending"
}

func clientMetadata(img *imagev1.Image) docker10.DockerImage {
	var meta docker10.DockerImage
	if len(img.DockerImageMetadata.Raw) > 0 {
		_ = json.Unmarshal(img.DockerImageMetadata.Raw, &meta)
	}
	return meta
}

func setMetadata(img *imagev1.Image, meta docker10.DockerImage) {
	meta.TypeMeta = metav1.TypeMeta{Kind: "DockerImage", APIVersion: "image.openshift.io/1.0"}
	raw, _ := json.Marshal(&meta)
	img.DockerImageMetadata = runtime.RawExtension{Raw: raw}
}

// decodeListChildren reads a list's children as distribution's manifest list
// decoder does for the media type; ok is false when it would refuse the bytes.
func decodeListChildren(mediaType, manifest string) ([]imagev1.ImageManifest, bool) {
	var l struct {
		MediaType string      `json:"mediaType"`
		Manifests []listChild `json:"manifests"`
		// Only the OCI index decoder refuses manifest keys; null is no key.
		Config any `json:"config"`
		Layers any `json:"layers"`
	}
	if json.Unmarshal([]byte(manifest), &l) != nil {
		return nil, false
	}
	if mediaType == "application/vnd.oci.image.index.v1+json" && (l.Config != nil || l.Layers != nil) {
		return nil, false
	}
	if mediaType == "application/vnd.docker.distribution.manifest.list.v2+json" && l.MediaType != mediaType ||
		mediaType == "application/vnd.oci.image.index.v1+json" && l.MediaType != "" && l.MediaType != mediaType {
		return nil, false
	}
	out := make([]imagev1.ImageManifest, 0, len(l.Manifests))
	for _, c := range l.Manifests {
		out = append(out, imagev1.ImageManifest{Digest: c.Digest, MediaType: c.MediaType, ManifestSize: c.Size,
			Architecture: c.Platform.Architecture, OS: c.Platform.OS, Variant: c.Platform.Variant})
	}
	return out, true
}

// validateImageManifests is the server's check of a list's children.
func validateImageManifests(ms []imagev1.ImageManifest, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, m := range ms {
		mp := p.Index(i)
		if !childDigestRE.MatchString(m.Digest) {
			errs = append(errs, field.Invalid(mp.Child("digest"), m.Digest, "digest does not conform with OCI image specification"))
		}
		if !childMediaTypeRE.MatchString(m.MediaType) {
			errs = append(errs, field.Invalid(mp.Child("mediaType"), m.MediaType, "media type does not conform to RFC6838"))
		}
		if m.Architecture == "" {
			errs = append(errs, field.Required(mp.Child("architecture"), ""))
		}
		if m.OS == "" {
			errs = append(errs, field.Required(mp.Child("os"), ""))
		}
		if m.ManifestSize < 0 {
			errs = append(errs, field.Invalid(mp.Child("size"), m.ManifestSize, "manifest size cannot be negative"))
		}
	}
	return errs
}

// splitStreamTag splits "stream:tag" as library-go's SplitImageStreamTag does.
func splitStreamTag(s string) (stream, tag string, ok bool) {
	parts := strings.SplitN(s, ":", 2)
	stream = parts[0]
	if len(parts) > 1 {
		tag = parts[1]
	}
	if tag == "" {
		tag = "latest"
	}
	return stream, tag, len(parts) == 2
}
