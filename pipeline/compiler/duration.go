package compiler

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
)

var durationUnits = map[string]time.Duration{
	"s": time.Second, "sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"m": time.Minute, "min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hrs": time.Hour, "hour": time.Hour, "hours": time.Hour,
	"d": day, "day": day, "days": day,
	"w": week, "wk": week, "wks": week, "week": week, "weeks": week,
	"mo": 30 * day, "mos": 30 * day, "month": 30 * day, "months": 30 * day,
	"y": 365 * day, "yr": 365 * day, "yrs": 365 * day, "year": 365 * day, "years": 365 * day,
}

// ParseDuration reads a duration the way GitLab (ChronicDuration) does for timeout,
// start_in and expire_in: "3600", "1h 30m", "2 hours and 10 minutes", "1.5 days". A bare
// number is seconds.
func ParseDuration(s string) (time.Duration, error) {
	fields := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return r == ' ' || r == ',' })
	var total time.Duration
	var pending string // a number waiting for its unit
	seen := false
	for _, f := range fields {
		if f == "and" {
			continue
		}
		num, unit := splitNumber(f)
		switch {
		case num != "" && unit != "":
			if pending != "" {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			d, err := durationPart(num, unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: %w", s, err)
			}
			total += d
		case num != "":
			if pending != "" {
				return 0, fmt.Errorf("invalid duration %q", s)
			}
			pending = num
		case pending != "":
			d, err := durationPart(pending, unit)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: %w", s, err)
			}
			total += d
			pending = ""
		default:
			return 0, fmt.Errorf("invalid duration %q", s)
		}
		seen = true
	}
	if pending != "" {
		d, _ := durationPart(pending, "s")
		total += d
	}
	if !seen {
		return 0, fmt.Errorf("invalid duration %q", s)
	}
	return total, nil
}

func splitNumber(f string) (num, unit string) {
	i := strings.IndexFunc(f, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' })
	if i < 0 {
		return f, ""
	}
	return f[:i], f[i:]
}

func durationPart(num, unit string) (time.Duration, error) {
	u, ok := durationUnits[unit]
	if !ok {
		return 0, fmt.Errorf("unknown unit %q", unit)
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("bad number %q", num)
	}
	return time.Duration(n * float64(u)), nil
}
