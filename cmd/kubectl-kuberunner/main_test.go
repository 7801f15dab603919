package main

import (
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
)

// The plugin takes kubectl's connection flags and its own, where kubectl users expect them.
func TestFlags(t *testing.T) {
	root := newRootCommand(genericiooptions.NewTestIOStreamsDiscard())
	for _, tc := range []struct{ cmd, flag, short string }{
		{"", "kubeconfig", ""}, {"", "context", ""}, {"", "namespace", "n"}, {"", "all-namespaces", "A"},
		{"jobs", "output", "o"}, {"runners", "output", "o"}, {"logs", "follow", "f"},
	} {
		c := root
		if tc.cmd != "" {
			var err error
			if c, _, err = root.Find([]string{tc.cmd}); err != nil {
				t.Fatal(err)
			}
		}
		f := c.Flag(tc.flag)
		if f == nil || f.Shorthand != tc.short {
			t.Errorf("%s --%s: %+v, want shorthand %q", tc.cmd, tc.flag, f, tc.short)
		}
	}
}

// Bad arguments are refused before any connection to a cluster.
func TestBadArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"logs", "kr-job-42"}, `job id "kr-job-42"`},
		{[]string{"jobs", "-o", "yaml"}, `output format "yaml"`},
	} {
		root := newRootCommand(genericiooptions.NewTestIOStreamsDiscard())
		root.SetArgs(append(tc.args, "--kubeconfig", "/nonexistent"))
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want one containing %s", tc.args, err, tc.want)
		}
	}
}
