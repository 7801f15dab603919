package builder

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	gatewaypb "github.com/moby/buildkit/frontend/gateway/pb"
)

func TestDefaultCacheBesideFirstTag(t *testing.T) {
	from, to := DefaultCache([]string{"10.0.0.1:5000/group/app:tmp", "10.0.0.1:5000/group/app:v1"}, true, nil, nil)
	wantFrom := []CacheEntry{{Type: "registry", Attrs: map[string]string{"ref": "10.0.0.1:5000/group/app:buildcache"}}}
	wantTo := []CacheEntry{{Type: "registry", Attrs: map[string]string{"ref": "10.0.0.1:5000/group/app:buildcache", "mode": "max"}}}
	if diff := cmp.Diff(wantFrom, from); diff != "" {
		t.Errorf("cache-from (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(wantTo, to); diff != "" {
		t.Errorf("cache-to (-want +got):\n%s", diff)
	}
}

func TestDefaultCacheOnlyWhenPushingAndNoneGiven(t *testing.T) {
	given := []CacheEntry{{Type: "registry", Attrs: map[string]string{"ref": "r/c:x"}}}
	for name, tc := range map[string]struct {
		push     bool
		from, to []CacheEntry
	}{
		"no push":          {push: false},
		"cache-from given": {push: true, from: given},
		"cache-to given":   {push: true, to: given},
	} {
		from, to := DefaultCache([]string{"r/app:1"}, tc.push, tc.from, tc.to)
		if !cmp.Equal(from, tc.from) || !cmp.Equal(to, tc.to) {
			t.Errorf("%s: the default replaced what was given: from %v to %v", name, from, to)
		}
	}
}

func TestRepositoryAndHost(t *testing.T) {
	for ref, want := range map[string][2]string{
		"10.0.0.1:5000/app:tmp":         {"10.0.0.1:5000/app", "10.0.0.1:5000"},
		"10.0.0.1:5000/app":             {"10.0.0.1:5000/app", "10.0.0.1:5000"},
		"reg.example/a/b:1@sha256:abcd": {"reg.example/a/b", "reg.example"},
		"busybox:1.35":                  {"busybox", "docker.io"},
		"library/busybox":               {"library/busybox", "docker.io"},
		"localhost/app:1":               {"localhost/app", "localhost"},
	} {
		if got := [2]string{repository(ref), registryHost(ref)}; got != want {
			t.Errorf("%s: got %v, want %v", ref, got, want)
		}
	}
}

func TestParseCacheEntry(t *testing.T) {
	for in, want := range map[string]CacheEntry{
		"type=registry,ref=r/app:cache,mode=max": {Type: "registry", Attrs: map[string]string{"ref": "r/app:cache", "mode": "max"}},
		"r/app:cache":                            {Type: "registry", Attrs: map[string]string{"ref": "r/app:cache"}},
		"type=inline":                            {Type: "inline", Attrs: map[string]string{}},
	} {
		got, err := ParseCacheEntry(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", in, diff)
		}
	}
	for _, bad := range []string{"", "type=registry", "ref=x", "type=registry,ref=x,max"} {
		if _, err := ParseCacheEntry(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseSecret(t *testing.T) {
	for in, want := range map[string]Secret{
		"id=npm,env=NPM_TOKEN":            {ID: "npm", Env: "NPM_TOKEN"},
		"id=npm,src=/run/npmrc":           {ID: "npm", Src: "/run/npmrc"},
		"id=npm,source=/run/npmrc":        {ID: "npm", Src: "/run/npmrc"},
		"type=env,id=npm,src=NPM_TOKEN":   {ID: "npm", Env: "NPM_TOKEN"},
		"type=file,id=npm,src=/run/npmrc": {ID: "npm", Src: "/run/npmrc"},
		"id=NPM_TOKEN":                    {ID: "NPM_TOKEN", Env: "NPM_TOKEN"},
		`id=a,"src=/x,y"`:                 {ID: "a", Src: "/x,y"}, // buildx quotes the whole field
	} {
		got, err := ParseSecret(in)
		if err != nil {
			t.Errorf("%s: %v", in, err)
			continue
		}
		if got != want {
			t.Errorf("%s: got %+v, want %+v", in, got, want)
		}
	}
	for _, bad := range []string{"env=X", "id=a,env=X,src=/f", "id=a,type=ssh", "id=a,typo=1", "type=file,id=a", "id=a,x"} {
		if _, err := ParseSecret(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestParseBuildArgs(t *testing.T) {
	env := map[string]string{"FROM_ENV": "e,v=1"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	got, err := ParseBuildArgs([]string{"A=1", "LIST=a,b,c", "EMPTY=", "FROM_ENV", "UNSET"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"A": "1", "LIST": "a,b,c", "EMPTY": "", "FROM_ENV": "e,v=1"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if _, err := ParseBuildArgs([]string{"=x"}, lookup); err == nil {
		t.Error("a build-arg without a name is accepted")
	}
}

func TestInsecureRegistries(t *testing.T) {
	list := ParseInsecureRegistries(" 10.0.0.1:5000, ,reg.local:80,")
	if diff := cmp.Diff([]string{"10.0.0.1:5000", "reg.local:80"}, list); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	o := BuildOptions{Tags: []string{"10.0.0.1:5000/app:1"}, InsecureRegistries: list, Push: true,
		CacheTo: []CacheEntry{{Type: "registry", Attrs: map[string]string{"ref": "10.0.0.1:5000/app:buildcache"}}}}
	if got := o.exportAttrs(); got["registry.insecure"] != "true" || got["push"] != "true" || got["name"] != "10.0.0.1:5000/app:1" {
		t.Errorf("export attrs %v: want name, push and registry.insecure", got)
	}
	if got := o.cacheEntries(o.CacheTo); got[0].Attrs["registry.insecure"] != "true" {
		t.Errorf("cache export to an insecure registry: %v", got)
	}
	o.Tags = []string{"secure.example/app:1"}
	if got := o.exportAttrs(); got["registry.insecure"] != "" {
		t.Errorf("a registry not listed is reached insecurely: %v", got)
	}
}

func TestExitCode(t *testing.T) {
	for name, tc := range map[string]struct {
		err  error
		want int
	}{
		"nil":     {nil, 0},
		"typed":   {fmt.Errorf("solve: %w", &gatewaypb.ExitError{ExitCode: 42, Err: errors.New("boom")}), 42},
		"text":    {errors.New(`failed to solve: process "/bin/sh -c exit 3" did not complete successfully: exit code: 3`), 3},
		"other":   {errors.New("failed to solve: dockerfile parse error"), 1},
		"too big": {errors.New("exit code: 300"), 1},
		"zero":    {errors.New("exit code: 0"), 1},
	} {
		if got := ExitCode(tc.err); got != tc.want {
			t.Errorf("%s: ExitCode = %d, want %d", name, got, tc.want)
		}
	}
}
