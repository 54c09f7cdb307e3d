package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// served is one API request as the simulator saw it.
type served struct {
	start, end time.Time
	throttled  bool
}

// recordingSim serves the simulator and records every request's arrival, answer time and
// whether it was a 429. The scan under test runs one slice, so requests never overlap.
type recordingSim struct {
	h   *simulator.Handler
	mu  sync.Mutex
	log []served
}

func (s *recordingSim) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	before := s.h.Stats().Throttled
	s.h.ServeHTTP(w, r)
	rec := served{start: start, end: time.Now(), throttled: s.h.Stats().Throttled > before}
	s.mu.Lock()
	s.log = append(s.log, rec)
	s.mu.Unlock()
}

// waited is the time the client spent between each 429 and its next request, as the server
// measures it.
func (s *recordingSim) waited() (total time.Duration, waits int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.log {
		if r.throttled && i+1 < len(s.log) {
			total += s.log[i+1].start.Sub(r.end)
			waits++
		}
	}
	return total, waits
}

// TestScanProgressOnATerminal runs the real binary under a pseudo-terminal (util-linux
// `script`) against a simulator whose rate budget (3 requests per 4 s) makes the scan wait
// several seconds at a time, and reads the screen it drew: a frame says it is waiting for the
// rate budget and how many seconds are left; no log line shares a line with a frame; the last
// frame has the summary's figures; and the waiting time the summary states is the time the
// server saw the client wait after its 429s.
func TestScanProgressOnATerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary for about 15 s; skipped in -short")
	}
	scriptBin := testserver.NeedTool(t, "script", "bsdutils")
	bin := testkit.Build(t, testkit.MCASLoad)
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	tn := synth.New(synth.Config{Seed: 19, Users: 20, Days: 3, End: end, Total: 7000, LateArrivals: -1})
	sim := &recordingSim{h: simulator.NewHandler(simulator.Config{Tenant: tn, Token: scanTestToken, RateLimit: 3, RateWindow: 4 * time.Second})}
	srv := httptest.NewServer(sim)
	defer srv.Close()

	dir := t.TempDir()
	command := strings.Join([]string{bin, "scan", "--url", srv.URL, "-w", dir, "--since", "4d", "--limit", "1000",
		"--rate-limit", "600", "--parallel", "1"}, " ")
	cmd := exec.CommandContext(t.Context(), scriptBin, "-q", "-e", "-c", command, os.DevNull)
	cmd.Env = append(testkit.CleanEnv(), "MCAS_TOKEN="+scanTestToken, "SHELL=/bin/sh", "TERM=xterm")
	start := time.Now()
	out, err := cmd.Output()
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("scan under script: %v after %s\n%s", err, elapsed, out)
	}
	t.Logf("scan took %s under script; capture:\n%s", elapsed.Round(time.Millisecond), visible(out))

	screen := screenLines(string(out))
	var frames []string
	summary := ""
	var counters string
	for i, line := range screen {
		for _, seg := range line.segments {
			if strings.HasPrefix(seg, "scan: ") {
				frames = append(frames, seg)
			}
			if strings.Contains(seg, "level=") && !strings.HasPrefix(seg, "time=") {
				t.Errorf("a log line joins a frame on screen line %d: %q", i, seg)
			}
		}
		if strings.HasPrefix(line.shown, "scan done: ") {
			summary = line.shown
		}
		if summary != "" && counters == "" && strings.Contains(line.shown, " pages in ") {
			counters = line.shown
		}
	}
	if summary == "" || len(frames) == 0 {
		t.Fatalf("no summary or no frames in the capture")
	}

	waitingFrame := regexp.MustCompile(`waiting for the rate budget: (\d+)s left`)
	secondsShown := map[string]bool{}
	for _, f := range frames {
		if m := waitingFrame.FindStringSubmatch(f); m != nil {
			secondsShown[m[1]] = true
		}
	}
	if len(secondsShown) < 2 {
		t.Errorf("no frame counted down a wait for the rate budget (seconds shown: %v)", secondsShown)
	}

	last := frames[len(frames)-1]
	lastFigs := figures(t, `scan: (\d+) pages, ([\d,]+) records, ([\d.]+) MB, ([\d,]+) rec/s, [\d.]+ MB/s \| new ([\d,]+), duplicate ([\d,]+), throttled (\d+) \| waited ([\d.]+)s for the rate budget \[([\d.]+)s\]$`, last)
	sumFigs := figures(t, `^scan done: ([\d,]+) records read \(([\d.]+) MB\) in ([\d.]+)s: ([\d,]+) new, ([\d,]+) duplicate, 0 rejected, \d+ commits, ([\d,]+) rec/s`, summary)
	cntFigs := figures(t, `^  (\d+) pages in \d+ requests, (\d+) throttled \(429\), \d+ retries, \d+ tie groups, ([\d.]+)s waiting for the rate budget`, counters)
	for _, c := range []struct {
		what        string
		frame, summ string
	}{
		{"pages", lastFigs[0], cntFigs[0]}, {"records", lastFigs[1], sumFigs[0]}, {"MB", lastFigs[2], sumFigs[1]},
		{"rec/s", lastFigs[3], sumFigs[5]}, {"new", lastFigs[4], sumFigs[3]}, {"duplicate", lastFigs[5], sumFigs[4]},
		{"throttled", lastFigs[6], cntFigs[1]}, {"waited", lastFigs[7], cntFigs[2]}, {"elapsed", lastFigs[8], sumFigs[2]},
	} {
		if c.frame != c.summ {
			t.Errorf("last frame says %s %s, the summary %s\nframe:   %s\nsummary: %s\n         %s", c.what, c.frame, c.summ, last, summary, counters)
		}
	}
	if lastFigs[1] != "7,000" {
		t.Errorf("scanned %s records, want 7,000", lastFigs[1])
	}

	// The summary's waiting time against the server's measure: the client's clock starts when
	// its limiter goes to sleep and stops when it wakes, the server's from sending the 429 to
	// receiving the next request, so the server sees a few milliseconds more per wait (the 429
	// crossing loopback and being read, the next request being built and sent); the summary
	// prints tenths of a second, so it may differ by 0.05 s more. On a busy machine the woken
	// client may wait for a CPU before it sends, which the server counts and the client rightly
	// does not: the summary may say less than the server measured by up to a quarter second per
	// wait, but never more (that would be the overstatement this test exists for).
	measured, waits := sim.waited()
	stated, _ := strconv.ParseFloat(cntFigs[2], 64)
	diff := measured.Seconds() - stated
	tolerance := 0.05 + 0.25*float64(waits)
	t.Logf("summary: %.1fs waiting; server measured %s over %d waits (difference %.3fs, tolerance %.3fs)", stated, measured.Round(time.Millisecond), waits, diff, tolerance)
	if waits < 2 || measured < 4*time.Second {
		t.Fatalf("the server saw %d waits lasting %s; the budget should have made the scan wait seconds", waits, measured)
	}
	if diff < -0.05 || diff > tolerance {
		t.Errorf("the summary says %.1fs of waiting, the server measured %s", stated, measured)
	}
}

