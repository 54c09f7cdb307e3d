// Package bench measures mcasload the way its users run it: real `mcasload` processes (load,
// scan, query) against files and a simulator in its own process, timed by wall clock and sized
// by the kernel's peak resident set (wait4 rusage), each beside its reference in the same run so
// that ratios survive a noisy shared machine. bench/cmd/benchtable (make bench) runs every
// measurement and prints one table; the package's tests run each one at toy sizes.
package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Steps of the benchmark, in the order Run takes them.
const (
	StepOffline        = "offline"        // 1: mcasload load vs DuckDB's own reader, both record shapes
	StepMemory         = "memory"         // 2: peak RSS of load 1M vs 5M, scan 100k vs 1M
	StepOnline         = "online"         // 3: share of the API ceiling for --parallel 1, 2, 4
	StepIncremental    = "incremental"    // 4: 100k into 5M vs into empty
	StepInvestigations = "investigations" // 5: every canned investigation on 5M
	StepProfile        = "profile"        // 6: CPU profile of the offline load
	StepLimits         = "limits"         // 7: each stage of a load alone: the distance to the limit
	// StepYear is the scale step: a warehouse of YearRows (20M, about 20 days of a large
	// tenant) filled by nightly loads, then what it costs to use. Long: not in DefaultSteps.
	StepYear = "year"
)

// AllSteps lists every step in order.
var AllSteps = []string{StepOffline, StepMemory, StepOnline, StepIncremental, StepInvestigations, StepProfile, StepLimits, StepYear}

// DefaultSteps are the steps of `make bench`: all but the scale step, which takes an hour at
// its full size (make bench BENCHFLAGS='--steps year').
var DefaultSteps = []string{StepOffline, StepMemory, StepOnline, StepIncremental, StepInvestigations, StepProfile, StepLimits}

// Record shapes of the offline step: the simulator's tenant, and the wide shape of other
// tenants (wide.go).
const (
	ShapeSim  = "sim"
	ShapeWide = "wide"
)

// Config sizes a benchmark run. Zero fields take the defaults of the full run (Default).
type Config struct {
	Bin     string // the mcasload binary
	DuckRef string // the duckref binary (bench/cmd/duckref)
	Out     string // cache of generated inputs, work folders and results (bench/out)
	Steps   []string

	Users   int // users of generated tenants (2,000)
	Days    int // days of generated tenants (30)
	Threads int // DuckDB threads and conversion workers of every process (2)

	Offline        []int    // offline conversion sizes (100k, 1M)
	Shapes         []string // record shapes of the offline step (sim, wide)
	Scale          int      // the large load for memory, incremental and investigations (5M)
	ScanSizes      []int    // scans with throttling off for memory (100k, 1M)
	Incremental    int      // new records loaded into the scale warehouse (100k)
	OnlineParallel []int    // --parallel settings of the online scan (1, 2, 4)
	// OnlineWindow is the measured span of each online scan, from its first request. A multiple
	// of the rate window (60 s) makes the ceiling exact whatever the burst at the start.
	OnlineWindow  time.Duration
	OnlineRecords int    // records the online simulator holds (enough for the window)
	OnlineLatency string // simulator page latency per 5000 records ("2s")
	OnlineLimit   int    // scan page size (5000)
	RateLimit     int    // requests per minute (30)
	// ExtraBudget, when set, adds a load of the smallest offline size (simulator records) with
	// this --memory-budget, to show what a larger budget buys in time.
	ExtraBudget string
	// YearRows, YearDays and YearUsers size the scale step's warehouse (20M rows, 20 days,
	// 20,000 users: a large tenant's million activities a day).
	YearRows, YearDays, YearUsers int
	// ProfileRecords is the size of the profiled load (default: the smallest offline size).
	ProfileRecords int
	// ReadOptions are extra read_json_auto options of the DuckDB reference. DuckDB refuses
	// realistic records whose objects hold keys differing only in case unless told to
	// ignore_errors (the documented remedy its error message names).
	ReadOptions string
	Keep        bool      // keep work folders (warehouses) after the run
	Log         io.Writer // progress lines; nil discards
}

