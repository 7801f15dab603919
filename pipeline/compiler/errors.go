package compiler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Error is one problem in the configuration.
type Error struct {
	File string
	Line int
	Job  string // empty for problems outside a job
	Msg  string
}

func (e Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Job != "" {
		fmt.Fprintf(&b, "job %s: ", e.Job)
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ErrorList is every problem found, sorted by file and line. Compile returns it as its
// error so that one run shows them all.
type ErrorList []Error

func (l ErrorList) Error() string {
	lines := make([]string, len(l))
	for i, e := range l {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// sorted sorts the list and reports each problem once: a value that jobs share (a
// default:, a hidden job they extend, an anchor) is wrong in one place, so the same
// message at the same place for several jobs is one error, named by no job.
func (l ErrorList) sorted() ErrorList {
	out := slices.Clone(l)
	slices.SortStableFunc(out, func(a, b Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Msg, b.Msg))
	})
	var kept ErrorList
	for _, e := range out {
		if n := len(kept); n > 0 && kept[n-1].File == e.File && kept[n-1].Line == e.Line && kept[n-1].Msg == e.Msg {
			if kept[n-1].Job != e.Job {
				kept[n-1].Job = ""
			}
			continue
		}
		kept = append(kept, e)
	}
	return kept
}

// errs collects problems as the compiler goes.
type errs struct{ list ErrorList }

func (e *errs) add(n *node, job, format string, args ...any) {
	err := Error{Job: job, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		err.File, err.Line = n.file, n.line
	}
	e.list = append(e.list, err)
}

// jobMsg is the message with the job it is about, for an error reported as another's.
func (e Error) jobMsg() string {
	if e.Job == "" {
		return e.Msg
	}
	return "job " + e.Job + ": " + e.Msg
}
