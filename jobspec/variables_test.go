package jobspec

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestVariablesExpand(t *testing.T) {
	vs := Variables{
		{Key: "A", Value: "one"},
		{Key: "B", Value: "${A}-two"},
		{Key: "R", Value: "$A", Raw: true},
		{Key: "SELF", Value: "x$SELF"},
		{Key: "A", Value: "uno"},
	}
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"$A", "uno"},
		{"${A}/$B", "uno/${A}-two"},
		{"$MISSING-", "-"},
	}
	for _, tc := range tests {
		if got := vs.Expand(tc.in); got != tc.want {
			t.Errorf("Expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	got := vs.Expanded()
	want := []string{"one", "one-two", "$A", "x$SELF", "uno"}
	var values []string
	for _, v := range got {
		values = append(values, v.Value)
	}
	if d := cmp.Diff(want, values); d != "" {
		t.Errorf("Expanded() -want +got:\n%s", d)
	}
}

func TestMaskedValuesAndReasons(t *testing.T) {
	vs := Variables{{Key: "S", Value: "s3cr3t", Masked: true}, {Key: "E", Masked: true}, {Key: "P", Value: "p", Public: true}}
	if d := cmp.Diff([]string{"s3cr3t"}, vs.MaskedValues()); d != "" {
		t.Errorf("MaskedValues -want +got:\n%s", d)
	}
	if !vs[0].Secret() || vs[2].Secret() {
		t.Errorf("Secret() wrong: %v %v", vs[0].Secret(), vs[2].Secret())
	}
	j := &Job{Features: JobFeatures{FailureReasons: []FailureReason{ScriptFailure, JobExecutionTimeout}}}
	if got := j.ReportableReason(JobExecutionTimeout); got != JobExecutionTimeout {
		t.Errorf("listed reason changed to %q", got)
	}
	if got := j.ReportableReason(ImagePullFailure); got != UnknownFailure {
		t.Errorf("unlisted reason = %q, want unknown_failure", got)
	}
}
