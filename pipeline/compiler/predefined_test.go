package compiler

import (
	"testing"
)

func varMap(vars []Var) map[string]string {
	m := map[string]string{}
	for _, v := range vars {
		m[v.Key] = v.Value
	}
	return m
}

func TestPredefinedVariables(t *testing.T) {
	tests := []struct {
		name string
		git  GitState
		want map[string]string // a subset of what must be there
		gone []string          // keys that must be absent
	}{
		{
			name: "branch",
			git: GitState{Sha: "0123456789abcdef0123456789abcdef01234567", Branch: "Feature/Login_Page",
				Message: "Fix login\n\nThe button did nothing.\n", DefaultBranch: "main",
				ProjectName: "app", ProjectPath: "acme/web/app"},
			want: map[string]string{
				"CI": "true", "CI_PIPELINE_SOURCE": "push",
				"CI_COMMIT_SHA": "0123456789abcdef0123456789abcdef01234567", "CI_COMMIT_SHORT_SHA": "01234567",
				"CI_COMMIT_BEFORE_SHA": zeroSha, "CI_COMMIT_BRANCH": "Feature/Login_Page",
				"CI_COMMIT_REF_NAME": "Feature/Login_Page", "CI_COMMIT_REF_SLUG": "feature-login-page",
				"CI_COMMIT_MESSAGE": "Fix login\n\nThe button did nothing.\n", "CI_COMMIT_TITLE": "Fix login",
				"CI_COMMIT_DESCRIPTION": "The button did nothing.", "CI_DEFAULT_BRANCH": "main",
				"CI_PROJECT_NAME": "app", "CI_PROJECT_PATH": "acme/web/app", "CI_PROJECT_PATH_SLUG": "acme-web-app",
				"CI_PROJECT_NAMESPACE": "acme/web", "CI_PROJECT_ROOT_NAMESPACE": "acme",
			},
			gone: []string{"CI_COMMIT_TAG"},
		},
		{
			name: "tag",
			git:  GitState{Sha: "abc", BeforeSha: "def", Tag: "v1.0.0", Message: "Release", ProjectPath: "p", ProjectName: "p"},
			want: map[string]string{
				"CI_COMMIT_TAG": "v1.0.0", "CI_COMMIT_REF_NAME": "v1.0.0", "CI_COMMIT_REF_SLUG": "v1-0-0",
				"CI_COMMIT_SHORT_SHA": "abc", "CI_COMMIT_BEFORE_SHA": "def", "CI_COMMIT_TITLE": "Release",
				"CI_COMMIT_DESCRIPTION": "", "CI_PROJECT_NAMESPACE": "",
			},
			gone: []string{"CI_COMMIT_BRANCH"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vars := PredefinedVariables(tc.git)
			got := varMap(vars)
			for k, want := range tc.want {
				if got[k] != want {
					t.Errorf("%s = %q, want %q", k, got[k], want)
				}
			}
			for _, k := range tc.gone {
				if _, ok := got[k]; ok {
					t.Errorf("%s is set, want it absent", k)
				}
			}
			for _, v := range vars {
				if v.Expand {
					t.Errorf("%s has Expand=true; predefined values must be taken literally", v.Key)
				}
			}
		})
	}
}

func TestSlug(t *testing.T) {
	tests := map[string]string{
		"main":                     "main",
		"Feature/ABC_def":          "feature-abc-def",
		"--x--":                    "x",
		"release/1.2":              "release-1-2",
		string(make([]byte, 0)):    "",
		"a" + string(rune(0x00e9)): "a",
	}
	long := ""
	for range 70 {
		long += "a"
	}
	tests[long] = long[:63]
	for in, want := range tests {
		if got := Slug(in); got != want {
			t.Errorf("Slug(%q) = %q, want %q", in, got, want)
		}
	}
}
