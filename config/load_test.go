package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// ignoreSource leaves out where a Config was read from; tests compare the settings.
var ignoreSource = cmpopts.IgnoreUnexported(Config{})

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want *Config
	}{
		{
			name: "empty file is the default",
			yaml: "",
			want: Default(),
		},
		{
			name: "comment only",
			yaml: "# nothing yet\n",
			want: Default(),
		},
		{
			name: "runner defaults fill absent keys",
			yaml: `
runners:
  - name: a
    url: https://gitlab.example.com
    token: glrt-abc
`,
			want: func() *Config {
				c := Default()
				r := DefaultRunner()
				r.Name, r.URL, r.Token = "a", "https://gitlab.example.com", "glrt-abc"
				c.Runners = []Runner{r}
				return c
			}(),
		},
		{
			name: "every key set",
			yaml: `
concurrent: 8
check_interval: 1s
reload_interval: 10s
listen_address: "127.0.0.1:9252"
shutdown_timeout: 2m
shutdown_jobs: wait
log_level: debug
log_format: json
runners:
  - name: a
    url: https://gitlab.example.com/gitlab/
    id: 42
    token: glrt-abc
    token_expires_at: "2030-01-02T03:04:05Z"
    token_obtained_at: "2029-10-02T03:04:05Z"
    tls_ca_file: /etc/ca.pem
    limit: 3
    request_concurrency: 2
    output_limit: 0
    unhealthy_requests_limit: 5
    unhealthy_interval: 10m
    executor: kubernetes
    kubernetes:
      kubeconfig: /root/.kube/config
      context: kind
      namespace: ci
      helper_image: registry.example.com/kuberunner:1
      image: alpine:3
`,
			want: &Config{
				Concurrent:      8,
				CheckInterval:   Duration(time.Second),
				ReloadInterval:  Duration(10 * time.Second),
				ListenAddress:   "127.0.0.1:9252",
				ShutdownTimeout: Duration(2 * time.Minute),
				ShutdownJobs:    ShutdownWait,
				LogLevel:        "debug",
				LogFormat:       "json",
				Runners: []Runner{{
					Name:               "a",
					URL:                "https://gitlab.example.com/gitlab/",
					ID:                 42,
					Token:              "glrt-abc",
					TokenExpiresAt:     "2030-01-02T03:04:05Z",
					TokenObtainedAt:    "2029-10-02T03:04:05Z",
					TLSCAFile:          "/etc/ca.pem",
					Limit:              3,
					RequestConcurrency: 2,
					OutputLimit:        0,
					Executor:           "kubernetes",

					UnhealthyRequestsLimit: 5,
					UnhealthyInterval:      Duration(10 * time.Minute),
					Kubernetes: withDefaults(Kubernetes{
						Kubeconfig:  "/root/.kube/config",
						Context:     "kind",
						Namespace:   "ci",
						HelperImage: "registry.example.com/kuberunner:1",
						Image:       "alpine:3",
					}),
				}},
			},
		},
		{
			// The executor's section decodes like the rest: nested lists, free-form maps.
			name: "kubernetes section",
			yaml: runner + `    kubernetes:
      node_selector: {pool: ci}
      tolerations:
        - {key: dedicated, operator: Equal, value: ci, effect: NoSchedule}
      affinity:
        nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {}}
`,
			want: func() *Config {
				c := Default()
				r := DefaultRunner()
				r.Name, r.URL, r.Token = "a", "https://gitlab.example.com", "glrt-secret-token"
				r.Kubernetes.NodeSelector = map[string]string{"pool": "ci"}
				r.Kubernetes.Tolerations = []Toleration{{Key: "dedicated", Operator: "Equal", Value: "ci", Effect: "NoSchedule"}}
				r.Kubernetes.Affinity = map[string]any{
					"nodeAffinity": map[string]any{"requiredDuringSchedulingIgnoredDuringExecution": map[string]any{}},
				}
				c.Runners = []Runner{r}
				return c
			}(),
		},
		{
			name: "null value takes the default",
			yaml: "concurrent:\nlog_level: ~\n",
			want: Default(),
		},
		{
			name: "merge keys share settings between runners",
			yaml: `
runners:
  - &base
    name: a
    url: https://gitlab.example.com
    token: t1
    kubernetes: {namespace: ci}
  - <<: *base
    name: b
    token: t2
`,
			want: func() *Config {
				c := Default()
				a := DefaultRunner()
				a.Name, a.URL, a.Token, a.Kubernetes.Namespace = "a", "https://gitlab.example.com", "t1", "ci"
				b := a
				b.Name, b.Token = "b", "t2"
				c.Runners = []Runner{a, b}
				return c
			}(),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("config.yaml", []byte(tt.yaml))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, ignoreSource); diff != "" {
				t.Errorf("Parse mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestErrorsKeepSecrets(t *testing.T) {
	const secret = "hunter2-glrt-secret"
	yaml := "runners:\n" +
		"  - name: a\n    token: " + secret + "\n    url: https://user:" + secret + "@gitlab.example.com\n" +
		"  - name: b\n    token: " + secret + "\n    url: htp://user:" + secret + "@gitlab.example.com/x\n" +
		"  - name: c\n    token: " + secret + "\n    url: \"https://user:" + secret + "@%zz\"\n"
	_, err := Parse("config.yaml", []byte(yaml))
	if err == nil {
		t.Fatal("Parse succeeded, want URL errors")
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error reveals a secret:\n%v", err)
	}
	if got := strings.Count(err.Error(), "\n") + 1; got != 3 {
		t.Errorf("got %d errors, want one per runner:\n%v", got, err)
	}
}

func TestValidateWithoutSource(t *testing.T) {
	c := Default()
	c.Runners = []Runner{DefaultRunner()}
	c.Runners[0].Name = "a"
	c.Runners[0].URL = "https://gitlab.example.com"
	err := c.Validate()
	want := "runners[0].token: required"
	if err == nil || err.Error() != want {
		t.Errorf("Validate() = %v, want %q", err, want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load(absent) = %v, want an error matching fs.ErrNotExist", err)
	}
}

func TestRunnerLookup(t *testing.T) {
	c := Default()
	c.Runners = []Runner{{Name: "a"}, {Name: "b"}}
	r, ok := c.Runner("b")
	if !ok || r.Name != "b" {
		t.Fatalf("Runner(b) = %v, %v; want runner b", r, ok)
	}
	r.Token = "rotated"
	if c.Runners[1].Token != "rotated" {
		t.Errorf("Runner returned a copy; a token rotated through it would be lost on Save")
	}
	if r, ok := c.Runner("c"); ok {
		t.Errorf("Runner(c) = %v, true; want not found", r)
	}
}

func TestSuggest(t *testing.T) {
	known := yamlFields(reflectTypeOf[Runner]())
	tests := []struct{ in, want string }{
		{"tokn", ` (did you mean "token"?)`},
		{"ur", ` (did you mean "url"?)`},
		{"requestconcurrency", ` (did you mean "request_concurrency"?)`},
		{"Executor", ` (did you mean "executor"?)`},
		{"image", ""},
		{"xyz", ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.in, known); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestRebaseNestedErrors(t *testing.T) {
	s := &source{file: "c.yaml", lines: map[string]int{
		"runners[0].kubernetes":           5,
		"runners[0].kubernetes.namespace": 6,
	}}
	nested := errors.Join(&Error{Key: "namespace", Msg: "bad"}, errors.New("plain"))
	var got []string
	for _, err := range s.rebase("runners[0].kubernetes", nested) {
		got = append(got, err.Error())
	}
	want := []string{
		"c.yaml:6: runners[0].kubernetes.namespace: bad",
		"c.yaml:5: runners[0].kubernetes: plain",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("rebase (-want +got):\n%s", diff)
	}
}
