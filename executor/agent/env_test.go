package agent

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/kuberunner/kuberunner/jobspec"
)

func TestSafeDirectory(t *testing.T) {
	tests := []struct {
		name string
		in   jobspec.Variables
		want map[string]string
	}{
		{
			name: "no git config of the job",
			in:   jobspec.Variables{{Key: "A", Value: "1"}},
			want: map[string]string{"A": "1", "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "safe.directory", "GIT_CONFIG_VALUE_0": "/builds/g/p"},
		},
		{
			name: "the job's own entries are kept",
			in:   jobspec.Variables{{Key: "GIT_CONFIG_COUNT", Value: "1"}, {Key: "GIT_CONFIG_KEY_0", Value: "core.autocrlf"}, {Key: "GIT_CONFIG_VALUE_0", Value: "false"}},
			want: map[string]string{"GIT_CONFIG_COUNT": "2", "GIT_CONFIG_KEY_0": "core.autocrlf", "GIT_CONFIG_VALUE_0": "false", "GIT_CONFIG_KEY_1": "safe.directory", "GIT_CONFIG_VALUE_1": "/builds/g/p"},
		},
		{
			name: "a broken count is left for git to report",
			in:   jobspec.Variables{{Key: "GIT_CONFIG_COUNT", Value: "many"}},
			want: map[string]string{"GIT_CONFIG_COUNT": "many"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]string{}
			for _, v := range safeDirectory(tc.in, "/builds/g/p") {
				got[v.Key] = v.Value // the last value of a key wins, as in environ
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("-want +got:\n%s", d)
			}
		})
	}
}
