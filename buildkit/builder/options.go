package builder

import (
	"encoding/csv"
	"fmt"
	"slices"
	"strings"
)

// CacheEntry is one --cache-from or --cache-to in buildx syntax: type=registry,ref=R,mode=max.
type CacheEntry struct {
	Type  string
	Attrs map[string]string
}

// Secret is one --secret: the build sees ID; its value comes from the variable Env or the
// file Src.
type Secret struct {
	ID  string
	Env string
	Src string
}

// csvFields splits buildx's comma-separated key=value lists, honouring CSV quoting so a value
// may itself contain a comma.
func csvFields(s string) (map[string]string, []string, error) {
	r := csv.NewReader(strings.NewReader(s))
	fields, err := r.Read()
	if err != nil {
		return nil, nil, fmt.Errorf("parse %q: %w", s, err)
	}
	kv := map[string]string{}
	var bare []string
	for _, f := range fields {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			bare = append(bare, f)
			continue
		}
		kv[strings.ToLower(strings.TrimSpace(k))] = v
	}
	return kv, bare, nil
}

// ParseCacheEntry reads one --cache-from/--cache-to value. A bare reference means
// type=registry,ref=THAT, as buildx reads it.
func ParseCacheEntry(s string) (CacheEntry, error) {
	if !strings.Contains(s, "=") {
		if s == "" {
			return CacheEntry{}, fmt.Errorf("empty cache option")
		}
		return CacheEntry{Type: "registry", Attrs: map[string]string{"ref": s}}, nil
	}
	kv, bare, err := csvFields(s)
	if err != nil {
		return CacheEntry{}, err
	}
	if len(bare) > 0 {
		return CacheEntry{}, fmt.Errorf("cache option %q: want key=value, got %q", s, bare[0])
	}
	e := CacheEntry{Type: kv["type"], Attrs: kv}
	delete(e.Attrs, "type")
	if e.Type == "" {
		return CacheEntry{}, fmt.Errorf("cache option %q: no type=", s)
	}
	if e.Type == "registry" && e.Attrs["ref"] == "" {
		return CacheEntry{}, fmt.Errorf("cache option %q: type=registry needs ref=", s)
	}
	return e, nil
}

// ParseSecret reads one --secret: id=X,env=VAR or id=X,src=FILE (also type=env|file as buildx
// takes it). With neither, the variable named like the id is used.
func ParseSecret(s string) (Secret, error) {
	kv, bare, err := csvFields(s)
	if err != nil {
		return Secret{}, err
	}
	if len(bare) > 0 {
		return Secret{}, fmt.Errorf("secret %q: want key=value, got %q", s, bare[0])
	}
	for k := range kv {
		if !slices.Contains([]string{"id", "env", "src", "source", "type"}, k) {
			return Secret{}, fmt.Errorf("secret %q: unknown key %q", s, k)
		}
	}
	sec := Secret{ID: kv["id"]}
	if sec.ID == "" {
		return Secret{}, fmt.Errorf("secret %q: no id=", s)
	}
	src := kv["src"]
	if src == "" {
		src = kv["source"]
	}
	switch typ := kv["type"]; {
	case typ != "" && typ != "env" && typ != "file":
		return Secret{}, fmt.Errorf("secret %q: type must be env or file", s)
	case kv["env"] != "" && src != "":
		return Secret{}, fmt.Errorf("secret %q: env= and src= exclude each other", s)
	case kv["env"] != "":
		sec.Env = kv["env"]
	case typ == "env" && src != "": // buildx's other spelling of env=VAR
		sec.Env = src
	case src != "":
		sec.Src = src
	case typ == "file":
		return Secret{}, fmt.Errorf("secret %q: type=file needs src=", s)
	default:
		sec.Env = sec.ID
	}
	return sec, nil
}

// ParseBuildArgs reads --build-arg values: K=V, or K alone to take V from lookup (the
// environment); a K alone that lookup lacks is left out, as docker does.
func ParseBuildArgs(args []string, lookup func(string) (string, bool)) (map[string]string, error) {
	out := map[string]string{}
	for _, a := range args {
		k, v, ok := strings.Cut(a, "=")
		if k == "" {
			return nil, fmt.Errorf("build-arg %q: no name", a)
		}
		if !ok {
			if v, ok = lookup(k); !ok {
				continue
			}
		}
		out[k] = v
	}
	return out, nil
}

// ParseLabels reads --label K=V values.
func ParseLabels(labels []string) (map[string]string, error) {
	out := map[string]string{}
	for _, l := range labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("label %q: want KEY=VALUE", l)
		}
		out[k] = v
	}
	return out, nil
}

// ParseInsecureRegistries reads KUBERUNNER_INSECURE_REGISTRIES: host:port, comma-separated.
func ParseInsecureRegistries(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}

// DefaultCache is the cache a pushed build uses when none is given: a registry cache beside
// the first tag (<repo>:buildcache) with mode=max, so the next job's build, on another pod
// with an empty daemon, still reuses every layer, intermediate stages included.
func DefaultCache(tags []string, push bool, from, to []CacheEntry) ([]CacheEntry, []CacheEntry) {
	if !push || len(tags) == 0 || len(from) > 0 || len(to) > 0 {
		return from, to
	}
	ref := repository(tags[0]) + ":buildcache"
	return []CacheEntry{{Type: "registry", Attrs: map[string]string{"ref": ref}}},
		[]CacheEntry{{Type: "registry", Attrs: map[string]string{"ref": ref, "mode": "max"}}}
}

// repository strips the tag and digest off an image reference.
func repository(ref string) string {
	ref, _, _ = strings.Cut(ref, "@")
	slash := strings.LastIndex(ref, "/")
	if colon := strings.LastIndex(ref, ":"); colon > slash {
		ref = ref[:colon]
	}
	return ref
}

// registryHost is the registry part of an image reference, "docker.io" for short names.
func registryHost(ref string) string {
	first, _, ok := strings.Cut(ref, "/")
	if !ok || (!strings.ContainsAny(first, ".:") && first != "localhost") {
		return "docker.io"
	}
	return first
}

// insecureFor reports whether any of refs lives on one of the insecure registries.
func insecureFor(refs []string, insecure []string) bool {
	for _, r := range refs {
		if slices.Contains(insecure, registryHost(r)) {
			return true
		}
	}
	return false
}
