package reliability

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// TestReliabilityServiceClock is the long form of cmd/mcasload's service-clock process test:
// many service clocks, from three years behind the machine's to three years ahead, each with
// several incremental rounds during which the service's clock moves on and stores late arrivals
// and a tie burst, every round killed at random instants (and half of the clocks with every
// quirk of the service and faults switched on) before a resume that must leave both sinks with
// exactly what the service stored before the watermark. `make test` runs the short form in
// cmd/mcasload.
func TestReliabilityServiceClock(t *testing.T) {
	if !long {
		t.Skip("long run only (make reliability); make test runs TestScanServiceClockProcess")
	}
	binary(t)
	row := record(t, "service clock", "scan against service clocks from -3y to +3y (half with every quirk and faults), 3 incremental rounds each with late arrivals revealed between them, SIGKILL at random instants in every round; both sinks compared with what the service stored before the watermark")
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MCASLOAD_RELIABILITY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (MCASLOAD_RELIABILITY_SEED reproduces it)", seed)
	rng := rand.New(rand.NewPCG(seed, 12))
	offsets := []time.Duration{-3 * timearg.Year, -timearg.Year, -30 * timearg.Day, -2 * time.Hour, -90 * time.Second,
		90 * time.Second, 2 * time.Hour, 30 * timearg.Day, timearg.Year, 3 * timearg.Year}
	kills, rounds, exact := 0, 0, 0
	for i, offset := range offsets {
		quirks := i%2 == 1
		t.Run(fmt.Sprintf("%s quirks=%v", offset, quirks), func(t *testing.T) {
			k, r, e := clockRounds(t, offset, quirks, rng)
			kills, rounds, exact = kills+k, rounds+r, exact+e
		})
	}
	row.set(kills, "%d of %d rounds exact over %d service clocks; %d kills at random instants", exact, rounds, len(offsets), kills)
}

// clockRounds runs the incremental rounds of one service clock and returns the kills made, the
// rounds run and the rounds that ended exact.
func clockRounds(t *testing.T, offset time.Duration, quirks bool, rng *rand.Rand) (kills, rounds, exact int) {
	clk := clock.NewOffset(clock.Real{}, offset)
	now := clk.Now().UTC().Truncate(time.Millisecond)
	tn := synth.New(synth.Config{Seed: rng.Int64N(1000), Users: 25, Days: 3, End: now.Add(12 * time.Hour), Total: 1800 + 3000, LateArrivals: 0.1,
		TieBursts: []synth.TieBurst{{At: now.Add(-30 * time.Hour), Size: 600, Field: "both"}, {At: now.Add(2 * time.Minute), Size: 600, Field: "created"},
			{At: now.Add(5 * time.Hour), Size: 600, Field: "created"}}})
	cfg := simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit, Clock: clk}
	if quirks {
		cfg.Quirks = simulator.Quirks()
		cfg.FaultSeed = rng.Uint64()
		cfg.FaultRates = map[simulator.Fault]float64{simulator.FaultInternalError: 0.02, simulator.FaultReset: 0.02, simulator.FaultTruncated: 0.02}
	}
	srv := simulator.NewServer(cfg)
	t.Cleanup(srv.Close)
	env := []string{"MCAS_TOKEN=" + crashToken}
	dir := filepath.Join(t.TempDir(), "wh")
	args := []string{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--batch-rows", "300", "--progress=false",
		"--rate-limit", "60000", "--parallel", strconv.Itoa(1 + rng.IntN(4)), "--threads", "2"}
	for round := range 3 {
		rounds++
		for range 2 + rng.IntN(3) {
			p := start(t, env, args...)
			time.Sleep(time.Duration(rng.Int64N(int64(2 * time.Second))))
			if p.Running() {
				if res := p.Kill(t); res.Killed {
					kills++
				}
			} else if res := p.Wait(t); res.Code != 0 {
				t.Fatalf("round %d: a run between kills failed: %s", round, res)
			}
		}
		res := run(t, env, args...)
		if res.Code != 0 {
			t.Fatalf("round %d: resume: %s", round, res)
		}
		// The last run may not have moved the watermark (a killed one before it got there):
		// read it from the warehouse.
		show := run(t, nil, "state", "show", "-w", dir, "--format", "json")
		var shown struct {
			Rows []struct {
				Watermark time.Time `json:"watermark"`
			} `json:"rows"`
		}
		if show.Code != 0 || json.Unmarshal([]byte(show.Stdout), &shown) != nil || len(shown.Rows) != 1 {
			t.Fatalf("round %d: state show: %s", round, show)
		}
		wm := shown.Rows[0].Watermark
		if d := wm.Sub(clk.Now()); d > time.Second || d < -time.Minute {
			t.Errorf("round %d: watermark %s, want the service's time %s", round, wm, clk.Now())
		}
		if sinks.ExactlyOnce(t, dir, sinks.WantTenant(tn, wm)) {
			exact++
		}
		clk.Advance(5 * time.Hour) // late arrivals and the next burst are stored
	}
	return kills, rounds, exact
}
