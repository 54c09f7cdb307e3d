package progress

import (
	"bytes"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/humanize"
	"github.com/mcasload/mcasload/internal/testkit"
)

func TestProgressLine(t *testing.T) {
	p := New(&bytes.Buffer{}, func() Snapshot { return Snapshot{} }, Options{Label: "load"})
	tests := []struct {
		name    string
		snap    Snapshot
		elapsed time.Duration
		want    string
	}{
		{"start", Snapshot{}, 0, "load: 0 records [0s]"},
		{"load", Snapshot{Records: 1234567, Bytes: 2_500_000_000}, 10 * time.Second,
			"load: 1,234,567 records, 2500.0 MB, 123,456 rec/s, 250.0 MB/s [10s]"},
		{"committed", Snapshot{Records: 2000, Bytes: 1e6, New: 1500, Duplicates: 500, Rejected: 3}, 2 * time.Second,
			"load: 2,000 records, 1.0 MB, 1,000 rec/s, 0.5 MB/s | new 1,500, duplicate 500, rejected 3 [2s]"},
		{"scan with eta", Snapshot{Pages: 4, Records: 20000, Total: 60000, Throttled: 2}, 20 * time.Second,
			"load: 4 pages, 20,000 records, 1,000 rec/s, throttled 2, ETA 40s [20s]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Line(tt.snap, tt.elapsed); got != tt.want {
				t.Errorf("Line() = %q\nwant     %q", got, tt.want)
			}
		})
	}
}

func TestProgressReports(t *testing.T) {
	for _, tty := range []bool{false, true} {
		t.Run(map[bool]string{false: "plain", true: "terminal"}[tty], func(t *testing.T) {
			var out testkit.Buffer
			var mu sync.Mutex
			records := int64(0)
			vc := clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)
			p := New(&out, func() Snapshot {
				mu.Lock()
				defer mu.Unlock()
				return Snapshot{Records: records}
			}, Options{Label: "load", Terminal: tty, Interval: time.Second, Clock: vc})
			p.Start(t.Context())
			advanceUntil := func(sub string) {
				t.Helper()
				deadline := time.Now().Add(5 * time.Second)
				for !strings.Contains(out.String(), sub) {
					if time.Now().After(deadline) {
						t.Fatalf("no %q in progress output %q", sub, out.String())
					}
					vc.Advance(time.Second)
					time.Sleep(time.Millisecond)
				}
			}
			mu.Lock()
			records = 1000
			mu.Unlock()
			advanceUntil("1,000 records")
			mu.Lock()
			records = 22000
			mu.Unlock()
			advanceUntil("22,000 records")
			p.Stop()
			got := out.String()
			if tty {
				if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") || !strings.HasPrefix(got, "\rload: ") {
					t.Errorf("terminal output should redraw one line and end it once: %q", got)
				}
			} else {
				if strings.Contains(got, "\r") || !strings.HasSuffix(got, "\n") {
					t.Errorf("plain output should be whole lines: %q", got)
				}
			}
		})
	}
}

func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if IsTerminal(w) {
		t.Error("a pipe is not a terminal")
	}
	if IsTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.Create(t.TempDir() + "/f")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) {
		t.Error("a regular file is not a terminal")
	}
	if null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0); err == nil {
		defer null.Close()
		if IsTerminal(null) {
			t.Error("/dev/null is a character device but not a terminal")
		}
	}
}

func TestGroupDigits(t *testing.T) {
	for n, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567", 100000: "100,000"} {
		if got := humanize.Count(n); got != want {
			t.Errorf("humanize.Count(%d) = %q, want %q", n, got, want)
		}
	}
}
