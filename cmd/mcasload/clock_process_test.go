package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// The real binary against a service whose clock is not the machine's, and against the service's
// reported quirks: both sinks must end with exactly the activities the service shows.

// clockOffsets are the service clocks of the issue: a year and two hours behind and ahead.
var clockOffsets = []time.Duration{-timearg.Year, -2 * time.Hour, 2 * time.Hour, timearg.Year}

func TestScanServiceClockProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	for i, offset := range clockOffsets {
		t.Run(offset.String(), func(t *testing.T) {
			t.Parallel()
			// One offset also has its incremental run killed at random moments.
			scanAcrossLateArrivals(t, bin, offset, map[bool]int{true: 2}[i == len(clockOffsets)-1], uint64(i))
		})
	}
}

// scanAcrossLateArrivals serves a tenant on a clock offset from the machine's: a first scan
// lands what is stored before the service's time, then 13 hours pass on the service, storing
// late arrivals (old activity time, new created) and a tie burst, and the next incremental
// scan, killed kills times on the way, lands exactly what is stored by then.
func scanAcrossLateArrivals(t *testing.T, bin string, offset time.Duration, kills int, seed uint64) {
	clk := clock.NewOffset(clock.Real{}, offset)
	// The data runs six hours past the service's now, with 10 % late arrivals and 600 records
	// that happened in the minutes before the first run and are stored in one millisecond two
	// minutes after it (a late tie burst larger than a page, whatever the generator's density
	// around now): the first run sees what is stored so far; the rest is stored while the
	// service's clock moves on.
	now := clk.Now().UTC().Truncate(time.Millisecond)
	end := now.Add(6 * time.Hour)
	tn := synth.New(synth.Config{Seed: 21 + int64(seed), Users: 20, Days: 3, End: end, Total: 1200 + 2400, LateArrivals: 0.1,
		TieBursts: []synth.TieBurst{{At: end.Add(-50 * time.Hour), Size: 600, Field: "both"}, {At: now.Add(2 * time.Minute), Size: 600, Field: "created"}}})
	srv := startScanSim(t, tn, simulator.Config{Clock: clk})
	env := []string{"MCAS_TOKEN=" + scanTestToken}
	dir := t.TempDir()
	args := []string{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--batch-rows", "300", "--progress=false",
		"--rate-limit", "60000", "--parallel", "3", "--threads", "2"}

	r := testkit.Run(t, bin, env, args...)
	if r.Code != 0 {
		t.Fatalf("first scan exit %d:\n%s", r.Code, r.Stderr)
	}
	wm1 := storedWatermark(t, bin, dir)
	if d := wm1.Sub(clk.Now()); d > time.Second || d < -time.Minute {
		t.Fatalf("first watermark %s; want the service's time %s (the machine's is %s)", wm1, clk.Now(), time.Now())
	}
	if !strings.Contains(r.Stderr, "the scan follows the service's clock") {
		t.Errorf("the log does not report the %s skew:\n%s", offset, r.Stderr)
	}
	sinks.ExactlyOnce(t, dir, createdBefore(tn, wm1))
	late := 0
	for i := range tn.Len() {
		if a := tn.Activity(i); a.Created >= wm1.UnixMilli() && a.Timestamp < wm1.UnixMilli() {
			late++ // happened before the first run, stored after it
		}
	}
	if late < 600 {
		t.Fatal("no late arrival was hidden from the first run; the test would prove nothing")
	}

	clk.Advance(13 * time.Hour) // the late arrivals are stored now
	rng := rand.New(rand.NewPCG(seed, 12))
	for range kills {
		killAfter(t, bin, env, args, time.Duration(rng.Int64N(int64(1500*time.Millisecond))))
	}
	r = testkit.Run(t, bin, env, args...)
	if r.Code != 0 {
		t.Fatalf("incremental scan exit %d:\n%s", r.Code, r.Stderr)
	}
	wm2 := storedWatermark(t, bin, dir)
	want := createdBefore(tn, wm2)
	sinks.ExactlyOnce(t, dir, want)
	t.Logf("offset %s: %d records after the first run, %d after the second (%d late arrivals among them)", offset, len(createdBefore(tn, wm1)), len(want), late)
}

// killAfter starts the binary and kills it with SIGKILL after d.
func killAfter(t *testing.T, bin string, env, args []string, d time.Duration) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(d)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
}

// storedWatermark reads the watermark of the warehouse's one scan scope with `state show`: a
// run after kills may find it already where the killed run put it, and then prints none.
func storedWatermark(t *testing.T, bin, dir string) time.Time {
	t.Helper()
	r := testkit.Run(t, bin, nil, "state", "show", "-w", dir, "--format", "json")
	var shown struct {
		Rows []struct {
			Watermark time.Time `json:"watermark"`
		} `json:"rows"`
	}
	if r.Code != 0 || json.Unmarshal([]byte(r.Stdout), &shown) != nil || len(shown.Rows) != 1 {
		t.Fatalf("state show: exit %d\n%s%s", r.Code, r.Stdout, r.Stderr)
	}
	return shown.Rows[0].Watermark
}

// createdBefore is sinks.WantTenant restricted to the activities stored before wm.
func createdBefore(tn *synth.Tenant, wm time.Time) map[string]string {
	all := sinks.WantTenant(tn, time.Time{})
	for i := range tn.Len() {
		if a := tn.Activity(i); a.Created >= wm.UnixMilli() {
			delete(all, a.ID)
		}
	}
	return all
}

// TestScanQuirksProcess runs the binary against each reported quirk of the service, and all of
// them together with faults, over a tie burst larger than a page.
func TestScanQuirksProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	tn := scanTenant()
	want := sinks.WantTenant(tn, time.Time{})
	env := []string{"MCAS_TOKEN=" + scanTestToken}
	cases := [][]simulator.Quirk{{simulator.QuirkEmptyOnTie}, {simulator.QuirkIgnoreDirection}, {simulator.QuirkApproximateTotal}, simulator.Quirks()}
	for i, quirks := range cases {
		t.Run(fmt.Sprint(quirks), func(t *testing.T) {
			t.Parallel()
			cfg := simulator.Config{Quirks: quirks}
			if len(quirks) > 1 {
				cfg.FaultSeed = 8
				cfg.FaultRates = map[simulator.Fault]float64{simulator.FaultInternalError: 0.03, simulator.FaultReset: 0.03, simulator.FaultTruncated: 0.03}
			}
			srv := startScanSim(t, tn, cfg)
			dir := t.TempDir()
			args := []string{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--progress=false", "--rate-limit", "60000",
				"--parallel", fmt.Sprint(1 + i%3), "--threads", "2"}
			if r := testkit.Run(t, bin, env, args...); r.Code != 0 {
				t.Fatalf("scan exit %d:\n%s", r.Code, r.Stderr)
			}
			sinks.ExactlyOnce(t, dir, want)
			r := testkit.Run(t, bin, env, args...)
			if r.Code != 0 || !strings.Contains(r.Stdout, ": 0 new") {
				t.Fatalf("incremental scan exit %d, want 0 new:\n%s%s", r.Code, r.Stdout, r.Stderr)
			}
			sinks.ExactlyOnce(t, dir, want)
		})
	}
}
