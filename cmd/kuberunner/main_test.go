package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kuberunner/kuberunner/config"
	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/coordinator/coordinatortest"
	"github.com/kuberunner/kuberunner/internal/climain"
)

// runCLI runs the app as main does and returns its output and the process exit code.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = climain.Run(newApp(&out, &errOut), append([]string{"kuberunner"}, args...), &errOut)
	return out.String(), errOut.String(), code
}

func TestRegisterWithAuthenticationToken(t *testing.T) {
	srv, url := coordinatortest.Start(t, coordinator.Options{})
	token := srv.AddRunner(coordinator.RunnerSpec{Tags: []string{"k8s"}, RunUntagged: true})
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")

	out, errOut, code := runCLI(t, "register", "--config", cfgPath, "--url", url, "--token", token, "--name", "ci-1")
	if code != 0 {
		t.Fatalf("register exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, `Runner "ci-1" registered`) {
		t.Errorf("output %q does not confirm the registration", out)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := cfg.Runner("ci-1")
	if !ok || r.Token != token || r.URL != url || r.ID == 0 {
		t.Fatalf("saved runner = %+v, want token, url and id from GitLab", r)
	}
	if fi, err := os.Stat(cfgPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("config mode = %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	// The manager announced its persisted system_id to GitLab.
	sysID, err := os.ReadFile(systemIDPath(cfgPath))
	if err != nil {
		t.Fatal(err)
	}
	rs := srv.Runners()
	if len(rs) != 1 || !slices.Contains(rs[0].SystemIDs, strings.TrimSpace(string(sysID))) {
		t.Errorf("GitLab saw system ids %v, want %q", rs, sysID)
	}
}

func TestRegisterWithLegacyRegistrationToken(t *testing.T) {
	srv, url := coordinatortest.Start(t, coordinator.Options{RegistrationToken: "reg-secret-123"})
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")

	_, errOut, code := runCLI(t, "register", "--config", cfgPath, "--url", url,
		"--registration-token", "reg-secret-123", "--name", "legacy", "--tag-list", "k8s,linux", "--locked")
	if code != 0 {
		t.Fatalf("register exit %d: %s", code, errOut)
	}
	rs := srv.Runners()
	if len(rs) != 1 {
		t.Fatalf("GitLab has %d runners, want 1", len(rs))
	}
	if !slices.Equal(rs[0].Tags, []string{"k8s", "linux"}) || !rs[0].Locked || rs[0].Description != "legacy" {
		t.Errorf("GitLab recorded %+v, want tags k8s,linux, locked, description legacy", rs[0])
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := cfg.Runner("legacy"); !ok || r.Token != rs[0].Token {
		t.Errorf("saved runner %+v does not hold the token GitLab issued", r)
	}
}

// A token with an expiry is saved with the time it was obtained, which rotation needs.
func TestRegisterRecordsTokenTimes(t *testing.T) {
	srv, url := coordinatortest.Start(t, coordinator.Options{TokenLifetime: 90 * 24 * time.Hour})
	token := srv.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	before := time.Now().Truncate(time.Second)
	if _, errOut, code := runCLI(t, "register", "--config", cfgPath, "--url", url, "--token", token, "--name", "ci"); code != 0 {
		t.Fatalf("register exit %d: %s", code, errOut)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := cfg.Runner("ci")
	want := srv.Runners()[0].TokenExpiresAt.UTC().Format(time.RFC3339)
	if r.TokenExpiresAt != want {
		t.Errorf("token_expires_at = %q, want GitLab's %q", r.TokenExpiresAt, want)
	}
	obtained, err := time.Parse(time.RFC3339, r.TokenObtainedAt)
	if err != nil || obtained.Before(before) || obtained.After(time.Now()) {
		t.Errorf("token_obtained_at = %q (%v), want the time of registration", r.TokenObtainedAt, err)
	}
}

func TestRegisterBadTokenFailsClearly(t *testing.T) {
	_, url := coordinatortest.Start(t, coordinator.Options{RegistrationToken: "right"})
	tests := []struct{ name, flag, token string }{
		{"authentication token", "--token", "glrt-not-a-real-token"},
		{"registration token", "--registration-token", "wrong-registration"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfgPath := filepath.Join(t.TempDir(), "config.yaml")
			_, errOut, code := runCLI(t, "register", "--config", cfgPath, "--url", url, tc.flag, tc.token, "--name", "x")
			if code != 1 {
				t.Errorf("exit code %d, want 1", code)
			}
			if !strings.Contains(errOut, "register with "+url) || !strings.Contains(strings.ToLower(errOut), "token") {
				t.Errorf("error %q should name the GitLab URL and the token problem", errOut)
			}
			if strings.Contains(errOut, tc.token) {
				t.Errorf("error %q leaks the token", errOut)
			}
			if _, err := os.Stat(cfgPath); !os.IsNotExist(err) {
				t.Errorf("a failed registration wrote %s", cfgPath)
			}
		})
	}
}

func TestUnregisterAndVerify(t *testing.T) {
	srv, url := coordinatortest.Start(t, coordinator.Options{})
	token := srv.AddRunner(coordinator.RunnerSpec{RunUntagged: true})
	cfgPath := filepath.Join(t.TempDir(), "config.yaml")
	if _, e, code := runCLI(t, "register", "--config", cfgPath, "--url", url, "--token", token, "--name", "r1"); code != 0 {
		t.Fatal(e)
	}
	if out, e, code := runCLI(t, "verify", "--config", cfgPath); code != 0 || !strings.Contains(out, "valid") {
		t.Fatalf("verify: exit %d, out %q, err %q", code, out, e)
	}
	if out, e, code := runCLI(t, "list", "--config", cfgPath); code != 0 || !strings.Contains(out, "r1") || strings.Contains(out, token) {
		t.Fatalf("list: exit %d, out %q (must name r1 and hide the token), err %q", code, out, e)
	}
	if _, e, code := runCLI(t, "unregister", "--config", cfgPath, "--name", "r1"); code != 0 {
		t.Fatalf("unregister: %s", e)
	}
	if len(srv.Runners()) != 0 {
		t.Errorf("GitLab still has %d runners after unregister", len(srv.Runners()))
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Runners) != 0 {
		t.Errorf("config still lists %v", cfg.Runners)
	}
}

func TestRunRefusesBadConfig(t *testing.T) {
	tests := []struct{ name, yaml, want string }{
		{"malformed", "concurrent: [1\n", "config.yaml:"},
		{"unknown key", "concurrent: 1\nrunners:\n  - name: a\n    url: https://gitlab.example.com\n    tokn: x\n", "runners[0].tokn"},
		{"bad url", "runners:\n  - name: a\n    url: htp//x\n    token: t\n", "runners[0].url"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			_, errOut, code := runCLI(t, "run", "--config", path)
			if code != 1 || !strings.Contains(errOut, tc.want) {
				t.Errorf("exit %d, error %q; want exit 1 naming %q", code, errOut, tc.want)
			}
		})
	}
}

func TestHelpReadsLikeGitLabRunner(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"run", "register", "verify", "unregister", "list", "version"}},
		{[]string{"register", "--help"}, []string{"--url", "--token", "--registration-token", "--tag-list", "--run-untagged", "glrt-", "KUBERUNNER_URL"}},
		{[]string{"run", "--help"}, []string{"--config", "shutdown_timeout", "KUBERUNNER_CONFIG", "/metrics"}},
	}
	for _, tc := range tests {
		out, errOut, code := runCLI(t, tc.args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("%v: help lacks %q:\n%s", tc.args, w, out)
			}
		}
	}
}

func TestParseDeployAndRegistry(t *testing.T) {
	d, err := parseDeploy("review/*=review:kuberunner-deployer")
	if err != nil || d != (config.Deploy{Environment: "review/*", Namespace: "review", ClusterRole: "kuberunner-deployer"}) {
		t.Errorf("parseDeploy = %+v, %v", d, err)
	}
	if d, err := parseDeploy("staging=staging"); err != nil || d.ClusterRole != "" {
		t.Errorf("parseDeploy without a role = %+v, %v (the config default applies later)", d, err)
	}
	for _, bad := range []string{"staging", "=ns", "staging="} {
		if _, err := parseDeploy(bad); err == nil || !strings.Contains(err.Error(), "ENV=NAMESPACE") {
			t.Errorf("parseDeploy(%q) = %v, want an error naming the form", bad, err)
		}
	}
	if h, insecure := parseRegistry("http://10.0.0.1:5000/"); h != "10.0.0.1:5000" || !insecure {
		t.Errorf("parseRegistry(http://...) = %q, %v", h, insecure)
	}
	if h, insecure := parseRegistry("registry.example.com"); h != "registry.example.com" || insecure {
		t.Errorf("parseRegistry(host) = %q, %v", h, insecure)
	}
}
