package loader

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// End-to-end tests of the scan loop: the simulator in-process on loopback with a virtual clock
// shared by the server (visibility, rate window) and the client (limiter, retry backoff), so
// throttling and retries cost no real time; the real warehouse in a temporary folder.

const simToken = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var simEnd = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// simTenant is small enough to scan in seconds, with both tie bursts of the issue: 600 records
// sharing one millisecond (more than a 500-record page) and 5200 (more than the 5000-record
// page and the 5000 deep-offset ceiling), and late arrivals created hours after they happened.
func simTenant() *synth.Tenant {
	return synth.New(synth.Config{
		Seed: 42, Users: 40, Days: 4, End: simEnd, Total: 600 + 5200 + 4000, // Total counts the bursts
		TieBursts: []synth.TieBurst{
			{At: simEnd.Add(-50 * time.Hour), Size: 600, Field: "both"},
			{At: simEnd.Add(-26 * time.Hour), Size: 5200, Field: "both"},
		},
		LateArrivals: 0.05,
	})
}

// scanSim is one simulator with its clock, and how to build clients and writers against it.
type scanSim struct {
	tenant *synth.Tenant
	clk    *clock.Virtual
	srv    *simulator.Server
	// clientRate is the client's budget per minute; above the server's 30 it draws real 429s.
	clientRate int
}

func newScanSim(t *testing.T, tn *synth.Tenant, cfg simulator.Config) *scanSim {
	t.Helper()
	clk := clock.NewVirtual(simEnd, true)
	cfg.Tenant, cfg.Clock, cfg.Token = tn, clk, simToken
	srv := simulator.NewServer(cfg)
	t.Cleanup(srv.Close)
	return &scanSim{tenant: tn, clk: clk, srv: srv, clientRate: mcas.DefaultRequestsPerWindow}
}

