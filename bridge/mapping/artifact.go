package mapping

import (
	"encoding/json"
	"fmt"
)

// Config media types of runnable images.
var imageConfigTypes = map[string]bool{
	"application/vnd.docker.container.image.v1+json": true,
	"application/vnd.oci.image.config.v1+json":       true,
}

// Filesystem layer media types: Docker's rootfs diffs (and foreign ones) and
// OCI image layers, distributable or not, uncompressed, gzip or zstd.
var filesystemLayerTypes = map[string]bool{
	"application/vnd.docker.image.rootfs.diff.tar":                 true,
	"application/vnd.docker.image.rootfs.diff.tar.gzip":            true,
	"application/vnd.docker.image.rootfs.foreign.diff.tar":         true,
	"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip":    true,
	"application/vnd.oci.image.layer.v1.tar":                       true,
	"application/vnd.oci.image.layer.v1.tar+gzip":                  true,
	"application/vnd.oci.image.layer.v1.tar+zstd":                  true,
	"application/vnd.oci.image.layer.nondistributable.v1.tar":      true,
	"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip": true,
	"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd": true,
}

// Artifact returns "" when the manifest is a runnable image or a plain
// list/index, and otherwise a short reason why it is an OCI artifact: an
// artifactType (on a manifest or an index), a config that is not an image
// config (a Helm chart, the empty descriptor), or a layer that is not a
// filesystem layer (cosign signatures, attestations, SBOMs). Content that does
// not decode is left to Build, which reports it. The config bytes are not
// needed for any rule today: every rule reads the manifest.
func Artifact(mediaType string, manifestBytes, config []byte) string {
	_ = config
	if !IsManifest(mediaType) {
		return ""
	}
	var m manifest
	if json.Unmarshal(manifestBytes, &m) != nil {
		return ""
	}
	if m.ArtifactType != "" {
		return "artifactType " + m.ArtifactType
	}
	if IsList(mediaType) {
		return ""
	}
	if !imageConfigTypes[m.Config.MediaType] {
		return fmt.Sprintf("config media type %s", m.Config.MediaType)
	}
	for _, l := range m.Layers {
		if !filesystemLayerTypes[l.MediaType] {
			return fmt.Sprintf("layer media type %s", l.MediaType)
		}
	}
	return ""
}
