package executor

import (
	"encoding/json"
	"fmt"

	jsonpatch "gopkg.in/evanphx/json-patch.v4"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/strategicpatch"
	"sigs.k8s.io/yaml"

	"github.com/kuberunner/kuberunner/config"
)

// SpecPatch is a compiled pod_spec_patches entry: its document as JSON.
type SpecPatch struct {
	Name string
	Type string // strategic | merge | json
	JSON []byte
}

// compilePatches converts each patch to JSON and tries it on a minimal pod spec, so a patch
// that cannot apply is a configuration error at start rather than a failed job.
func compilePatches(in []config.PodSpecPatch) ([]SpecPatch, error) {
	var out []SpecPatch
	probe := &corev1.PodSpec{Containers: []corev1.Container{{Name: buildContainer}}}
	for i, p := range in {
		raw, err := yaml.YAMLToJSON([]byte(p.Patch))
		if err != nil {
			return nil, fmt.Errorf("pod_spec_patches[%d] (%s): not YAML or JSON: %w", i, p.Name, err)
		}
		sp := SpecPatch{Name: p.Name, Type: p.Type, JSON: raw}
		if _, err := applyPatches(probe, []SpecPatch{sp}); err != nil {
			return nil, fmt.Errorf("pod_spec_patches[%d]: %w", i, err)
		}
		out = append(out, sp)
	}
	return out, nil
}

// applyPatches returns spec with the patches applied in order. The result is decoded
// strictly: a patch that adds a field PodSpec does not have is refused.
func applyPatches(spec *corev1.PodSpec, patches []SpecPatch) (*corev1.PodSpec, error) {
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
	if err := strictUnmarshal(doc, out); err != nil {
		return nil, fmt.Errorf("pod spec after patches: %w", err)
	}
	return out, nil
}
