package trace

import (
	"fmt"
	"strings"
	"time"
)

// ANSI sequences as gitlab-runner prints them; GitLab's log viewer renders them.
const (
	ANSIBoldRed    = "\x1b[31;1m"
	ANSIBoldGreen  = "\x1b[32;1m"
	ANSIBoldYellow = "\x1b[33;1m"
	ANSIBoldCyan   = "\x1b[36;1m"
	ANSIReset      = "\x1b[0;m"
	ansiClearLine  = "\x1b[0K"
)

// SectionStart opens a collapsible section in the job log. name identifies the section
// and must match its SectionEnd; header is the one line shown when it is folded.
// GitLab only recognises names made of [A-Za-z0-9_.-]; other bytes become '_'.
func SectionStart(name, header string, collapsed bool) string {
	return sectionStart(time.Now().Unix(), name, header, collapsed)
}

// SectionEnd closes the section opened by SectionStart with the same name.
func SectionEnd(name string) string {
	return sectionEnd(time.Now().Unix(), name)
}

func sectionStart(unix int64, name, header string, collapsed bool) string {
	opts := ""
	if collapsed {
		opts = "[collapsed=true]"
	}
	return fmt.Sprintf("%ssection_start:%d:%s%s\r%s%s\n", ansiClearLine, unix, sectionName(name), opts, ansiClearLine, header)
}

func sectionEnd(unix int64, name string) string {
	return fmt.Sprintf("%ssection_end:%d:%s\r%s\n", ansiClearLine, unix, sectionName(name), ansiClearLine)
}

// sectionName makes name acceptable to GitLab's section regex; an unrecognised marker
// would show up as garbage in the log instead of folding.
func sectionName(name string) string {
	if name == "" {
		return "section"
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '.', r == '-':
			return r
		}
		return '_'
	}, name)
}
