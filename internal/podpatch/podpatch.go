// Package podpatch owns pod_spec_patches: reading a patch document, applying patches to a
// pod spec, and Kubernetes' strict decoding. It is a leaf so that the config can refuse a
// patch that cannot apply when the file is read (with file, line and key) and the pod
// builder can apply the same patches to every job's pod, with one implementation.
package podpatch

import (
	"encoding/json"
	"errors"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/kuberunner/kuberunner/executor/jobpod"
)

// Patch is one compiled pod_spec_patches entry: its document as JSON.
type Patch struct {
	Name string
	Type string // strategic | merge | json
	JSON []byte
}

// Compile reads a patch document (YAML or JSON) and tries it on a minimal pod spec, so a
// patch that cannot apply is a configuration error at start rather than a failed job.
func Compile(name, typ, doc string) (Patch, error) {
	raw, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		return Patch{}, fmt.Errorf("not YAML or JSON: %w", err)
	}
	p := Patch{Name: name, Type: typ, JSON: raw}
	probe := &corev1.PodSpec{Containers: []corev1.Container{{Name: jobpod.BuildContainer}}}
	if _, err := Apply(probe, []Patch{p}); err != nil {
		return Patch{}, err
	}
	return p, nil
}

// Apply returns spec with the patches applied in order. The result is decoded strictly:
// a patch that adds a field PodSpec does not have is refused.
func Apply(spec *corev1.PodSpec, patches []Patch) (*corev1.PodSpec, error) {
	if len(patches) == 0 {
		return spec, nil
	}
	doc, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("encode pod spec: %w", err)
	}
	for _, p := range patches {
		switch p.Type {
		case "merge":
			doc, err = jsonpatch.MergePatch(doc, p.JSON)
		case "json":
			var ops jsonpatch.Patch
			if ops, err = jsonpatch.DecodePatch(p.JSON); err == nil {
				doc, err = ops.Apply(doc)
			}
		default:
			doc, err = strategicpatch.StrategicMergePatch(doc, p.JSON, corev1.PodSpec{})
		}
		if err != nil {
			return nil, fmt.Errorf("apply %s patch %q: %w", p.Type, p.Name, err)
		}
	}
	out := new(corev1.PodSpec)
	if err := StrictUnmarshal(doc, out); err != nil {
		return nil, fmt.Errorf("pod spec after patches: %w", err)
	}
	return out, nil
}

// StrictRemarshal converts a decoded YAML tree into a Kubernetes type through JSON,
// refusing unknown fields so a misspelt key is an error rather than ignored.
func StrictRemarshal(in any, out any) error {
	raw, err := json.Marshal(in)
	if err != nil {
		return err
	}
	return StrictUnmarshal(raw, out)
}

// StrictUnmarshal is Kubernetes' own strict decoding: field names match case-sensitively
// (encoding/json would take "hostnetwork" for hostNetwork) and unknown fields are errors.
func StrictUnmarshal(raw []byte, out any) error {
	strictErrs, err := kjson.UnmarshalStrict(raw, out)
	if err != nil {
		return err
	}
	return errors.Join(strictErrs...)
}