// screenLine is one line of a terminal capture: the pieces written between carriage returns
// (each redraw), and what the line shows at the end.
type screenLine struct {
	segments []string
	shown    string
}

// screenLines replays a capture the way a terminal shows it, for redraws that start with \r
// and erase the line (\x1b[K): \n ends a line (the pty turns it into \r\n), \r starts it over.
func screenLines(capture string) []screenLine {
	var out []screenLine
	for _, line := range strings.Split(capture, "\n") {
		line = strings.TrimSuffix(line, "\r")
		var l screenLine
		for _, seg := range strings.Split(line, "\r") {
			seg = strings.TrimPrefix(seg, "\x1b[K")
			if seg != "" {
				l.segments = append(l.segments, seg)
			}
		}
		if n := len(l.segments); n > 0 {
			l.shown = l.segments[n-1]
		}
		out = append(out, l)
	}
	return out
}

// figures returns the groups of pattern in s, failing the test when it does not match.
func figures(t *testing.T, pattern, s string) []string {
	t.Helper()
	m := regexp.MustCompile(pattern).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%q does not match %s", s, pattern)
	}
	return m[1:]
}

// visible shows control characters of a capture, for the log.
func visible(b []byte) string {
	return strings.NewReplacer("\r", `\r`, "\x1b", `\e`).Replace(string(b))
}
