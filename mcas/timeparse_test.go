package mcas

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 30, 15, 123456789, time.UTC)
	nowMS := now.Truncate(time.Millisecond)
	tests := []struct {
		in   string
		want time.Time
		err  string
	}{
		{"36h", nowMS.Add(-36 * time.Hour), ""},
		{"90m", nowMS.Add(-90 * time.Minute), ""},
		{"7d", nowMS.Add(-7 * 24 * time.Hour), ""},
		{"1d12h", nowMS.Add(-36 * time.Hour), ""},
		{"0s", nowMS, ""},
		{"now", nowMS, ""},
		{"2026-11-01T08:00:00Z", time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), ""},
		{"2026-11-01T09:00:00.5+01:00", time.Date(2026, 11, 1, 8, 0, 0, 500e6, time.UTC), ""},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), ""},
		{"1762041599999", time.UnixMilli(1762041599999).UTC(), ""},
		{"", time.Time{}, "empty value"},
		{"36", time.Time{}, "epoch milliseconds need 10 to 14 digits"},
		{"99999999999999999", time.Time{}, "epoch milliseconds"},
		{"1.5d", time.Time{}, "days must be a whole number"},
		{"-7d", time.Time{}, "use a duration before now"},
		{"7x", time.Time{}, "not a duration"},
		{"yesterday", time.Time{}, "use a duration before now"},
		{"2026-13-01", time.Time{}, "use a duration before now"},
		{"99999d", time.Time{}, "days must be a whole number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseTime(tt.in, now)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseTime(%q) = %v, %v; want an error containing %q", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseTime(%q): %v", tt.in, err)
			}
			if !got.Equal(tt.want) || got.Location() != time.UTC {
				t.Errorf("ParseTime(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

// FuzzParseTime: never panics; results are UTC, on a whole millisecond, and never after now
// for durations; epoch milliseconds round-trip exactly.
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{"36h", "7d", "1d12h", "2026-11-01T08:00:00Z", "2026-11-01", "1762041599999", "now", "9223372036854775807d", "1d9223372036854775807ns", ".5h"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseTime(in, now)
		if err != nil {
			return
		}
		if got.Location() != time.UTC || got.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("ParseTime(%q) = %v: not UTC on a whole millisecond", in, got)
		}
		s := strings.TrimSpace(in)
		if isDigits(s) {
			ms, _ := strconv.ParseInt(s, 10, 64)
			if got.UnixMilli() != ms {
				t.Fatalf("ParseTime(%q) = %d ms", in, got.UnixMilli())
			}
		}
		if d, ok, err := parseDays(s); ok && err == nil {
			if diff := now.Sub(got) - d; got.After(now) || diff < 0 || diff >= time.Millisecond {
				t.Fatalf("ParseTime(%q) = %v for duration %v before %v", in, got, d, now)
			}
		}
	})
}
