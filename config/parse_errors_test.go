package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // one line per problem, in file order
	}{
		{
			name: "malformed",
			yaml: "concurrent: 2\nrunners:\n  - name: a\n   url: x\n",
			// yaml points at the start of the broken block, the sequence on line 3.
			want: []string{`config.yaml:3: malformed YAML: did not find expected '-' indicator`},
		},
		{
			name: "unclosed flow sequence",
			yaml: "concurrent: 1\nlog_level: info\nlistens: [1, 2\nlog_format: text\n",
			want: []string{`config.yaml:3: malformed YAML: did not find expected ',' or ']'`},
		},
		{
			name: "list item where a key goes",
			yaml: "- a\nb: 1\n",
			want: []string{`config.yaml:2: malformed YAML: did not find expected '-' indicator`},
		},
		{
			// yaml gives no line at all when the problem is on line 1.
			name: "parser error on the first line",
			yaml: "{concurrent: 1",
			want: []string{`config.yaml:1: malformed YAML: did not find expected ',' or '}'`},
		},
		{
			name: "tab indentation",
			yaml: "runners:\n\t- name: a\n",
			want: []string{`config.yaml:2: malformed YAML: found character that cannot start any token`},
		},
		{
			name: "second document",
			yaml: "concurrent: 2\n---\nconcurrent: 3\n",
			want: []string{`config.yaml:2: a second YAML document; the file must hold one`},
		},
		{
			name: "top level is not a mapping",
			yaml: "- concurrent: 1\n",
			want: []string{`config.yaml:1: expected a mapping, got a list`},
		},
		{
			name: "validation problems in file order across runners",
			yaml: "runners:\n  - name: a\n    executor: docker\n  - name: a\n    url: https://gitlab.example.com\n    token: t\nconcurrent: 0\n",
			want: []string{
				`config.yaml:2: runners[0].url: required`,
				`config.yaml:2: runners[0].token: required`,
				`config.yaml:3: runners[0].executor: "docker" is not supported; the only executor is "kubernetes"`,
				`config.yaml:4: runners[1].name: "a" is already the name of runners[0]`,
				`config.yaml:7: concurrent: must be at least 1, got 0`,
			},
		},
		{
			name: "merge of a mapping into itself",
			yaml: "runners:\n  - &a\n    <<: *a\n",
			want: []string{`config.yaml:3: runners[0]: alias *a contains itself`},
		},
		{
			name: "alias bomb",
			yaml: aliasBomb(7),
			want: []string{`config.yaml:1: log_level: the document expands to too many values (aliases nested too deep?)`},
		},
		{
			name: "unknown top-level key",
			yaml: "concurent: 2\n",
			want: []string{`config.yaml:1: concurent: unknown key (did you mean "concurrent"?)`},
		},
		{
			name: "unknown runner key",
			yaml: "concurrent: 1\nrunners:\n  - name: a\n    tokn: x\n    url: https://gitlab.example.com\n",
			want: []string{`config.yaml:4: runners[0].tokn: unknown key (did you mean "token"?)`},
		},
		{
			name: "unknown key under kubernetes",
			yaml: runner + "    kubernetes:\n      namespce: ci\n",
			want: []string{`config.yaml:6: runners[0].kubernetes.namespce: unknown key (did you mean "namespace"?)`},
		},
		{
			name: "unknown key in a kubernetes list item",
			yaml: runner + "    kubernetes:\n      tolerations:\n        - key: a\n          efect: NoSchedule\n",
			want: []string{`config.yaml:8: runners[0].kubernetes.tolerations[0].efect: unknown key (did you mean "effect"?)`},
		},
		{
			name: "list in a free-form map",
			yaml: runner + "    kubernetes:\n      node_selector:\n        pool: [a, b]\n",
			want: []string{`config.yaml:7: runners[0].kubernetes.node_selector.pool: expected a string, got a list`},
		},
		{
			name: "kubernetes validation is placed in the file",
			yaml: runner + "    kubernetes:\n      namespace: ci\n      pull_policy: sometimes\n",
			want: []string{`config.yaml:7: runners[0].kubernetes.pull_policy: "sometimes" is not one of [always if-not-present never]`},
		},
		{
			// Checks with Kubernetes' types are placed like every other (they were once
			// the executor's, at start, with no file or line).
			name: "kubernetes types are placed in the file",
			yaml: runner + "    kubernetes:\n      build:\n        cpu_request: lots\n      pod_spec_patches:\n        - name: x\n          type: merge\n          patch: 'hostnetwork: true'\n",
			want: []string{
				`config.yaml:7: runners[0].kubernetes.build.cpu_request: "lots" is not a Kubernetes quantity (examples: 500m, 2, 1Gi)`,
				`config.yaml:11: runners[0].kubernetes.pod_spec_patches[0].patch: pod spec after patches: unknown field "hostnetwork"`,
			},
		},
		{
			name: "cache_url that is not a URL",
			yaml: runner + "    kubernetes:\n      cache_url: cache.internal/cache\n",
			want: []string{`config.yaml:6: runners[0].kubernetes.cache_url: "cache.internal/cache" is not an http:// or https:// URL`},
		},
		{
			name: "unknown key with nothing close",
			yaml: "privileged: true\n",
			want: []string{`config.yaml:1: privileged: unknown key`},
		},
		{
			name: "duplicate key",
			yaml: "concurrent: 1\nlog_level: info\nconcurrent: 2\n",
			want: []string{`config.yaml:3: concurrent: duplicate key (first set at line 1)`},
		},
		{
			name: "bad duration",
			yaml: "check_interval: 5x\n",
			want: []string{`config.yaml:1: check_interval: "5x" is not a duration (examples: 3s, 1m30s)`},
		},
		{
			name: "duration without unit",
			yaml: "shutdown_timeout: 30\n",
			want: []string{`config.yaml:1: shutdown_timeout: "30" is not a duration (examples: 3s, 1m30s)`},
		},
		{
			name: "not an integer",
			yaml: "concurrent: many\n",
			want: []string{`config.yaml:1: concurrent: "many" is not an integer`},
		},
		{
			name: "runners is not a list",
			yaml: "runners:\n  name: a\n",
			want: []string{`config.yaml:2: runners: expected a list, got a mapping`},
		},
		{
			name: "runner is not a mapping",
			yaml: "runners:\n  - a\n",
			want: []string{`config.yaml:2: runners[0]: expected a mapping, got a scalar`},
		},
		{
			name: "list where a string goes",
			yaml: "log_level: [debug]\n",
			want: []string{`config.yaml:1: log_level: expected a string, got a list`},
		},
		{
			name: "structural problems are all reported",
			yaml: "concurent: 2\ncheck_interval: soon\nrunners:\n  - nam: a\n",
			want: []string{
				`config.yaml:1: concurent: unknown key (did you mean "concurrent"?)`,
				`config.yaml:2: check_interval: "soon" is not a duration (examples: 3s, 1m30s)`,
				`config.yaml:4: runners[0].nam: unknown key (did you mean "name"?)`,
			},
		},
		{
			name: "bad url",
			yaml: "concurrent: 1\nlog_level: info\nrunners:\n  - name: a\n    token: t\n\n    url: htp//x\n",
			want: []string{`config.yaml:7: runners[0].url: "htp//x" is not an absolute http(s) URL`},
		},
		{
			name: "url with api suffix",
			yaml: "runners:\n  - name: a\n    token: t\n    url: https://gitlab.example.com/api/v4/\n",
			want: []string{`config.yaml:4: runners[0].url: "https://gitlab.example.com/api/v4/" ends in /api/v4; give GitLab's base URL, kuberunner adds the API path`},
		},
		{
			name: "url without host",
			yaml: "runners:\n  - name: a\n    token: t\n    url: https:///path\n",
			want: []string{`config.yaml:4: runners[0].url: "https:///path" is not an absolute http(s) URL`},
		},
		{
			name: "url scheme",
			yaml: "runners:\n  - name: a\n    token: t\n    url: ftp://gitlab.example.com\n",
			want: []string{`config.yaml:4: runners[0].url: "ftp://gitlab.example.com" is not an absolute http(s) URL`},
		},
		{
			name: "missing token is placed at the runner",
			yaml: "concurrent: 1\nrunners:\n  - name: a\n    url: https://gitlab.example.com\n",
			want: []string{`config.yaml:3: runners[0].token: required`},
		},
		{
			name: "missing url and name",
			yaml: "runners:\n  - token: t\n",
			want: []string{
				`config.yaml:2: runners[0].name: required`,
				`config.yaml:2: runners[0].url: required`,
			},
		},
		{
			name: "duplicate name",
			yaml: runner + "  - name: a\n    url: https://gitlab.example.com\n    token: t2\n",
			want: []string{`config.yaml:5: runners[1].name: "a" is already the name of runners[0]`},
		},
		{
			name: "bad log level",
			yaml: "log_level: verbose\n",
			want: []string{`config.yaml:1: log_level: "verbose" is not one of debug, info, warn, error`},
		},
		{
			name: "bad log format",
			yaml: "log_format: xml\n",
			want: []string{`config.yaml:1: log_format: "xml" is not one of text, json`},
		},
		{
			name: "listen address without port",
			yaml: "listen_address: localhost\n",
			want: []string{`config.yaml:1: listen_address: "localhost" is not host:port (for example ":9252" or "127.0.0.1:9252")`},
		},
		{
			name: "listen address port out of range",
			yaml: "listen_address: \":70000\"\n",
			want: []string{`config.yaml:1: listen_address: ":70000" is not host:port (for example ":9252" or "127.0.0.1:9252")`},
		},
		{
			name: "shutdown_jobs typo",
			yaml: "shutdown_jobs: leav\n",
			want: []string{`config.yaml:1: shutdown_jobs: "leav" is not one of leave, wait`},
		},
		{
			name: "global numbers",
			yaml: "concurrent: 0\ncheck_interval: 0s\nshutdown_timeout: -1s\nreload_interval: -1s\n",
			want: []string{
				`config.yaml:1: concurrent: must be at least 1, got 0`,
				`config.yaml:2: check_interval: must be positive, got 0s`,
				`config.yaml:3: shutdown_timeout: must not be negative, got -1s`,
				`config.yaml:4: reload_interval: must not be negative (0 turns reloading off), got -1s`,
			},
		},
		{
			name: "runner numbers and executor",
			yaml: runner + "    limit: -1\n    request_concurrency: 0\n    output_limit: -5\n    executor: docker\n    id: -3\n",
			want: []string{
				`config.yaml:5: runners[0].limit: must not be negative, got -1`,
				`config.yaml:6: runners[0].request_concurrency: must be at least 1, got 0`,
				`config.yaml:7: runners[0].output_limit: must not be negative, got -5`,
				`config.yaml:8: runners[0].executor: "docker" is not supported; the only executor is "kubernetes"`,
				`config.yaml:9: runners[0].id: must not be negative, got -3`,
			},
		},
		{
			name: "token times",
			yaml: runner + "    token_expires_at: tomorrow\n    token_obtained_at: 2024-01-02\n",
			want: []string{
				`config.yaml:5: runners[0].token_expires_at: "tomorrow" is not an RFC 3339 time`,
				`config.yaml:6: runners[0].token_obtained_at: "2024-01-02" is not an RFC 3339 time`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("config.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse succeeded with %+v, want errors", c)
			}
			if c != nil {
				t.Errorf("Parse returned a Config along with an error")
			}
			if diff := cmp.Diff(tt.want, strings.Split(err.Error(), "\n")); diff != "" {
				t.Errorf("errors mismatch (-want +got):\n%s", diff)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Errorf("errors.As(%T, *Error) = false", err)
			}
		})
	}
}
