package pipeline

import (
	"bytes"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Output writes a local pipeline's progress to a terminal: one line per job state change,
// the jobs' logs line by line prefixed with "[job] " (all jobs, or only the followed
// ones), a progress line after a long silence, and the final table. Safe for concurrent use.
type Output struct {
	mu      sync.Mutex
	w       io.Writer
	follow  map[string]bool // nil: every job's log
	partial map[string][]byte
	last    time.Time // of the last line written
	now     func() time.Time
	colour  bool // keep the logs' ANSI codes (Colour)
}

// NewOutput writes to w; follow, when not empty, limits the logs shown to those jobs. The
// logs' ANSI codes are dropped unless w takes colour (Colour).
func NewOutput(w io.Writer, follow []string) *Output {
	o := &Output{w: w, partial: map[string][]byte{}, now: time.Now, colour: Colour(w)}
	if len(follow) > 0 {
		o.follow = map[string]bool{}
		for _, f := range follow {
			o.follow[f] = true
		}
	}
	o.last = o.now()
	return o
}

// State writes one state change: "==> build: running (attempt 2)".
func (o *Output) State(name string, st string, detail string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line := fmt.Sprintf("==> %s: %s", name, st)
	if detail != "" {
		line += " (" + detail + ")"
	}
	o.writeLine(line)
}

// Log writes the complete lines of a chunk of job name's log; a partial last line waits
// for the rest (or for EndLog).
func (o *Output) Log(name string, data []byte) {
	if len(data) == 0 || (o.follow != nil && !o.follow[name]) {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	buf := append(o.partial[name], data...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		o.writeLine("[" + name + "] " + o.cleanLine(buf[:i]))
		buf = buf[i+1:]
	}
	o.partial[name] = slices.Clone(buf)
}

// EndLog writes what is left of job name's last line.
func (o *Output) EndLog(name string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if rest := o.partial[name]; len(rest) > 0 {
		o.writeLine("[" + name + "] " + o.cleanLine(rest))
	}
	delete(o.partial, name)
}

// Silent reports whether nothing was written for at least d.
func (o *Output) Silent(d time.Duration) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.now().Sub(o.last) >= d
}

// Progress writes a line saying what the pipeline waits for.
func (o *Output) Progress(elapsed time.Duration, running []string, waiting int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	line := fmt.Sprintf("... %s elapsed: %d running", roundDuration(elapsed), len(running))
	if len(running) > 0 {
		line += " (" + strings.Join(running, ", ") + ")"
	}
	if waiting > 0 {
		line += fmt.Sprintf(", %d waiting", waiting)
	}
	o.writeLine(line)
}

// Table writes the final table of jobs and the pipeline's verdict.
func (o *Output) Table(res Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB\tSTAGE\tSTATUS\tDURATION")
	for _, j := range res.Jobs {
		dur := "-"
		if j.Duration > 0 {
			dur = roundDuration(j.Duration).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.Name, j.Stage, j.Describe(), dur)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nPipeline #%d %s in %s\n", res.PipelineID, res.Status, roundDuration(res.Duration))
	fmt.Fprint(o.w, "\n"+b.String())
	o.last = o.now()
}

func (o *Output) writeLine(line string) {
	fmt.Fprintln(o.w, line)
	o.last = o.now()
}

// sectionMarker matches GitLab's collapsible-section markers, which only GitLab's UI renders.
var sectionMarker = regexp.MustCompile(`\x1b\[0Ksection_(?:start|end):\d+:[^\r\n]*?\r\x1b\[0K`)

func (o *Output) cleanLine(b []byte) string {
	s := sectionMarker.ReplaceAllString(string(b), "")
	if !o.colour {
		s = stripANSI(s)
	}
	return strings.TrimSuffix(s, "\r")
}

func roundDuration(d time.Duration) time.Duration {
	if d >= time.Minute {
		return d.Round(time.Second)
	}
	return d.Round(100 * time.Millisecond)
}
