package manifests_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"sigs.k8s.io/yaml"

	"github.com/kuberunner/kuberunner/manifests"
)

var update = flag.Bool("update", false, "rewrite prometheus/prometheusrule.yaml from prometheus/rules.yaml")

const (
	rulesFile      = "prometheus/rules.yaml"
	rulesTestFile  = "prometheus/rules_test.yaml"
	promRuleFile   = "prometheus/prometheusrule.yaml"
	installPromApt = "apt-get install -y prometheus"
)

// promRuleHeader is what prometheusrule.yaml has before rules.yaml's groups, indented under
// spec. The Prometheus Operator's ruleSelector often asks for a label (release: <name> in
// kube-prometheus-stack); operators add it with a kustomize patch.
const promRuleHeader = `# Generated from rules.yaml by manifests/prometheus_test.go (go test ./manifests -run TestPrometheusRule -update).
# Edit rules.yaml, not this file.
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: kuberunner
  namespace: kuberunner
  labels:
    app.kubernetes.io/name: kuberunner
    app.kubernetes.io/component: runner
spec:
`

// prometheusRule derives the PrometheusRule from the plain rules file as text, so that the
// comments explaining each rule stay with it: the file's leading comment is replaced by
// the header, and the rest is indented under spec.
func prometheusRule(rules []byte) []byte {
	var b bytes.Buffer
	b.WriteString(promRuleHeader)
	body := false
	for _, line := range strings.SplitAfter(string(rules), "\n") {
		body = body || !strings.HasPrefix(line, "#")
		switch {
		case !body:
		case strings.TrimSpace(line) == "":
			b.WriteString(line)
		default:
			b.WriteString("  " + line)
		}
	}
	return b.Bytes()
}

func TestPrometheusRuleIsGeneratedFromRules(t *testing.T) {
	rules, err := manifests.FS.ReadFile(rulesFile)
	if err != nil {
		t.Fatal(err)
	}
	want := prometheusRule(rules)
	got := want // FS was embedded before this write
	if *update {
		if err := os.WriteFile(promRuleFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
	} else if got, err = manifests.FS.ReadFile(promRuleFile); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s is not generated from %s; run go test ./manifests -run TestPrometheusRule -update (-want +got):\n%s", promRuleFile, rulesFile, diff)
	}
	// Indenting text could change what a block scalar means; compare the data too.
	var plain struct{ Groups any }
	var object struct {
		APIVersion, Kind string
		Spec             struct{ Groups any }
	}
	if err := yaml.UnmarshalStrict(rules, &plain); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	if err := yaml.Unmarshal(got, &object); err != nil {
		t.Fatalf("%s: %v", promRuleFile, err)
	}
	if object.APIVersion != "monitoring.coreos.com/v1" || object.Kind != "PrometheusRule" {
		t.Errorf("%s is a %s %s, want a monitoring.coreos.com/v1 PrometheusRule", promRuleFile, object.APIVersion, object.Kind)
	}
	if diff := cmp.Diff(plain.Groups, object.Spec.Groups); diff != "" {
		t.Errorf("groups of %s differ from %s (-rules +object):\n%s", promRuleFile, rulesFile, diff)
	}
}

func TestRulesPassPromtool(t *testing.T) {
	promtool := needTool(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", rulesFile},
		// Each alert fires on a bad series and stays silent on a good one (rules_test.yaml).
		{"test", "rules", rulesTestFile},
	} {
		if out, err := runTool(t, promtool, args...); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// needTool finds a binary of the Debian package prometheus on PATH. CI installs it
// (.ci/run), so there a missing one fails; elsewhere the test is skipped.
func needTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not on PATH, and CI installs it: %v", name, err)
	}
	t.Skipf("%s is not on PATH; install it with: %s", name, installPromApt)
	return ""
}

// runTool runs a command for at most a minute and returns its combined output.
func runTool(t *testing.T, path string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, args...).CombinedOutput()
	return string(out), err
}
