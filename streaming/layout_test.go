package streaming

import (
	"testing"
	"time"
)

func hour(s string) time.Time {
	t, err := time.Parse("2006-01-02T15", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestPathTime(t *testing.T) {
	tests := []struct {
		name string
		want time.Time
		ok   bool
	}{
		{"tenantId=5a1/y=2026/m=12/d=06/h=12/m=00/PT1H.json", hour("2026-12-06T12"), true},
		{"y=2026/m=01/d=31/h=00/m=00/PT1H.json", hour("2026-01-31T00"), true},
		{"resourceId=/SUBSCRIPTIONS/S/RESOURCEGROUPS/G/y=2026/m=12/d=06/h=23/m=00/PT1H_1.json", hour("2026-12-06T23"), true},
		{"tenantId=5a1/y=2026/m=12/d=06/h=12/PT1H.json", hour("2026-12-06T12"), true}, // no minute folder
		{"tenantId=5a1/y=2026/m=12/d=06/PT24H.json", time.Time{}, false},              // no hour
		{"tenantId=5a1/y=2026/m=13/d=06/h=12/m=00/PT1H.json", time.Time{}, false},     // month 13
		{"tenantId=5a1/y=2026/m=12/d=06/h=24/m=00/PT1H.json", time.Time{}, false},
		{"tenantId=5a1/y=26/m=12/d=06/h=12/m=00/PT1H.json", time.Time{}, false}, // two-digit year
		{"tenantId=5a1/m=12/y=2026/d=06/h=12/PT1H.json", time.Time{}, false},    // out of order
		{"tenantId=5a1/y=2026/m=2/d=06/h=12/PT1H.json", time.Time{}, false},     // not zero-padded
		{"exports/cloudappevents.json", time.Time{}, false},
		{"", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := PathTime(tt.name)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("PathTime(%q) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestWindow(t *testing.T) {
	w := Window{Since: hour("2026-12-06T10").Add(30 * time.Minute), Until: hour("2026-12-06T13")}
	for name, want := range map[string]bool{
		"y=2026/m=12/d=06/h=09/m=00/PT1H.json": false,
		"y=2026/m=12/d=06/h=10/m=00/PT1H.json": true, // holds 10:30–11:00
		"y=2026/m=12/d=06/h=12/m=00/PT1H.json": true,
		"y=2026/m=12/d=06/h=13/m=00/PT1H.json": false, // Until is exclusive
		"other/file.json":                      true,  // no path time: always listed
	} {
		if got := w.holds(name); got != want {
			t.Errorf("holds(%s) = %v, want %v", name, got, want)
		}
	}
	if got := Incremental(hour("2026-12-06T10"), 2*time.Hour); !got.Since.Equal(hour("2026-12-06T08")) || !got.Until.IsZero() {
		t.Errorf("Incremental = %+v", got)
	}
	if !Incremental(time.Time{}, time.Hour).open() {
		t.Error("a first run must list everything")
	}
	// Folder spans decide pruning: a day inside the window is listed flat, one outside skipped.
	var p pathTime
	for _, seg := range []string{"y=2026", "m=12", "d=06"} {
		p, _ = p.next(seg)
	}
	start, end, _ := p.span()
	if !w.overlaps(start, end) || w.covers(start, end) || !(Window{Since: hour("2026-12-01T00")}).covers(start, end) {
		t.Errorf("day span %v–%v", start, end)
	}
}

func FuzzPathTime(f *testing.F) {
	f.Add("tenantId=x/y=2026/m=12/d=06/h=12/m=00/PT1H.json")
	f.Add("y=0001/m=01/d=01/h=00")
	f.Fuzz(func(t *testing.T, name string) {
		h, ok := PathTime(name)
		if !ok {
			return
		}
		if h.Minute() != 0 || h.Second() != 0 || h.Location() != time.UTC {
			t.Fatalf("PathTime(%q) = %v, not a UTC hour", name, h)
		}
		// The folders name the hour exactly: formatting it back finds them in the name.
		for _, seg := range []string{h.Format("y=2006"), h.Format("m=01"), h.Format("d=02"), h.Format("h=15")} {
			if !containsSegment(name, seg) {
				t.Fatalf("PathTime(%q) = %v, but %s is not a folder of the name", name, h, seg)
			}
		}
	})
}

func containsSegment(name, seg string) bool {
	for i := 0; i+len(seg) <= len(name); i++ {
		if name[i:i+len(seg)] == seg && (i == 0 || name[i-1] == '/') && (i+len(seg) == len(name) || name[i+len(seg)] == '/') {
			return true
		}
	}
	return false
}