func (s *scanSim) client(t *testing.T) *mcas.Client {
	t.Helper()
	c, err := mcas.NewClient(mcas.Config{
		URL: s.srv.URL, Auth: mcas.TokenAuth{Token: mcas.NewSecret(simToken)},
		Clock: s.clk, Limiter: mcas.NewLimiter(s.clk, s.clientRate, mcas.DefaultWindow),
		Retry:  mcas.RetryPolicy{MaxAttempts: 12},
		Jitter: func() float64 { return 0.5 },
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// scanOnce opens the warehouse, scans, closes, and returns the summary and the plan.
func (s *scanSim) scanOnce(t *testing.T, dir string, sinks warehouse.Sinks, opts ScanOptions) (*Summary, ScanPlan) {
	t.Helper()
	ctx := t.Context()
	w, err := warehouse.Open(ctx, warehouse.Options{Dir: dir, Sinks: sinks, Source: "simulator", MemoryLimit: "256MB", Threads: 1, Logger: scanTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opts.URL, opts.Clock = s.srv.URL, s.clk
	opts.Pipeline = Options{Workers: 2, Allocator: mem}
	var plan ScanPlan
	opts.OnStart = func(p ScanPlan, _ func() progress.Snapshot) { plan = p }
	sum, err := Scan(ctx, s.client(t), w, opts)
	if cerr := w.Close(context.WithoutCancel(ctx)); cerr != nil {
		t.Fatalf("close warehouse: %v", cerr)
	}
	if err != nil {
		t.Fatalf("scan: %v", err)
	}
	return sum, plan
}

// scanExpectedRaw is what the warehouse must hold after scans up to the window end `to`: every
// activity the generator made with created before `to`, with its exact JSON. It is computed from
// the generator's output, not through the server's filters.
func scanExpectedRaw(tn *synth.Tenant, to time.Time) map[string]string {
	out := map[string]string{}
	var buf []byte
	for i := range tn.Len() {
		a := tn.Activity(i)
		if a.Created < to.UnixMilli() {
			buf = tn.AppendJSON(buf[:0], i)
			out[a.ID] = string(buf)
		}
	}
	return out
}

// readScanSink returns id → raw from the DuckDB table or the Parquet dataset of dir, failing when an
// id appears twice or a Parquet row sits outside the folder of its UTC day.
func readScanSink(t *testing.T, dir string, parquet bool) map[string]string {
	t.Helper()
	r, err := warehouse.OpenReader(t.Context(), warehouse.ReaderOptions{Dir: dir, PreferParquet: parquet, Logger: scanTestLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := warehouse.FromDuckDB
	if parquet {
		want = warehouse.FromParquet
	}
	if r.From != want {
		t.Fatalf("reader reads %s, want %s", r.From, want)
	}
	var misplaced int
	if err := r.Conn().QueryRowContext(t.Context(),
		`SELECT count(*) FROM activities WHERE day <> CAST(timezone('UTC', ts) AS DATE)`).Scan(&misplaced); err != nil {
		t.Fatal(err)
	}
	if misplaced > 0 {
		t.Errorf("%s: %d rows outside their UTC day", want, misplaced)
	}
	rows, err := r.Conn().QueryContext(t.Context(), `SELECT id, raw FROM activities`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[id]; dup {
			t.Fatalf("%s holds id %s twice", want, id)
		}
		out[id] = raw
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkScanSinks asserts that both sinks of dir hold exactly want, raw for raw.
func checkScanSinks(t *testing.T, dir string, want map[string]string) {
	t.Helper()
	for _, parquet := range []bool{false, true} {
		got := readScanSink(t, dir, parquet)
		name := map[bool]string{false: "duckdb", true: "parquet"}[parquet]
		missing, extra, differ := 0, 0, 0
		for id, raw := range want {
			g, ok := got[id]
			switch {
			case !ok:
				missing++
			case g != raw:
				differ++
			}
		}
		for id := range got {
			if _, ok := want[id]; !ok {
				extra++
			}
		}
		if missing+extra+differ > 0 {
			t.Errorf("%s: %d rows, want %d: %d missing, %d unexpected, %d with raw different from the source", name, len(got), len(want), missing, extra, differ)
		}
	}
}

func TestScanSimulatorExactWithFaultsTiesAndLateArrivals(t *testing.T) {
	tn := simTenant()
	s := newScanSim(t, tn, simulator.Config{
		NoRetryAfter: true, // the wait comes from the 429 body only
		FaultSeed:    9,
		FaultRates: map[simulator.Fault]float64{
			simulator.FaultInternalError: 0.04, simulator.FaultBadGateway: 0.03, simulator.FaultGatewayTimeout: 0.03,
			simulator.FaultReset: 0.03, simulator.FaultTruncated: 0.03, simulator.FaultThrottle: 0.04,
		},
	})
	s.clientRate = 45 // more than the server's 30 a minute: the server throttles for real
	dir := filepath.Join(t.TempDir(), "wh")

	// The first run: everything stored so far. Late arrivals with created after now are not
	// visible yet.
	sum1, plan1 := s.scanOnce(t, dir, warehouse.SinkBoth, ScanOptions{Limit: 500, Parallel: 2})
	if plan1.Mode != "first" {
		t.Fatalf("first run mode %q", plan1.Mode)
	}
	want1 := scanExpectedRaw(tn, plan1.To)
	checkScanSinks(t, dir, want1)
	if int(sum1.New) != len(want1) {
		t.Errorf("first run new = %d, want %d", sum1.New, len(want1))
	}
	late := 0
	for i := range tn.Len() {
		if a := tn.Activity(i); a.Created >= plan1.To.UnixMilli() && a.Timestamp < plan1.To.UnixMilli() {
			late++
		}
	}
	if late == 0 {
		t.Fatal("the tenant has no late arrivals hidden from the first run; the test would prove nothing")
	}

	// Half a day later the late arrivals (old timestamp, new created) are visible; the next
	// incremental run finds them from the watermark and they land in their old days.
	s.clk.Advance(14 * time.Hour)
	sum2, plan2 := s.scanOnce(t, dir, warehouse.SinkBoth, ScanOptions{Limit: 500, Parallel: 3})
	if plan2.Mode != "incremental" || !plan2.From.Equal(plan1.To.Add(-DefaultOverlap)) {
		t.Fatalf("second run %s from %s, want incremental from %s", plan2.Mode, plan2.From, plan1.To.Add(-DefaultOverlap))
	}
	want2 := scanExpectedRaw(tn, plan2.To)
	checkScanSinks(t, dir, want2)
	if int(sum2.New) != len(want2)-len(want1) || int(sum2.New) < late {
		t.Errorf("second run new = %d, want %d (with %d late arrivals)", sum2.New, len(want2)-len(want1), late)
	}

	// The run met what it was meant to meet.
	st := s.srv.Stats()
	k1, k2 := sum1.Counters, sum2.Counters
	if st.Faults == 0 || st.Throttled == 0 || k1["retries"]+k2["retries"] == 0 || k1["throttled_429"]+k2["throttled_429"] == 0 {
		t.Errorf("faults %d, 429s %d served; client retries %d, 429s %d: the test did not exercise them",
			st.Faults, st.Throttled, k1["retries"]+k2["retries"], k1["throttled_429"]+k2["throttled_429"])
	}
	if k1["tie_groups"] < 2 {
		t.Errorf("tie groups fetched outside scan mode = %d, want both bursts", k1["tie_groups"])
	}
}

func TestScanSimulatorParallelEqualsSequential(t *testing.T) {
	tn := simTenant()
	type result struct {
		duck, parquet map[string]string
		watermark     string
	}
	var results []result
	for _, parallel := range []int{1, 4} {
		s := newScanSim(t, tn, simulator.Config{})
		dir := filepath.Join(t.TempDir(), fmt.Sprint("wh", parallel))
		_, plan := s.scanOnce(t, dir, warehouse.SinkBoth, ScanOptions{Parallel: parallel})
		checkScanSinks(t, dir, scanExpectedRaw(tn, plan.To))
		w, err := warehouse.Open(t.Context(), warehouse.Options{Dir: dir, Logger: scanTestLogger()})
		if err != nil {
			t.Fatal(err)
		}
		v, _, _ := w.State(t.Context(), plan.Key)
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		wm, err := DecodeWatermark(v)
		if err != nil {
			t.Fatal(err)
		}
		results = append(results, result{readScanSink(t, dir, false), readScanSink(t, dir, true), wm.Created.String()})
	}
	a, b := results[0], results[1]
	if len(a.duck) != len(b.duck) || len(a.parquet) != len(b.parquet) || a.watermark != b.watermark {
		t.Fatalf("parallel 1: %d/%d rows, watermark %s; parallel 4: %d/%d rows, watermark %s",
			len(a.duck), len(a.parquet), a.watermark, len(b.duck), len(b.parquet), b.watermark)
	}
	for id, raw := range a.duck {
		if b.duck[id] != raw || b.parquet[id] != raw {
			t.Fatalf("id %s differs between parallel 1 and parallel 4", id)
		}
	}
}

func scanTestLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// BenchmarkScanSimulator measures a whole scan (API pages over loopback, conversion, DuckDB and
// Parquet commits) of a 50k-record tenant with no throttling and no page latency, so the figure
// is the loader's own speed: go test -run - -bench ScanSimulator ./loader
func BenchmarkScanSimulator(b *testing.B) {
	tn := synth.New(synth.Config{Seed: 8, Users: 200, Days: 10, End: simEnd, Total: 50_000, LateArrivals: -1})
	for _, parallel := range []int{1, 4} {
		b.Run(fmt.Sprint("parallel ", parallel), func(b *testing.B) {
			clk := clock.NewVirtual(simEnd, true)
			srv := simulator.NewServer(simulator.Config{Tenant: tn, Clock: clk, Token: simToken, RateLimit: simulator.NoRateLimit})
			defer srv.Close()
			var records, bytes int64
			for b.Loop() {
				dir := b.TempDir()
				w, err := warehouse.Open(b.Context(), warehouse.Options{Dir: dir, Source: "simulator", Logger: scanTestLogger()})
				if err != nil {
					b.Fatal(err)
				}
				client, err := mcas.NewClient(mcas.Config{URL: srv.URL, Auth: mcas.TokenAuth{Token: mcas.NewSecret(simToken)},
					Clock: clk, Limiter: mcas.NewLimiter(clk, 1_000_000, time.Minute)})
				if err != nil {
					b.Fatal(err)
				}
				sum, err := Scan(b.Context(), client, w, ScanOptions{URL: srv.URL, Clock: clk, Parallel: parallel})
				if err != nil {
					b.Fatal(err)
				}
				if err := w.Close(b.Context()); err != nil {
					b.Fatal(err)
				}
				records += sum.Records
				bytes += sum.Bytes
			}
			secs := b.Elapsed().Seconds()
			b.ReportMetric(float64(records)/secs, "records/s")
			b.ReportMetric(float64(bytes)/1e6/secs, "MB/s")
		})
	}
}
