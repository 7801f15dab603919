package config

import (
	"fmt"
	"reflect"
)

// suggest returns ` (did you mean "x"?)` for the known key closest to an unknown one,
// or "" when none is close. Hand-written: a dozen lines of edit distance do not
// justify a dependency.
func suggest(unknown string, known map[string]reflect.Type) string {
	best, bestDist := "", max(2, len(unknown)/3+1) // about one typo per three letters
	for k := range known {
		if d := editDistance(unknown, k); d < bestDist || (d == bestDist && best != "" && k < best) {
			best, bestDist = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b, on bytes (keys are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
