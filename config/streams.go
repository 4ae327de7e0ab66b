package config

import (
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateStreams checks the labels and annotations of created streams with
// the API server's own rules: a key the server would refuse fails the config
// instead of every stream creation.
func validateStreams(key string, s Streams, bad func(key, format string, a ...any)) {
	errs := metav1validation.ValidateLabels(s.Labels, field.NewPath(key+".labels"))
	errs = append(errs, apivalidation.ValidateAnnotations(s.Annotations, field.NewPath(key+".annotations"))...)
	for _, e := range errs {
		bad(e.Field, "%s", e.ErrorBody())
	}
}
