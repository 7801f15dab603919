package config

import (
	"fmt"
	"reflect"

	"github.com/agnivade/levenshtein"
)

// suggest returns ` (did you mean "x"?)` for the known key closest to an unknown one,
// or "" when none is close.
func suggest(unknown string, known map[string]reflect.Type) string {
	best, bestDist := "", max(2, len(unknown)/3+1) // about one typo per three letters
	for k := range known {
		if d := levenshtein.ComputeDistance(unknown, k); d < bestDist || (d == bestDist && best != "" && k < best) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
