package kubectlplugin

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/util/duration"
)

// column is one column of a listing: wide ones only with -o wide.
type column[T any] struct {
	header string
	wide   bool
	value  func(*T) string
}

// printRows prints a listing as output asks. No rows make a note on ErrOut rather than a
// lone header, and "[]" in JSON, so scripts reading Out need no special case.
func printRows[T any](p *Plugin, rows []T, output, what string, cols []column[T], namespace func(*T) string) error {
	if output == OutputJSON {
		if rows == nil {
			rows = []T{}
		}
		return writeJSON(p.Out, rows)
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(p.ErrOut, "No %s %s.\n", what, p.where())
		return err
	}
	return printTable(p.Out, rows, cols, output == OutputWide, p.Namespace == "", namespace)
}

// printTable prints rows as kubectl does: upper-case headers, columns three spaces apart,
// "<none>" for an empty cell, and a NAMESPACE column first when listing all namespaces.
func printTable[T any](w io.Writer, rows []T, cols []column[T], wide, allNamespaces bool, namespace func(*T) string) error {
	if allNamespaces {
		cols = append([]column[T]{{header: "NAMESPACE", value: namespace}}, cols...)
	}
	tw := tabwriter.NewWriter(w, 0, 8, 3, ' ', 0)
	var cells []string
	for _, c := range cols {
		if !c.wide || wide {
			cells = append(cells, c.header)
		}
	}
	writeRow(tw, cells)
	for i := range rows {
		cells = cells[:0]
		for _, c := range cols {
			if c.wide && !wide {
				continue
			}
			v := c.value(&rows[i])
			if v == "" {
				v = "<none>"
			}
			cells = append(cells, v)
		}
		writeRow(tw, cells)
	}
	return tw.Flush()
}

func writeRow(w io.Writer, cells []string) {
	_, _ = io.WriteString(w, strings.Join(cells, "\t")+"\n")
}

// age is how long ago t was, as kubectl shows it; "<unknown>" for a zero time.
func age(now, t time.Time) string {
	if t.IsZero() {
		return "<unknown>"
	}
	return duration.HumanDuration(now.Sub(t))
}
