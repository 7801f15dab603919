package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads the file at path and returns it decoded, with defaults applied and
// validated. A missing file is an error that matches fs.ErrNotExist, so `register` can
// start from Default() instead.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data, naming it name in errors. Unknown keys, malformed YAML and values
// of the wrong type are refused; all problems found are returned at once, each as an
// *Error naming file, line and key.
func Parse(name string, data []byte) (*Config, error) {
	root, err := parseDocument(name, data)
	if err != nil {
		return nil, err
	}
	src := &source{file: name, lines: map[string]int{}}
	c := &Config{src: src}
	if root != nil {
		w := &walker{src: src}
		w.walk(root, reflect.TypeFor[Config](), "")
		if len(w.errs) > 0 {
			return nil, errors.Join(w.errs...)
		}
		// The walk has found every problem already; decoding strictly as well keeps the
		// walk an addition to yaml's checks, never a replacement for them.
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil {
			return nil, &Error{File: name, Msg: err.Error()}
		}
	}
	c.applyDefaults(src.set)
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseDocument returns the top node of the only document in data, nil for an empty file.
func parseDocument(name string, data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, malformed(name, data, err)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, malformed(name, data, err)
	default:
		return nil, &Error{File: name, Line: extra.Line, Msg: "a second YAML document; the file must hold one"}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// malformed turns "yaml: line 3: did not find expected key" into file:4: malformed YAML: ...
func malformed(name string, data []byte, err error) error {
	msg := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	// yaml.v3 reports parser errors (libyaml words them "did not find expected ...";
	// scanner errors say "could not find") with a 0-based line, and leaves the line
	// out when it is 0. Scanner errors are already 1-based.
	if strings.HasPrefix(msg, "did not find expected") {
		line++
	}
	// A problem at the end of the stream is placed on a line past the end.
	line = min(line, lineCount(data))
	return &Error{File: name, Line: line, Msg: "malformed YAML: " + msg}
}

func lineCount(data []byte) int {
	n := bytes.Count(data, []byte("\n"))
	if len(data) > 0 && data[len(data)-1] != '\n' {
		n++
	}
	return n
}
