// Package timearg reads the times and durations users type on the command line (--since,
// --until, --param since=…, --clock-offset): one grammar and one error message for every command,
// so `scan --since 2w` and `query --since 2w` mean the same. A relative time ("7d") is kept as a
// duration until the caller resolves it against a "now" of its choosing: a scan resolves it on
// the service's clock, a query on the local one.
package timearg

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Accepted is the list of accepted forms every parse error ends with.
const Accepted = "use a duration before now (90m, 36h, 7d, 2w, 1d12h), now, RFC 3339 (2026-11-01T08:00:00Z), " +
	"a UTC date (2026-11-01), or epoch seconds (10 digits) or milliseconds (13 digits)"

// MaxDuration is the longest duration accepted: 100 years. Longer ones are typos, and would
// overflow time arithmetic.
const MaxDuration = 100 * Year

// Units beyond Go's time.ParseDuration.
const (
	Day  = 24 * time.Hour
	Week = 7 * Day
	Year = 365 * Day
)

// ErrBadTime is wrapped by every error of Parse and ParseDuration.
var ErrBadTime = errors.New("bad time")

// Time is a parsed time argument: an absolute instant, or a duration before a "now" still to
// be chosen. The zero Time means "not given".
type Time struct {
	at   time.Time
	ago  time.Duration
	rel  bool
	text string
}

// At is the absolute time t (truncated to the millisecond, in UTC).
func At(t time.Time) Time {
	return Time{at: t.UTC().Truncate(time.Millisecond), text: t.UTC().Format(time.RFC3339Nano)}
}

// Ago is the time d before whatever now it is resolved against.
func Ago(d time.Duration) Time { return Time{ago: d, rel: true, text: d.String() + " ago"} }

// IsZero reports whether no time was given.
func (t Time) IsZero() bool { return !t.rel && t.at.IsZero() }

// Relative reports whether t is a duration before now ("7d", "now").
func (t Time) Relative() bool { return t.rel }

// String is the argument as the user wrote it.
func (t Time) String() string { return t.text }

// Resolve returns the instant t stands for when now is now: UTC, on a whole millisecond (the
// API's resolution). The zero Time resolves to the zero time.Time.
func (t Time) Resolve(now time.Time) time.Time {
	if !t.rel {
		return t.at
	}
	return now.Add(-t.ago).UTC().Truncate(time.Millisecond)
}

// ParseAt parses s and resolves it against now.
func ParseAt(s string, now time.Time) (time.Time, error) {
	t, err := Parse(s)
	if err != nil {
		return time.Time{}, err
	}
	return t.Resolve(now), nil
}

// Parse reads a time argument: a duration before now ("90m", "36h", "7d", "2w", "1d12h"),
// "now", an RFC 3339 time, a UTC date ("2026-11-01"), or epoch seconds (exactly 10 digits) or
// milliseconds (exactly 13 digits). Anything else is refused with the accepted forms.
func Parse(s string) (Time, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return Time{}, bad(s, "empty value")
	case s == "now":
		return Time{rel: true, text: s}, nil
	case isDigits(s):
		var ms int64
		n, err := strconv.ParseInt(s, 10, 64)
		switch {
		case err != nil:
			return Time{}, bad(s, "too many digits")
		case len(s) == 10:
			ms = n * 1000
		case len(s) == 13:
			ms = n
		default:
			return Time{}, bad(s, fmt.Sprintf("%d digits are neither epoch seconds (10) nor milliseconds (13)", len(s)))
		}
		return Time{at: time.UnixMilli(ms).UTC(), text: s}, nil
	}
	if looksLikeDuration(s) {
		d, err := ParseDuration(s)
		if err != nil {
			return Time{}, err
		}
		if d < 0 {
			return Time{}, bad(s, "a duration counts back from now and cannot be negative")
		}
		return Time{ago: d, rel: true, text: s}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return Time{at: t.UTC().Truncate(time.Millisecond), text: s}, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return Time{at: t.UTC(), text: s}, nil
	}
	return Time{}, bad(s, "not a time")
}

func bad(s, why string) error {
	return fmt.Errorf("%w %q: %s; %s", ErrBadTime, s, why, Accepted)
}

// looksLikeDuration tells durations from dates and times before either is parsed.
func looksLikeDuration(s string) bool {
	if strings.ContainsAny(s, ":TZ") || strings.Count(s, "-") > 1 {
		return false
	}
	s = strings.TrimLeft(s, "+-")
	return s != "" && (s[0] >= '0' && s[0] <= '9' || s[0] == '.')
}

// units maps a duration unit to its length; longer names are tried first so "ms" is not "m".
var units = []struct {
	name string
	d    time.Duration
}{
	{"ns", time.Nanosecond}, {"us", time.Microsecond}, {"µs", time.Microsecond}, {"ms", time.Millisecond},
	{"s", time.Second}, {"m", time.Minute}, {"h", time.Hour}, {"d", Day}, {"w", Week}, {"y", Year},
}

// ParseDuration reads a duration: Go's units (ns, us, ms, s, m, h) plus d (24 h), w (7 d) and
// y (365 d), combined as in "1d12h" or "2w", with an optional sign ("-2h", "+1y"), at most
// 100 years.
func ParseDuration(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, bad(orig, "not a duration")
	}
	var total float64
	for s != "" {
		i := 0
		for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
			i++
		}
		if i == 0 {
			return 0, bad(orig, "not a duration")
		}
		n, err := strconv.ParseFloat(s[:i], 64)
		if err != nil || math.IsInf(n, 0) {
			return 0, bad(orig, "not a duration")
		}
		s = s[i:]
		var unit time.Duration
		for _, u := range units {
			if strings.HasPrefix(s, u.name) {
				unit = u.d
				s = s[len(u.name):]
				break
			}
		}
		if unit == 0 {
			return 0, bad(orig, "a duration needs a unit after each number (ms, s, m, h, d, w, y)")
		}
		total += n * float64(unit)
		if total > float64(MaxDuration) {
			return 0, bad(orig, "longer than 100 years")
		}
	}
	d := time.Duration(total)
	if neg {
		d = -d
	}
	return d, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
