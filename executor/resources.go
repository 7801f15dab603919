package executor

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/kuberunner/kuberunner/jobspec"
)

// Variable prefixes of per-job resource overrides, as gitlab-runner names them.
const (
	buildResourcePrefix   = "KUBERNETES_"
	serviceResourcePrefix = "KUBERNETES_SERVICE_"
	helperResourcePrefix  = "KUBERNETES_HELPER_"
)

type resourceKnob struct {
	suffix string
	name   corev1.ResourceName
	limit  bool
}

var resourceKnobs = []resourceKnob{
	{"CPU_REQUEST", corev1.ResourceCPU, false},
	{"CPU_LIMIT", corev1.ResourceCPU, true},
	{"MEMORY_REQUEST", corev1.ResourceMemory, false},
	{"MEMORY_LIMIT", corev1.ResourceMemory, true},
}

// forJob applies the job's KUBERNETES_<prefix>* overrides to the defaults. An override
// without a configured maximum is ignored, as in gitlab-runner; one above it is an error.
func (rc ResourceConfig) forJob(prefix string, vars jobspec.Variables) (corev1.ResourceRequirements, error) {
	out := *rc.Default.DeepCopy()
	for _, k := range resourceKnobs {
		key := prefix + k.suffix
		value, _ := vars.Lookup(key)
		if value == "" {
			continue
		}
		maxList, list := rc.Max.Requests, &out.Requests
		if k.limit {
			maxList, list = rc.Max.Limits, &out.Limits
		}
		maxQ, ok := maxList[k.name]
		if !ok {
			continue
		}
		q, err := resource.ParseQuantity(value)
		if err != nil {
			return out, fmt.Errorf("%w: %s=%q is not a Kubernetes quantity", ErrInvalidJob, key, value)
		}
		if q.Cmp(maxQ) > 0 {
			return out, fmt.Errorf("%w: %s=%s is above the runner's maximum of %s", ErrInvalidJob, key, value, maxQ.String())
		}
		if *list == nil {
			*list = corev1.ResourceList{}
		}
		(*list)[k.name] = q
	}
	for _, name := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, hasReq := out.Requests[name]
		lim, hasLim := out.Limits[name]
		if hasReq && hasLim && req.Cmp(lim) > 0 {
			return out, fmt.Errorf("%w: %s request %s is above its limit %s (%s* variables)", ErrInvalidJob, name, req.String(), lim.String(), prefix)
		}
	}
	return out, nil
}
