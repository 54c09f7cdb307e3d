package mcas

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a --since/--until value: a duration before now ("36h", "90m", "7d", "1d12h"),
// an RFC 3339 time ("2026-11-01T08:00:00Z"), a UTC date ("2026-11-01") or epoch milliseconds
// ("1700000000000"). "now" is now. Results are in UTC, truncated to the millisecond the API uses.
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, fmt.Errorf("parse time: empty value: use a duration like 36h or 7d, RFC 3339, or epoch ms")
	}
	if s == "now" {
		return now.UTC().Truncate(time.Millisecond), nil
	}
	if isDigits(s) {
		ms, err := strconv.ParseInt(s, 10, 64)
		if err != nil || len(s) < 10 || ms > maxEpochMS {
			return time.Time{}, fmt.Errorf("parse time %q: epoch milliseconds need 10 to 14 digits (e.g. 1700000000000)", s)
		}
		return time.UnixMilli(ms).UTC(), nil
	}
	if d, ok, err := parseDays(s); ok {
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-d).UTC().Truncate(time.Millisecond), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC().Truncate(time.Millisecond), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("parse time %q: use a duration before now (36h, 7d, 1d12h), RFC 3339 (2026-11-01T08:00:00Z), a date (2026-11-01) or epoch ms", s)
}

// maxEpochMS is year 9999; later values are typos, and they would overflow time arithmetic.
const maxEpochMS = 253402300799999

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// parseDays parses a Go duration that may start with a whole number of days ("7d", "1d12h").
// ok is false when s does not look like a duration at all, so other formats get their turn.
func parseDays(s string) (time.Duration, bool, error) {
	if s == "" || (s[0] < '0' || s[0] > '9') && s[0] != '.' {
		return 0, false, nil
	}
	if strings.ContainsAny(s, "-:TZ") {
		return 0, false, nil // a date or time
	}
	var days int64
	rest := s
	if i := strings.IndexByte(s, 'd'); i >= 0 {
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n > 365*100 {
			return 0, true, fmt.Errorf("parse time %q: days must be a whole number up to 36500, as in 7d or 1d12h", s)
		}
		days, rest = n, s[i+1:]
	}
	var d time.Duration
	if rest != "" {
		var err error
		d, err = time.ParseDuration(rest)
		if err != nil {
			return 0, true, fmt.Errorf("parse time %q: not a duration like 36h, 90m, 7d or 1d12h", s)
		}
		if d < 0 {
			return 0, true, fmt.Errorf("parse time %q: a duration counts back from now and cannot be negative", s)
		}
	}
	whole := time.Duration(days) * 24 * time.Hour
	if d > math.MaxInt64-whole {
		return 0, true, fmt.Errorf("parse time %q: duration too long", s)
	}
	return whole + d, true, nil
}
