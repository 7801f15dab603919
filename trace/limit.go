package trace

import (
	"fmt"
	"unicode/utf8"
)

func (b *Buffer) limitMessage() string { return LimitMessage(b.limit) }

// LimitMessage is the line that replaces everything past a limit of limit bytes, in
// gitlab-runner's words.
func LimitMessage(limit int64) string {
	return fmt.Sprintf("\n%sJob's log exceeded limit of %d bytes.\n"+
		"Job execution will continue but no more output will be collected.%s\n",
		ANSIBoldRed, limit, ANSIReset)
}

// truncateUTF8 cuts p to at most n bytes without splitting a UTF-8 character, so the
// truncation line does not follow a broken character.
func truncateUTF8(p []byte, n int64) []byte {
	if n <= 0 {
		return p[:0]
	}
	if n >= int64(len(p)) {
		return p
	}
	cut := int(n)
	for i := 0; i < utf8.UTFMax-1 && cut > 0 && !utf8.RuneStart(p[cut]); i++ {
		cut--
	}
	if !utf8.RuneStart(p[cut]) {
		return p[:n] // not UTF-8 around here: nothing to keep whole
	}
	return p[:cut]
}
