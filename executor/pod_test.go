package executor

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/jobspec"
)

var update = flag.Bool("update", false, "rewrite testdata/*.yaml golden files")

func TestBuildPodGolden(t *testing.T) {
	tests := []struct {
		name   string
		job    *jobspec.Job
		config string
	}{
		{"minimal", minimalJob(), ""},
		{"full", fullJob(), fullConfigYAML},
		{"builder", builderJob(), builderConfigYAML},
		{"deploy", deployJob(), deployConfigYAML},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := BuildJob(tc.job, mustPodConfig(t, tc.config))
			if err != nil {
				t.Fatalf("BuildJob: %v", err)
			}
			var extra []any
			if o.ServiceAccount != nil {
				extra = append(extra, o.ServiceAccount, o.RoleBinding)
			}
			got := goldenYAML(t, o.Pod, o.Secret, extra...)
			path := filepath.Join("testdata", tc.name+".yaml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("%s differs (-want +got; go test -update rewrites it):\n%s", path, d)
			}
		})
	}
}

// goldenYAML renders the pod and the Secret, the Secret's data as text so reviews can read
// it (job.json indented).
func goldenYAML(t *testing.T, pod *corev1.Pod, secret *corev1.Secret, extra ...any) []byte {
	t.Helper()
	readable := secret.DeepCopy()
	readable.StringData = map[string]string{}
	for k, v := range readable.Data {
		if strings.HasSuffix(k, ".json") || k == corev1.DockerConfigJsonKey {
			var out strings.Builder
			var tree any
			if err := json.Unmarshal(v, &tree); err != nil {
				t.Fatalf("secret key %s: %v", k, err)
			}
			b, _ := json.MarshalIndent(tree, "", "  ")
			out.Write(b)
			v = []byte(out.String())
		}
		readable.StringData[k] = string(v)
	}
	readable.Data = nil
	var out []byte
	for _, obj := range append([]any{pod, readable}, extra...) {
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		out = append(append(out, "---\n"...), b...)
	}
	return out
}

func TestBuildPodKeepsSecretsOutOfThePod(t *testing.T) {
	job := fullJob()
	pod, secret, err := BuildPod(job, mustPodConfig(t, fullConfigYAML))
	if err != nil {
		t.Fatalf("BuildPod: %v", err)
	}
	raw, err := json.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	var secretJSON strings.Builder
	for _, v := range secret.Data {
		secretJSON.Write(v)
	}
	for _, s := range fullJobSecrets {
		if strings.Contains(string(raw), s) {
			t.Errorf("secret value %q appears in the pod spec", s)
		}
		if !strings.Contains(secretJSON.String(), s) {
			t.Errorf("secret value %q is missing from the job's Secret", s)
		}
	}
	// The job given to BuildPod is not changed.
	if d := cmp.Diff(fullJob(), job); d != "" {
		t.Errorf("BuildPod changed its job (-want +got):\n%s", d)
	}
}

func TestBuildPodRefusesBadJobs(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(*jobspec.Job)
		wantErr string
	}{
		{"cpu above maximum", func(j *jobspec.Job) { setVar(j, "KUBERNETES_CPU_REQUEST", "2") }, "KUBERNETES_CPU_REQUEST=2 is above the runner's maximum of 1"},
		{"not a quantity", func(j *jobspec.Job) { setVar(j, "KUBERNETES_MEMORY_LIMIT", "lots") }, `KUBERNETES_MEMORY_LIMIT="lots" is not a Kubernetes quantity`},
		{"service memory above maximum", func(j *jobspec.Job) { setVar(j, "KUBERNETES_SERVICE_MEMORY_REQUEST", "1Gi") }, "above the runner's maximum of 512Mi"},
		{"pull policy not allowed", func(j *jobspec.Job) { j.Image.PullPolicy = []string{"never"} }, `pull_policy "never" is not allowed by this runner (allowed: [always if-not-present])`},
		{"unknown pull policy", func(j *jobspec.Job) { j.Services[0].PullPolicy = []string{"sometimes"} }, `pull_policy "sometimes" is not one of`},
		{"service without image", func(j *jobspec.Job) { j.Services[1].Name = "" }, "services[1] has no image name"},
	}
	pc := mustPodConfig(t, fullConfigYAML)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := fullJob()
			tc.mutate(job)
			_, _, err := BuildPod(job, pc)
			if !errors.Is(err, ErrInvalidJob) {
				t.Fatalf("BuildPod error = %v, want ErrInvalidJob", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

func setVar(j *jobspec.Job, key, value string) {
	j.Variables = append(j.Variables, jobspec.Variable{Key: key, Value: value, Public: true})
}

func TestResourceOverrideWithinMaximum(t *testing.T) {
	rl, err := configResources("100m", "200m", "1", "2").Requirements()
	if err != nil {
		t.Fatal(err)
	}
	rc := ResourceConfig(rl)
	tests := []struct {
		name    string
		vars    jobspec.Variables
		want    corev1.ResourceRequirements
		wantErr bool
	}{
		{"defaults", nil, rc.Default, false},
		{"at maximum", jobspec.Variables{{Key: "KUBERNETES_CPU_REQUEST", Value: "1"}, {Key: "KUBERNETES_CPU_LIMIT", Value: "2"}}, reqs("1", "2"), false},
		{"request above new limit", jobspec.Variables{{Key: "KUBERNETES_CPU_REQUEST", Value: "900m"}, {Key: "KUBERNETES_CPU_LIMIT", Value: "500m"}}, corev1.ResourceRequirements{}, true},
		{"helper prefix not mine", jobspec.Variables{{Key: "KUBERNETES_HELPER_CPU_REQUEST", Value: "1"}}, rc.Default, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rc.forJob(buildResourcePrefix, tc.vars)
			if (err != nil) != tc.wantErr {
				t.Fatalf("forJob error = %v, wantErr %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if d := cmp.Diff(tc.want.Requests.Cpu().String(), got.Requests.Cpu().String()); d != "" {
				t.Errorf("cpu request -want +got:\n%s", d)
			}
			if d := cmp.Diff(tc.want.Limits.Cpu().String(), got.Limits.Cpu().String()); d != "" {
				t.Errorf("cpu limit -want +got:\n%s", d)
			}
		})
	}
}

func configResources(cpuReq, cpuLim, cpuReqMax, cpuLimMax string) config.Resources {
	return config.Resources{CPURequest: cpuReq, CPULimit: cpuLim, CPURequestMaxAllowed: cpuReqMax, CPULimitMaxAllowed: cpuLimMax}
}

func reqs(cpuReq, cpuLim string) corev1.ResourceRequirements {
	return corev1.ResourceRequirements{
		Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuReq)},
		Limits:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse(cpuLim)},
	}
}

