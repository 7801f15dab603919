package main

import (
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/urfave/cli/v3"
)

func includeMirrorFlag() cli.Flag {
	return &cli.StringSliceFlag{
		Name: "include-mirror",
		Usage: "read includes that need a GitLab server from a local directory, `KEY=DIR` (repeatable): KEY is a project path " +
			"(include:project of it, and its include:component), a URL prefix (include:remote URLs under it) or \"templates\" " +
			"(include:template); DIR is read as it is, whatever ref an include names",
	}
}

// parseMirrors takes the --include-mirror values: KEY=DIR, DIR a directory.
func parseMirrors(values []string) (map[string]fs.FS, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := map[string]fs.FS{}
	for _, v := range values {
		key, dir, ok := strings.Cut(v, "=")
		if !ok || key == "" || dir == "" {
			return nil, fmt.Errorf("--include-mirror %q: want KEY=DIR, KEY a project path (group/project), a URL prefix (https://host/path/) or templates", v)
		}
		if _, dup := out[key]; dup {
			return nil, fmt.Errorf("--include-mirror %q: %s is given a mirror twice", v, key)
		}
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("--include-mirror %q: %s is not a directory", v, dir)
		}
		out[key] = os.DirFS(dir)
	}
	return out, nil
}
