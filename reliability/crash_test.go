package reliability

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// crashToken is the legacy token of the crash tests' simulator.
const crashToken = "crashTestToken7d1e0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b"

// crashTenant is small enough to scan in a few seconds and big enough that every failpoint is hit
// several times per run: three days, 500-record pages committed one by one, and a 600-record tie
// burst (more than a page). Every record is visible (the data ended an hour ago, no late arrivals).
func crashTenant() *synth.Tenant {
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	return synth.New(synth.Config{
		Seed: 11, Users: 25, Days: 3, End: end, Total: 3000, LateArrivals: -1,
		TieBursts: []synth.TieBurst{{At: end.Add(-30 * time.Hour), Size: 600, Field: "both"}},
	})
}

// killPoint is a failpoint kill: the armed point, the kills that must precede it (reconcile needs
// a half-published commit to reconcile), N for "@N", drawn from 1..maxN, and flags the killed
// run needs to reach the point.
type killPoint struct {
	name  string
	maxN  int
	prior []string
	flags []string
}

// crashPoints lists every failpoint of a path; reconcile is preceded by a kill that leaves a
// synced but unrenamed Parquet file behind, compaction happens once per run at Close.
func crashPoints(scan bool) []killPoint {
	var out []killPoint
	names := failpoint.Names
	if !slices.Contains(names, "fetch") {
		names = append([]string{"fetch"}, names...)
	}
	for _, n := range names {
		if n == "fetch" && !scan {
			continue // only a scan fetches
		}
		kp := killPoint{name: n, maxN: 3}
		switch n {
		case "reconcile":
			kp.maxN, kp.prior = 1, []string{"parquet-before-rename@2"}
		case "create-database":
			// once per warehouse, at its first Open
			kp.maxN = 1
		case "compact-before-rename", "compact-after-rename":
			// once per run, at Close
			kp.maxN = 1
		case "merge-before-commit":
			// once per table at Close, when commits left row groups to merge: commits that
			// close the file after each (as a scan slower than the hold does) leave them
			kp.maxN, kp.flags = 1, []string{"--hold-file", "0"}
		case "ids-merge":
			// The id index merges its runs when the newest is as large as the one before: a
			// short scan (a few commits per tenant) merges once or twice, so only the first
			// merge is sure to come.
			kp.maxN = 1
		}
		out = append(out, kp)
	}
	return out
}

// crashRun describes one path under test: how to run it on a warehouse and what it must hold.
// A path of several tenants runs one command per tenant (jobs) into the same warehouse, and each
// tenant must hold its own rows (wantTenants).
type crashRun struct {
	category    string
	args        func(dir string) []string
	jobs        []func(dir string) []string
	env         []string
	want        map[string]string
	wantTenants map[string]map[string]string
	points      []killPoint
	okCodes     []int
	// longKills is the number of kills of the long run.
	longKills int
}

func TestReliabilityCrashScan(t *testing.T) {
	binary(t)
	tn := crashTenant()
	srv := simulator.NewServer(simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit})
	t.Cleanup(srv.Close)
	crashTest(t, crashRun{
		category: "crash: scan",
		args: func(dir string) []string {
			return []string{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--batch-rows", "300", "--progress=false",
				"--rate-limit", "60000", "--parallel", "2", "--threads", "2", "--compact-over", "1"}
		},
		env:       []string{"MCAS_TOKEN=" + crashToken},
		want:      sinks.WantTenant(tn, time.Time{}),
		points:    crashPoints(true),
		okCodes:   []int{0},
		longKills: 100,
	})
}

// TestReliabilityCrashTenants: two simulated tenants scanned into one warehouse, each by its own
// command; a round kills one tenant's scan at a failpoint and either at random instants, then
// runs both to the end: each tenant's rows must be exact, in its own tenant= folder. Only the long
// run (`make reliability`): cmd/mcasload's TestTenantsScanProcess is its short form.
func TestReliabilityCrashTenants(t *testing.T) {
	if !long {
		t.Skip("the long kill loop of two tenants runs in make reliability (MCASLOAD_RELIABILITY=long)")
	}
	binary(t)
	var jobs []func(string) []string
	want := map[string]map[string]string{}
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	for i, label := range []string{"contoso", "fabrikam"} {
		cfg := synth.ForTenant(synth.Config{Seed: 13, Users: 20, Days: 3, End: end, Total: 1800, LateArrivals: -1,
			TieBursts: []synth.TieBurst{{At: end.Add(-20 * time.Hour), Size: 600, Field: "both"}}}, label)
		tn := synth.New(cfg)
		srv := simulator.NewServer(simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit, FaultSeed: uint64(3 + i),
			FaultRates: map[simulator.Fault]float64{simulator.FaultInternalError: 0.03, simulator.FaultReset: 0.02}})
		t.Cleanup(srv.Close)
		want[label] = sinks.WantTenant(tn, time.Time{})
		jobs = append(jobs, func(dir string) []string {
			return []string{"scan", "--url", srv.URL, "--tenant-label", label, "-w", dir, "--limit", "500", "--batch-rows", "300",
				"--progress=false", "--rate-limit", "60000", "--parallel", "2", "--threads", "2", "--compact-over", "1"}
		})
	}
	crashTest(t, crashRun{
		category:    "crash: two tenants",
		jobs:        jobs,
		env:         []string{"MCAS_TOKEN=" + crashToken},
		wantTenants: want,
		points:      crashPoints(true),
		okCodes:     []int{0},
		longKills:   100,
	})
}

