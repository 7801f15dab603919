package trace

import (
	"regexp"
	"strconv"
	"testing"
	"time"
)

func TestSectionMarkers(t *testing.T) {
	header := ANSIBoldCyan + "$ echo hi" + ANSIReset
	tests := []struct {
		name, got, want string
	}{
		{"start", sectionStart(1700000000, "step_script", header, false),
			"\x1b[0Ksection_start:1700000000:step_script\r\x1b[0K\x1b[36;1m$ echo hi\x1b[0;m\n"},
		{"collapsed start", sectionStart(1700000000, "prepare_executor", "Preparing", true),
			"\x1b[0Ksection_start:1700000000:prepare_executor[collapsed=true]\r\x1b[0KPreparing\n"},
		{"end", sectionEnd(1700000001, "step_script"),
			"\x1b[0Ksection_end:1700000001:step_script\r\x1b[0K\n"},
		{"name GitLab would not recognise", sectionEnd(1, "get sources: v1.0/é"),
			"\x1b[0Ksection_end:1:get_sources__v1.0__\r\x1b[0K\n"},
		{"empty name", sectionEnd(1, ""), "\x1b[0Ksection_end:1:section\r\x1b[0K\n"},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

func TestSectionMarkersUseTheClock(t *testing.T) {
	before := time.Now().Unix()
	start, end := SectionStart("s", "h", true), SectionEnd("s")
	after := time.Now().Unix()
	for _, tc := range []struct {
		marker string
		re     *regexp.Regexp
	}{
		{start, regexp.MustCompile(`^\x1b\[0Ksection_start:(\d+):s\[collapsed=true\]\r\x1b\[0Kh\n$`)},
		{end, regexp.MustCompile(`^\x1b\[0Ksection_end:(\d+):s\r\x1b\[0K\n$`)},
	} {
		m := tc.re.FindStringSubmatch(tc.marker)
		if m == nil {
			t.Fatalf("marker %q does not match %v", tc.marker, tc.re)
		}
		if ts, _ := strconv.ParseInt(m[1], 10, 64); ts < before || ts > after {
			t.Errorf("marker %q: timestamp %d not within [%d, %d]", tc.marker, ts, before, after)
		}
	}
}
