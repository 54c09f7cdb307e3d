package progress

import (
	"bytes"
	"fmt"
	"os"
	"slices"
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
		{"waiting for the budget", Snapshot{Pages: 4, Records: 20000, Total: 60000, Waiting: true, WaitLeft: 6200 * time.Millisecond, Waited: 3 * time.Second}, 20 * time.Second,
			"load: 4 pages, 20,000 records, 1,000 rec/s | waiting for the rate budget: 7s left [20s]"},
		{"after waiting", Snapshot{Pages: 5, Records: 25000, Waited: 9960 * time.Millisecond}, 25 * time.Second,
			"load: 5 pages, 25,000 records, 1,000 rec/s | waited 10.0s for the rate budget [25s]"},
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
				if strings.Count(got, "\n") != 1 || !strings.HasSuffix(got, "\n") || !strings.HasPrefix(got, clearLine+"load: ") {
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

// TestLogLinesNeverJoinTheProgressLine writes log records while frames are drawn: on a terminal
// every record starts on a cleared line and the frame is drawn again under it; elsewhere frames
// and records are whole lines.
func TestLogLinesNeverJoinTheProgressLine(t *testing.T) {
	for _, tty := range []bool{true, false} {
		t.Run(map[bool]string{false: "plain", true: "terminal"}[tty], func(t *testing.T) {
			var out bytes.Buffer
			con := NewConsole(&out, tty)
			n := int64(0)
			p := New(&out, func() Snapshot { n += 100; return Snapshot{Records: n} }, Options{Label: "scan", Terminal: tty, Console: con,
				Clock: clock.NewVirtual(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), false)})
			p.Report()
			fmt.Fprintf(con, "level=INFO msg=\"first log\"\n")
			p.Report()
			fmt.Fprintf(con, "level=INFO msg=\"second log\"\n")
			p.Finish(Snapshot{Records: 1234, New: 1234, Waited: 2500 * time.Millisecond}, 2345*time.Millisecond)
			got := out.String()
			// What a terminal shows: each \r starts the line over and \x1b[K erases it.
			var screen []string
			for _, line := range strings.Split(strings.TrimSuffix(got, "\n"), "\n") {
				parts := strings.Split(line, "\r")
				screen = append(screen, strings.TrimPrefix(parts[len(parts)-1], "\x1b[K"))
			}
			want := []string{`level=INFO msg="first log"`, `level=INFO msg="second log"`,
				"scan: 1,234 records, 526 rec/s | new 1,234, duplicate 0 | waited 2.5s for the rate budget [2.345s]"}
			if !tty {
				want = []string{"scan: 100 records [0s]", `level=INFO msg="first log"`, "scan: 200 records [0s]", `level=INFO msg="second log"`, want[2]}
			}
			if !slices.Equal(screen, want) {
				t.Errorf("screen\n%q\nwant\n%q\n(raw %q)", screen, want, got)
			}
			if tty && !strings.Contains(got, `second log"`+"\n"+"scan: 200 records") {
				t.Errorf("the frame is not drawn again after a log line: %q", got)
			}
		})
	}
}

func TestConsoleCutsFramesToTheTerminal(t *testing.T) {
	var out bytes.Buffer
	con := NewConsole(&out, true)
	con.width = 20
	con.Draw("scan: 1,234,567 records, 99,999 rec/s [12s]")
	if got := strings.TrimPrefix(out.String(), clearLine); len([]rune(got)) != 19 || !strings.HasSuffix(got, "…") {
		t.Errorf("frame %q not cut to 19 columns", got)
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
