package emulator

import (
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apiresource "k8s.io/apimachinery/pkg/api/resource"
)

// SetImageLimit gives namespace ns a LimitRange of type openshift.io/Image
// with max storage maxBytes; 0 removes it. The server's image LimitRange
// admission then runs InternalImageWithMetadata on each mapping's Image and
// refuses (403) its error or a size above the limit.
func (e *Emulator) SetImageLimit(ns string, maxBytes int64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if maxBytes == 0 {
		delete(e.imageLimit, ns)
		return
	}
	e.imageLimit[ns] = maxBytes
}

// admitImageLimit is the image LimitRange admission's ValidateLimit for a
// mapping's Image in ns; e.mu must be held.
func (e *Emulator) admitImageLimit(ns string, img *imagev1.Image) error {
	limit, ok := e.imageLimit[ns]
	if !ok {
		return nil
	}
	img = img.DeepCopy()
	if err := imageWithMetadata(img, e.now()); err != nil {
		return err
	}
	size := apiresource.NewQuantity(clientMetadata(img).Size, apiresource.BinarySI)
	max := apiresource.NewQuantity(limit, apiresource.BinarySI)
	if max.Cmp(*size) < 0 {
		return fmt.Errorf("requested usage of storage exceeds the maximum limit per openshift.io/Image (%s > %s)", size, max)
	}
	return nil
}
