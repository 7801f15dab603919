package config

import (
	"errors"
	"strconv"
	"strings"
)

// Error is one problem with a configuration, placed as precisely as it is known.
// Load, Parse and Validate return several of them joined with errors.Join, so a user
// fixes a file in one pass; errors.As finds the first.
type Error struct {
	File string // empty for a Config built in code
	Line int    // 0 when unknown
	Key  string // full key path, e.g. runners[0].url; empty for file-level problems
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		if e.Line > 0 {
			b.WriteString(":" + strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// source is where a Config came from: the file name and the line of every key path.
type source struct {
	file  string
	lines map[string]int
}

// set reports whether the file gave path a (non-null) value.
func (s *source) set(path string) bool {
	if s == nil {
		return false
	}
	_, ok := s.lines[path]
	return ok
}

// at places a problem with key path. A key the file does not have (a missing token)
// is placed at its nearest ancestor that it does have (the runner's entry).
func (s *source) at(path, msg string) *Error {
	e := &Error{Key: path, Msg: msg}
	if s == nil {
		return e
	}
	e.File = s.file
	for p := path; p != ""; p = parentPath(p) {
		if line, ok := s.lines[p]; ok {
			e.Line = line
			break
		}
	}
	return e
}

// parentPath strips the last element: runners[0].url -> runners[0] -> runners -> "".
func parentPath(p string) string {
	i := strings.LastIndexAny(p, ".[")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func runnerPath(i int) string { return "runners[" + strconv.Itoa(i) + "]" }

// joinPath appends a mapping key to a key path.
func joinPath(parent, key string) string {
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// rebase places the errors a nested Validate returned under path: an *Error with a
// relative Key gets the full key path and its line; any other error is kept whole
// and placed at path.
func (s *source) rebase(path string, err error) []error {
	var errs []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			errs = append(errs, s.rebase(path, e)...)
		}
		return errs
	}
	var ce *Error
	if errors.As(err, &ce) {
		return []error{s.at(joinPath(path, ce.Key), ce.Msg)}
	}
	return []error{s.at(path, err.Error())}
}