// Default returns the full `make bench` configuration.
func Default() Config {
	return Config{
		Out:            "bench/out",
		Steps:          DefaultSteps,
		Users:          2000,
		Days:           30,
		Threads:        2,
		Offline:        []int{100_000, 1_000_000},
		Shapes:         []string{ShapeSim, ShapeWide},
		Scale:          5_000_000,
		ScanSizes:      []int{100_000, 1_000_000},
		Incremental:    100_000,
		OnlineParallel: []int{1, 2, 4},
		OnlineWindow:   2 * time.Minute,
		OnlineRecords:  400_000,
		OnlineLatency:  "2s",
		OnlineLimit:    5000,
		RateLimit:      30,
		ReadOptions:    "ignore_errors=true",
		ExtraBudget:    "512MB",
		YearRows:       20_000_000,
		YearDays:       20,
		YearUsers:      20_000,
	}
}

// Seeds of the generated tenants: the incremental load's records (the offline file) must not
// share ids with the scale warehouse.
const (
	seedOffline = 1
	seedScale   = 2
	seedScan    = 3
	seedOnline  = 4
	seedYear    = 100 // and up: one seed per nightly load of the scale step
)

// Harness runs the measurements of one Config and gathers the table.
type Harness struct {
	cfg   Config
	Table Table
	// offlineLoads remembers the offline load of each shape and size, so the memory step
	// reuses it.
	offlineLoads map[offlineKey]Usage
	// base is the scale warehouse once loaded (investigations and incremental use it).
	base    string
	baseErr error // the scale load failed: later steps say so instead of loading again
	// token is the simulator token of this run, passed through the environment only.
	token string
	// Facts describe the machine and the run (for docs/benchmarks.md).
	Facts Facts
}

// New checks cfg and prepares the output folders.
func New(cfg Config) (*Harness, error) {
	d := Default()
	if cfg.Out == "" {
		cfg.Out = d.Out
	}
	if len(cfg.Steps) == 0 {
		cfg.Steps = d.Steps
	}
	for _, s := range cfg.Steps {
		if !contains(AllSteps, s) {
			return nil, fmt.Errorf("unknown step %q: use %s", s, strings.Join(AllSteps, ", "))
		}
	}
	setDefault(&cfg.Users, d.Users)
	setDefault(&cfg.Days, d.Days)
	setDefault(&cfg.Threads, d.Threads)
	setDefault(&cfg.Scale, d.Scale)
	setDefault(&cfg.Incremental, d.Incremental)
	setDefault(&cfg.OnlineRecords, d.OnlineRecords)
	setDefault(&cfg.OnlineLimit, d.OnlineLimit)
	setDefault(&cfg.RateLimit, d.RateLimit)
	setDefault(&cfg.YearRows, d.YearRows)
	setDefault(&cfg.YearDays, d.YearDays)
	setDefault(&cfg.YearUsers, d.YearUsers)
	if cfg.Offline == nil {
		cfg.Offline = d.Offline
	}
	if cfg.Shapes == nil {
		cfg.Shapes = d.Shapes
	}
	for _, s := range cfg.Shapes {
		if s != ShapeSim && s != ShapeWide {
			return nil, fmt.Errorf("unknown record shape %q: use %s or %s", s, ShapeSim, ShapeWide)
		}
	}
	if cfg.ScanSizes == nil {
		cfg.ScanSizes = d.ScanSizes
	}
	if cfg.OnlineParallel == nil {
		cfg.OnlineParallel = d.OnlineParallel
	}
	if cfg.OnlineWindow <= 0 {
		cfg.OnlineWindow = d.OnlineWindow
	}
	if cfg.OnlineLatency == "" {
		cfg.OnlineLatency = d.OnlineLatency
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if cfg.Bin == "" || cfg.DuckRef == "" {
		return nil, fmt.Errorf("new harness: the mcasload and duckref binaries are required (build them with go build -tags duckdb_arrow)")
	}
	for _, dir := range []string{cfg.cacheDir(), cfg.workDir()} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		return nil, fmt.Errorf("make simulator token: %w", err)
	}
	return &Harness{cfg: cfg, offlineLoads: map[offlineKey]Usage{}, token: hex.EncodeToString(tok)}, nil
}

func setDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (c Config) cacheDir() string { return filepath.Join(c.Out, "cache") }
func (c Config) workDir() string  { return filepath.Join(c.Out, "work") }

func (h *Harness) logf(format string, args ...any) {
	fmt.Fprintf(h.cfg.Log, "%s bench: %s\n", time.Now().UTC().Format("15:04:05"), fmt.Sprintf(format, args...))
}

func (h *Harness) wants(step string) bool { return contains(h.cfg.Steps, step) }

// Run takes every configured step in order. A failed step is recorded as a note and the next
// step still runs, so one broken measurement does not hide the others; the error returned
// joins what failed.
func (h *Harness) Run(ctx context.Context) error {
	_ = os.RemoveAll(filepath.Join(h.cfg.Out, "logs")) // this run's logs only
	h.Facts = machineFacts(ctx)
	h.Facts.Started = time.Now().UTC()
	var failed []string
	run := func(step string, fn func(context.Context) error) {
		if !h.wants(step) || ctx.Err() != nil {
			return
		}
		start := time.Now()
		h.logf("step %s", step)
		if err := fn(ctx); err != nil {
			h.Table.Note("step %s failed: %v", step, err)
			h.logf("step %s failed: %v", step, err)
			failed = append(failed, step+": "+err.Error())
		}
		h.logf("step %s took %s", step, time.Since(start).Round(time.Second))
	}
	// The steps on the scale warehouse follow the step that loads it; the online scans, which
	// need no warehouse of their own and mostly wait on the rate budget, come last.
	run(StepOffline, h.offline)
	run(StepMemory, h.memory)
	run(StepInvestigations, h.investigations)
	run(StepIncremental, h.incremental)
	run(StepProfile, h.profile)
	run(StepLimits, h.limits)
	run(StepYear, h.year)
	run(StepOnline, h.online)
	if !h.cfg.Keep {
		_ = os.RemoveAll(h.cfg.workDir())
	}
	h.Facts.Finished = time.Now().UTC()
	h.Facts.LoadEnd = loadAvg()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("run benchmarks: %w", err)
	}
	if len(failed) > 0 {
		return fmt.Errorf("run benchmarks: %s", strings.Join(failed, "; "))
	}
	return nil
}

// ndjson returns the cached NDJSON file of n generated records from seed, generating it with
// `mcasload sim --ndjson` when missing (the simulator writes through a temporary file and a
// rename, so an interrupted run never leaves half a file under the final name).
func (h *Harness) ndjson(ctx context.Context, seed int64, n int) (string, error) {
	name := fmt.Sprintf("sim-s%d-u%d-d%d-n%d.ndjson", seed, h.cfg.Users, h.cfg.Days, n)
	path := filepath.Join(h.cfg.cacheDir(), name)
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	h.logf("generating %s", path)
	u, err := Run(ctx, Cmd{Path: h.cfg.Bin, Args: h.simArgs(seed, n, "--ndjson", path)})
	if err != nil {
		return "", err
	}
	if u.ExitCode != 0 {
		return "", fmt.Errorf("generate %s: exit %d: %s", name, u.ExitCode, lastLines(u.Stderr, 5))
	}
	return path, nil
}

// simArgs are the simulator flags of a generated tenant.
func (h *Harness) simArgs(seed int64, n int, extra ...string) []string {
	return append([]string{"sim", "--seed", strconv.FormatInt(seed, 10), "--users", strconv.Itoa(h.cfg.Users),
		"--days", strconv.Itoa(h.cfg.Days), "--records", strconv.Itoa(n)}, extra...)
}

// offlineInput returns the cached offline file of n simulator records (seed 1, generated when
// missing), read once so every process measured on it finds it in the page cache, and its size.
func (h *Harness) offlineInput(ctx context.Context, n int) (string, int64, error) {
	return h.shapeInput(ctx, ShapeSim, n)
}

// shapeInput is offlineInput for records of either shape.
func (h *Harness) shapeInput(ctx context.Context, shape string, n int) (string, int64, error) {
	var file string
	var err error
	if shape == ShapeWide {
		file, err = h.wideNDJSON(seedOffline, n)
	} else {
		file, err = h.ndjson(ctx, seedOffline, n)
	}
	if err != nil {
		return "", 0, err
	}
	size, err := warm(file)
	return file, size, err
}

