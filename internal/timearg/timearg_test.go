package timearg

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 30, 15, 123456789, time.UTC)
	nowMS := now.Truncate(time.Millisecond)
	tests := []struct {
		in       string
		want     time.Time
		relative bool
		err      string
	}{
		{"36h", nowMS.Add(-36 * time.Hour), true, ""},
		{"90m", nowMS.Add(-90 * time.Minute), true, ""},
		{"1.5h", nowMS.Add(-90 * time.Minute), true, ""},
		{"7d", nowMS.Add(-7 * Day), true, ""},
		// Formerly accepted by query only.
		{"2w", nowMS.Add(-2 * Week), true, ""},
		// Formerly accepted by scan only.
		{"1d12h", nowMS.Add(-36 * time.Hour), true, ""},
		{"0s", nowMS, true, ""},
		{"now", nowMS, true, ""},
		{" 7d ", nowMS.Add(-7 * Day), true, ""},
		{"2026-11-01T08:00:00Z", time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC), false, ""},
		{"2026-11-01T09:00:00.5+01:00", time.Date(2026, 11, 1, 8, 0, 0, 500e6, time.UTC), false, ""},
		{"2026-11-01", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), false, ""},
		// Epoch: 10 digits are seconds, 13 milliseconds (formerly 10 digits were read as ms: 1970).
		{"1764547200", time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), false, ""},
		{"1764547200123", time.Date(2025, 12, 1, 0, 0, 0, 123e6, time.UTC), false, ""},
		{"", time.Time{}, false, "empty value"},
		{"36", time.Time{}, false, "2 digits are neither epoch seconds"},
		{"17645472001", time.Time{}, false, "11 digits"},
		{"99999999999999999999", time.Time{}, false, "too many digits"},
		{"-7d", time.Time{}, false, "cannot be negative"},
		{"7x", time.Time{}, false, "needs a unit"},
		{"7", time.Time{}, false, "neither epoch"},
		{"yesterday", time.Time{}, false, "not a time"},
		{"2026-13-01", time.Time{}, false, "not a time"},
		{"99999d", time.Time{}, false, "longer than 100 years"},
		{"9223372036854775807d", time.Time{}, false, "longer than 100 years"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), Accepted) || !errors.Is(err, ErrBadTime) {
					t.Fatalf("Parse(%q) = %v, %v; want an error containing %q and the accepted forms", tt.in, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			at := got.Resolve(now)
			if !at.Equal(tt.want) || at.Location() != time.UTC || got.Relative() != tt.relative {
				t.Errorf("Parse(%q) = %v (relative %v), want %v (relative %v)", tt.in, at, got.Relative(), tt.want, tt.relative)
			}
		})
	}
}

// TestResolveOnAnotherClock: a relative time follows the now it is resolved against (the
// service's clock for a scan); an absolute one does not.
func TestResolveOnAnotherClock(t *testing.T) {
	rel, _ := Parse("7d")
	abs, _ := Parse("2026-11-01")
	service := time.Date(2027, 11, 26, 0, 0, 0, 0, time.UTC)
	if got := rel.Resolve(service); !got.Equal(service.Add(-7 * Day)) {
		t.Errorf("7d on the service clock = %v", got)
	}
	if got := abs.Resolve(service); !got.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("absolute time moved with the clock: %v", got)
	}
	if !(Time{}).IsZero() || !(Time{}).Resolve(service).IsZero() || rel.IsZero() {
		t.Error("zero Time")
	}
	if got := Ago(time.Hour).Resolve(service); !got.Equal(service.Add(-time.Hour)) {
		t.Errorf("Ago = %v", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"2h": 2 * time.Hour, "-2h": -2 * time.Hour, "+1y": Year, "-1y": -Year, "1y2d": Year + 2*Day,
		"1d12h": 36 * time.Hour, "2w": 2 * Week, "90m": 90 * time.Minute, "1500ms": 1500 * time.Millisecond, "0": 0 * time.Second,
	} {
		got, err := ParseDuration(in)
		if in == "0" {
			if err == nil {
				t.Errorf("ParseDuration(0) accepted a number without unit")
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-", "h", "1.2.3h", "101y", "1mo"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) accepted", in)
		}
	}
}

// FuzzParse: never panics; results are UTC on a whole millisecond; relative times are never
// after now; an error carries the accepted forms and no time.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"36h", "7d", "2w", "1d12h", "1.5h", "2026-11-01T08:00:00Z", "2026-11-01", "1764547200", "1762041599999",
		"now", "9223372036854775807d", "1d9223372036854775807ns", ".5h", "-2h", "+1y", "x"} {
		f.Add(s)
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, in string) {
		got, err := Parse(in)
		if err != nil {
			if !got.IsZero() || !strings.Contains(err.Error(), Accepted) {
				t.Fatalf("Parse(%q) = %v with error %v", in, got, err)
			}
			return
		}
		at := got.Resolve(now)
		if at.Location() != time.UTC || at.Nanosecond()%int(time.Millisecond) != 0 {
			t.Fatalf("Parse(%q) = %v: not UTC on a whole millisecond", in, at)
		}
		if got.Relative() && (at.After(now) || now.Sub(at) > MaxDuration+time.Millisecond) {
			t.Fatalf("Parse(%q) = %v for now %v", in, at, now)
		}
		if d, err := ParseDuration(in); err == nil && d < 0 {
			t.Fatalf("Parse(%q) accepted a negative duration", in)
		}
	})
}
