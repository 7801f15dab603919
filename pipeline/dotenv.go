package pipeline

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/kuberunner/kuberunner/coordinator"
	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// GitLab's default plan limits on a dotenv report (dotenv_size, dotenv_variables).
const (
	dotenvMaxSize = 5 * 1024
	dotenvMaxVars = 20
)

// dotenvKey is what GitLab accepts as a CI/CD variable's key (Ci::HasVariable).
var dotenvKey = regexp.MustCompile(`^[a-zA-Z0-9_]{1,255}$`)

// readDotenv reads the variables of a job's dotenv report, as GitLab's
// Ci::ParseDotenvArtifactService does, or nil if the job uploaded none.
func readDotenv(arts []coordinator.StoredArtifact) ([]compiler.Var, error) {
	for _, a := range arts {
		if a.Type != "dotenv" {
			continue
		}
		files, err := dotenvFiles(a)
		if err != nil {
			return nil, fmt.Errorf("dotenv report: %w", err)
		}
		vars, err := parseDotenv(files)
		if err != nil {
			return nil, fmt.Errorf("dotenv report: %w", err)
		}
		return vars, nil
	}
	return nil, nil
}

// dotenvFiles are the report's files: one per gzip member (GitLab's gzip artifact format),
// or the whole file when uploaded raw. At most dotenvMaxSize bytes are read in all.
func dotenvFiles(a coordinator.StoredArtifact) ([][]byte, error) {
	f, err := os.Open(a.Path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if a.Format != "gzip" {
		b, err := readLimited(f, dotenvMaxSize)
		return [][]byte{b}, err
	}
	br := bufio.NewReader(f) // a ByteReader: each member's reader stops at its end
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("read gzip: %w", err)
	}
	var files [][]byte
	left := dotenvMaxSize
	for {
		zr.Multistream(false)
		b, err := readLimited(zr, left)
		if err != nil {
			return nil, err
		}
		files, left = append(files, b), left-len(b)
		if err := zr.Reset(br); errors.Is(err, io.EOF) {
			return files, nil
		} else if err != nil {
			return nil, err
		}
	}
}

func readLimited(r io.Reader, limit int) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("larger than %d bytes", dotenvMaxSize)
	}
	return b, nil
}

// parseDotenv applies GitLab's rules to the report's files: every line is KEY=VALUE (no
// empty lines, comments or `export`), spaces around the key and the value are dropped, as
// are quotes around the whole value; a later key wins; at most dotenvMaxVars variables.
// The values are not expanded here but, as GitLab's (raw: false), in the jobs receiving
// them.
func parseDotenv(files [][]byte) ([]compiler.Var, error) {
	var vars []compiler.Var
	index := map[string]int{}
	for _, data := range files {
		data = bytes.TrimSuffix(data, []byte("\n"))
		if len(data) == 0 {
			continue
		}
		for i, line := range strings.Split(string(data), "\n") {
			key, value, ok := strings.Cut(line, "=")
			key, value = strings.TrimSpace(key), unquote(strings.TrimSpace(value))
			switch {
			case !ok:
				return nil, fmt.Errorf("line %d: want KEY=VALUE", i+1)
			case !dotenvKey.MatchString(key):
				// The key only: the line may hold a secret.
				return nil, fmt.Errorf("line %d: key %q: use only letters, digits and _ (no export)", i+1, key)
			}
			if j, seen := index[key]; seen {
				vars[j].Value = value
				continue
			}
			index[key] = len(vars)
			vars = append(vars, compiler.Var{Key: key, Value: value, Expand: true})
		}
	}
	if len(vars) > dotenvMaxVars {
		return nil, fmt.Errorf("%d variables, more than the %d allowed", len(vars), dotenvMaxVars)
	}
	return vars, nil
}

// unquote drops one pair of matching quotes around a value: KEY="a b" is a b.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}