// warm reads a file once so every process measured on it finds it in the page cache.
func warm(path string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("warm %s: %w", path, err)
	}
	defer f.Close()
	n, err := io.Copy(io.Discard, f)
	if err != nil {
		return n, fmt.Errorf("warm %s: %w", path, err)
	}
	return n, nil
}

// workPath returns a fresh (removed) path under the work folder.
func (h *Harness) workPath(name string) (string, error) {
	p := filepath.Join(h.cfg.workDir(), name)
	if err := os.RemoveAll(p); err != nil {
		return "", fmt.Errorf("clear %s: %w", p, err)
	}
	return p, nil
}

// drop removes a work folder unless the run keeps them (warehouses reach gigabytes).
func (h *Harness) drop(path string) {
	if !h.cfg.Keep {
		_ = os.RemoveAll(path)
	}
}

// writerArgs are the flags every measured load and scan gets: the same threads as the reference.
func (h *Harness) writerArgs(warehouse string) []string {
	return []string{"--warehouse", warehouse, "--progress=false", "--threads", strconv.Itoa(h.cfg.Threads)}
}

// RunSummary is what mcasload printed at the end of a load or scan.
type RunSummary struct {
	Records, New, Duplicates, Rejected  int64
	Pages, Requests, Throttled, Retries int64
}

var (
	summaryRE  = regexp.MustCompile(`(?m)^(?:load|scan) [a-z ]+: ([\d,]+) records read \([\d.]+ MB\) in [^:]+: ([\d,]+) new, ([\d,]+) duplicate.*?, ([\d,]+) rejected`)
	countersRE = regexp.MustCompile(`(?m)^\s+(\d+) pages in (\d+) requests, (\d+) throttled \(429\), (\d+) retries`)
)

// jsonSummary is the summary record `mcasload load|scan --log-format json` prints on stdout.
type jsonSummary struct {
	Summary *struct {
		Records, New, Duplicates, Rejected int64
		Counters                           map[string]int64
	} `json:"summary"`
}

// ParseSummary reads the summary of `mcasload load` or `mcasload scan` output: the text lines,
// or the JSON record with --log-format json.
func ParseSummary(out string) (RunSummary, error) {
	var s RunSummary
	for _, line := range strings.Split(out, "\n") {
		var j jsonSummary
		if strings.HasPrefix(line, "{") && json.Unmarshal([]byte(line), &j) == nil && j.Summary != nil {
			k := j.Summary.Counters
			return RunSummary{Records: j.Summary.Records, New: j.Summary.New, Duplicates: j.Summary.Duplicates, Rejected: j.Summary.Rejected,
				Pages: k["pages"], Requests: k["requests"], Throttled: k["throttled_429"], Retries: k["retries"]}, nil
		}
	}
	m := summaryRE.FindStringSubmatch(out)
	if m == nil {
		return s, fmt.Errorf("parse summary: no summary line in %q", lastLines(out, 3))
	}
	s.Records, s.New, s.Duplicates, s.Rejected = atoi(m[1]), atoi(m[2]), atoi(m[3]), atoi(m[4])
	if c := countersRE.FindStringSubmatch(out); c != nil {
		s.Pages, s.Requests, s.Throttled, s.Retries = atoi(c[1]), atoi(c[2]), atoi(c[3]), atoi(c[4])
	}
	return s, nil
}

func atoi(s string) int64 {
	n, _ := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
	return n
}

// checkRun turns an unexpected exit code into an error naming the command and its last words.
func checkRun(c Cmd, u Usage, ok ...int) error {
	if len(ok) == 0 {
		ok = []int{0}
	}
	for _, code := range ok {
		if u.ExitCode == code {
			return nil
		}
	}
	return fmt.Errorf("%s %s: exit %d: %s", filepath.Base(c.Path), c.Args[0], u.ExitCode, lastLines(u.Stderr+u.Stdout, 4))
}

// rate is n per second of d.
func rate(n float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return n / d.Seconds()
}
