package pipeline

import (
	"regexp"
	"strings"

	"github.com/kuberunner/kuberunner/pipeline/compiler"
)

// NoPipelineError says why GitLab would create no pipeline for the commit. It is not a
// failure: GitLab reports nothing, and the commands exit 0 after printing it.
type NoPipelineError struct {
	Reason string
}

func (e *NoPipelineError) Error() string { return "no pipeline: " + e.Reason }

// skipPattern is GitLab's Gitlab::Ci::Pipeline::Chain::Skip::SKIP_PATTERN.
var skipPattern = regexp.MustCompile(`(?i)\[(ci[ _-]skip|skip[ _-]ci)\]`)

// skipped is the *NoPipelineError of a commit whose message asks for no pipeline, or nil.
// GitLab checks it before reading the configuration, so a GitOps tool committing back with
// [skip ci] never loops, whatever its configuration holds.
func skipped(message string) error {
	if m := skipPattern.FindString(message); m != "" {
		return &NoPipelineError{Reason: "commit message contains " + strings.ToLower(m)}
	}
	return nil
}

// created is the *NoPipelineError of a compiled pipeline GitLab would not create, or nil.
func created(p *compiler.Pipeline) error {
	switch {
	case p.Filtered == "workflow:rules: no rule matched":
		return &NoPipelineError{Reason: "workflow:rules matched nothing"}
	case p.Filtered != "":
		return &NoPipelineError{Reason: p.Filtered}
	case len(p.Jobs) == 0:
		return &NoPipelineError{Reason: "rules, only and except left no job in it"}
	}
	return nil
}
