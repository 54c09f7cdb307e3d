// Package humanize renders counts and sizes the way people read them in progress lines,
// summaries, status tables and reports, so every part of the tool prints them alike.
package humanize

import (
	"fmt"
	"strconv"
	"time"
)

// Count renders n with thousands separators: 1234567 → "1,234,567".
func Count(n int64) string {
	if n < 0 {
		if n == -n { // math.MinInt64 has no positive counterpart
			return "-9,223,372,036,854,775,808"
		}
		return "-" + Count(-n)
	}
	s := strconv.FormatInt(n, 10)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// Bytes renders a size in B, KB, MB or GB, in powers of 1000 as disk tools show them.
func Bytes(n int64) string {
	switch {
	case n >= 1e9:
		return fmt.Sprintf("%.1f GB", float64(n)/1e9)
	case n >= 1e6:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	case n >= 1e3:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	}
	return fmt.Sprintf("%d B", n)
}

// Seconds renders a duration in seconds with one decimal, "12.3s", the way summaries and the
// progress line print waits, so the two agree to the digit.
func Seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
}