func TestReliabilityCrashLoad(t *testing.T) {
	binary(t)
	tn := crashTenant()
	file := splitNDJSON(t, tn, 1)[0] // every record, in one file
	crashTest(t, crashRun{
		category: "crash: load",
		args: func(dir string) []string {
			return []string{"load", "-w", dir, "--batch-rows", "300", "--progress=false", "--threads", "2", "--compact-over", "1", file}
		},
		want:      sinks.WantTenant(tn, time.Time{}),
		points:    crashPoints(false),
		okCodes:   []int{0},
		longKills: 100,
	})
}

// crashTest runs rounds on fresh warehouses: a kill at a failpoint (asserted reached through its
// marker), then kills at random instants, then in the long run a second failpoint kill that may
// or may not be reached, then a resume that must finish and leave both sinks exactly equal to an
// uninterrupted run. It stops once enough kills were made.
func crashTest(t *testing.T, cr crashRun) {
	target := pick(4, cr.longKills)
	if n, err := strconv.Atoi(os.Getenv("MCASLOAD_RELIABILITY_KILLS")); err == nil && n > 0 {
		target = n // to rerun a shorter or longer series by hand
	}
	row := record(t, cr.category, fmt.Sprintf("SIGKILL of the real binary at every failpoint (%s) and at random instants, resuming after each round; both sinks compared with an uninterrupted run",
		strings.Join(pointNames(cr.points), ", ")))

	jobs := cr.jobs
	if len(jobs) == 0 {
		jobs = []func(string) []string{cr.args}
	}
	exactly := func(dir string) bool {
		if cr.wantTenants != nil {
			return sinks.ExactlyOncePerTenant(t, dir, cr.wantTenants)
		}
		return sinks.ExactlyOnce(t, dir, cr.want)
	}
	// resume runs every job to its end; a failure is an error that ends the round.
	torn := 0 // DuckDB files a kill damaged, rebuilt from Parquet (repairTorn)
	resume := func(dir string) (time.Duration, error) {
		var took time.Duration
		for _, job := range jobs {
			res := run(t, cr.env, job(dir)...)
			if repairTorn(t, res, dir) {
				torn++
				res = run(t, cr.env, job(dir)...)
			}
			if !slices.Contains(cr.okCodes, res.Code) {
				return 0, fmt.Errorf("run to the end: %s", res)
			}
			took = max(took, res.Elapsed)
		}
		return took, nil
	}

	// The uninterrupted run: the reference, and how long a run takes (random kills fall inside it).
	ref := filepath.Join(t.TempDir(), "uninterrupted")
	took, err := resume(ref)
	if err != nil {
		t.Fatalf("uninterrupted run: %v", err)
	}
	span := max(took, 300*time.Millisecond)
	if !exactly(ref) {
		t.Fatal("the uninterrupted run is not exact; the crash rounds would compare with a wrong reference")
	}

	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("MCASLOAD_RELIABILITY_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	t.Logf("seed %d (MCASLOAD_RELIABILITY_SEED reproduces the kill sequence); uninterrupted run %s", seed, span.Round(time.Millisecond))
	rng := rand.New(rand.NewPCG(seed, 2))

	kills, randomKills, rounds, unreached, exact := 0, 0, 0, 0, 0
	var failedRounds []int
	reached := map[string]int{}
	// killAt runs a job (a random one of several) with fp armed; a wrong outcome is an error
	// that ends the round.
	killAt := func(dir, fp string, mustReach bool, flags ...string) error {
		marker := filepath.Join(t.TempDir(), "marker")
		args := jobs[rng.IntN(len(jobs))](dir)
		args = slices.Insert(args, 1, flags...) // after the command, before a load's files
		res := run(t, append([]string{failpoint.EnvName + "=" + fp, failpoint.EnvMarker + "=" + marker}, cr.env...), args...)
		name, _, _ := strings.Cut(fp, "@")
		got, err := os.ReadFile(marker)
		switch {
		case res.Killed && err == nil && strings.TrimSpace(string(got)) == name:
			reached[name]++
			kills++
			return nil
		case res.Killed:
			return fmt.Errorf("failpoint %s: killed but marker %q (%v): the process died elsewhere\n%s", fp, got, err, res)
		case repairTorn(t, res, dir):
			torn++
			return nil
		case mustReach:
			return fmt.Errorf("failpoint %s was not reached on a fresh warehouse: %s", fp, res)
		case !slices.Contains(cr.okCodes, res.Code):
			return fmt.Errorf("run with failpoint %s armed (not reached) failed: %s", fp, res)
		}
		unreached++
		return nil
	}
	// round kills and resumes one fresh warehouse, then compares it with the uninterrupted run.
	round := func(n int) error {
		dir := filepath.Join(t.TempDir(), fmt.Sprint("round", n))
		// The short run spreads its few rounds over the list; the long one walks all of it.
		kp := cr.points[(n*pick(4, 1))%len(cr.points)]
		for _, p := range kp.prior {
			if err := killAt(dir, p, true); err != nil {
				return err
			}
		}
		if err := killAt(dir, fmt.Sprintf("%s@%d", kp.name, 1+rng.IntN(kp.maxN)), true, kp.flags...); err != nil {
			return err
		}
		for range 1 + rng.IntN(2) {
			p := start(t, cr.env, jobs[rng.IntN(len(jobs))](dir)...)
			time.Sleep(time.Duration(rng.Int64N(int64(span))))
			if p.Running() {
				if res := p.Kill(t); res.Killed {
					kills++
					randomKills++
				}
			} else if res := p.Wait(t); repairTorn(t, res, dir) {
				torn++
			} else if !slices.Contains(cr.okCodes, res.Code) {
				return fmt.Errorf("a run after kills failed: %s", res)
			}
		}
		if long && rng.IntN(2) == 0 {
			if other := cr.points[rng.IntN(len(cr.points))]; len(other.prior) == 0 {
				if err := killAt(dir, fmt.Sprintf("%s@%d", other.name, 1+rng.IntN(other.maxN)), false, other.flags...); err != nil {
					return err
				}
			}
		}
		if _, err := resume(dir); err != nil {
			return fmt.Errorf("resume after killing at %s: %w", kp.name, err)
		}
		if !exactly(dir) {
			return fmt.Errorf("after killing at %s the resumed warehouse differs from the uninterrupted run", kp.name)
		}
		return nil
	}
	rounds, exact, failedRounds = killRounds(t, func() bool { return kills < target }, 5, round)
	checkReached(t, cr.points, reached)
	checkTorn(t, torn)
	t.Logf("%d kills (%d at random instants) over %d rounds (%d exact, failed %v), %d armed failpoints not reached after earlier kills; reached: %v",
		kills, randomKills, rounds, exact, failedRounds, unreached, reached)
	ids := len(cr.want)
	for _, w := range cr.wantTenants {
		ids += len(w)
	}
	row.set(kills, "%d of %d rounds resumed to a warehouse equal to the uninterrupted run (%d ids, both sinks, no duplicates, every row in its day and tenant, raw equal); %d kills at random instants; %d torn DuckDB blocks rebuilt from Parquet; failpoints reached: %s",
		exact, rounds, ids, randomKills, torn, formatCounts(reached))
}

func pointNames(points []killPoint) []string {
	var out []string
	for _, p := range points {
		out = append(out, p.name)
	}
	return out
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

// killRounds runs rounds while more() says kills are still wanted. A failed round is reported
// and the series goes on, so the figures count every kill; a broken build stops it after
// maxFailed.
func killRounds(t *testing.T, more func() bool, maxFailed int, round func(n int) error) (rounds, exact int, failed []int) {
	t.Helper()
	for n := 0; more() && len(failed) < maxFailed; n++ {
		rounds++
		if err := round(n); err != nil {
			failed = append(failed, n)
			t.Errorf("round %d: %v", n, err)
			continue
		}
		exact++
	}
	return rounds, exact, failed
}

// checkReached fails the long run when a failpoint of points was never reached.
func checkReached(t *testing.T, points []killPoint, reached map[string]int) {
	t.Helper()
	if !long {
		return
	}
	for _, kp := range points {
		if reached[kp.name] == 0 {
			t.Errorf("failpoint %s was never reached", kp.name)
		}
	}
}