// TestImageNamesExpandProjectVariables: GitLab Runner expands image names with every job
// variable, so `image: $REGISTRY/app` works with a project variable (never public), and a
// variable naming another (APP_IMAGE: $REGISTRY/app) expands as in scripts. A masked or file
// variable is never expanded (its value would land in the pod spec): the job fails at once,
// naming the variable, as it does when the name expands to nothing.
func TestImageNamesExpandProjectVariables(t *testing.T) {
	registry := func(v jobspec.Variable) jobspec.Variables {
		v.Key, v.Value = "REGISTRY", "reg.example:5000"
		return jobspec.Variables{v}
	}
	tests := []struct {
		name    string
		vars    jobspec.Variables
		image   string // of both the job and its service, "${APP}" standing for the name
		want    string
		wantErr string
	}{
		{"public", registry(jobspec.Variable{Public: true}), "$REGISTRY/app:1", "reg.example:5000/app:1", ""},
		{"project variable", registry(jobspec.Variable{}), "${REGISTRY}/app:1", "reg.example:5000/app:1", ""},
		{"nested", append(registry(jobspec.Variable{}), jobspec.Variable{Key: "APP_IMAGE", Value: "$REGISTRY/app", Public: true}),
			"$APP_IMAGE:1", "reg.example:5000/app:1", ""},
		{"raw value with a $", jobspec.Variables{{Key: "IMG", Value: "app$x", Public: true, Raw: true}}, "$IMG", "", `expands to "app$x", which still holds a $`},
		{"masked", registry(jobspec.Variable{Masked: true}), "$REGISTRY/app:1", "", "$REGISTRY is not set"},
		{"file", registry(jobspec.Variable{File: true}), "$REGISTRY/app:1", "", "$REGISTRY is not set"},
		{"unset inside a value", jobspec.Variables{{Key: "APP_IMAGE", Value: "$NOPE/app", Public: true}}, "$APP_IMAGE", "", "$NOPE is not set"},
		{"empty", jobspec.Variables{{Key: "E", Value: "", Public: true}}, "$E", "", "expands to nothing"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			job := &jobspec.Job{
				ID: 7, Token: "tok", RunnerInfo: jobspec.RunnerInfo{Timeout: 60},
				Image:     jobspec.Image{Name: tc.image},
				Services:  []jobspec.Image{{Name: tc.image, Alias: "svc"}},
				Variables: tc.vars,
				Steps:     []jobspec.Step{{Name: jobspec.StepScript, Script: []string{"true"}}},
			}
			pod, _, err := BuildPod(job, mustPodConfig(t, ""))
			if tc.wantErr != "" {
				if !errors.Is(err, ErrInvalidJob) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidJob containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var images []string
			for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
				if c.Name == "build" || strings.HasPrefix(c.Name, "svc-") {
					images = append(images, c.Image)
				}
			}
			if d := cmp.Diff([]string{tc.want, tc.want}, images); d != "" {
				t.Errorf("images -want +got:\n%s", d)
			}
		})
	}
}
