package pipeline

import (
	"io"
	"os"
	"regexp"

	"golang.org/x/term"
)

// Colour reports whether ANSI colour codes may be written to w: only to a terminal, and
// not when NO_COLOR is set (https://no-color.org) or TERM is dumb. It is the one place that
// decides; job logs keep their colours for GitLab and lose them here.
func Colour(w io.Writer) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// ansiEscape matches the CSI sequences job logs carry: colours (SGR) and line erasing.
var ansiEscape = regexp.MustCompile(`\x1b\[[0-9;?]*[A-Za-z]`)

func stripANSI(s string) string { return ansiEscape.ReplaceAllString(s, "") }
