package bench

import (
	"bytes"
	"github.com/mcasload/mcasload/queries"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
)

// buildBinaries builds mcasload and duckref once per test binary.
func buildBinaries(t testing.TB) (mcas, duckref string) {
	t.Helper()
	return testkit.Build(t, testkit.MCASLoad), testkit.Build(t, "github.com/mcasload/mcasload/bench/cmd/duckref")
}

func TestMain(m *testing.M) { testkit.Main(m) }

// toyConfig runs every step at sizes that take seconds. Figures are printed, never asserted.
func toyConfig(t *testing.T, steps ...string) Config {
	mcas, duckref := buildBinaries(t)
	return Config{
		Bin: mcas, DuckRef: duckref, Out: t.TempDir(), Steps: steps,
		Users: 50, Days: 10, Threads: 2,
		Offline: []int{2000}, Shapes: []string{ShapeSim, ShapeWide}, Scale: 6000, ScanSizes: []int{1500, 3000}, Incremental: 2000,
		OnlineParallel: []int{2}, OnlineWindow: 3 * time.Second, OnlineRecords: 20000,
		OnlineLatency: "200ms", OnlineLimit: 500, RateLimit: 30,
		ReadOptions: Default().ReadOptions, ExtraBudget: "512MB",
		YearRows: 6000, YearDays: 3, YearUsers: 50,
	}
}

// rowsOf returns the rows of one step ("1 offline", …).
func rowsOf(tb *Table, step string) []Row {
	var rows []Row
	for _, r := range tb.Rows {
		if r.Step == step {
			rows = append(rows, r)
		}
	}
	return rows
}

// TestSmoke runs each benchmark at toy sizes and checks that it measured something real:
// processes ran to completion, records were stored, memory was sized, and every row a target
// applies to carries a verdict.
func TestSmoke(t *testing.T) {
	steps := AllSteps
	if testing.Short() {
		// The online scans and the query processes take the longest; short mode keeps the rest.
		steps = []string{StepOffline, StepMemory, StepIncremental, StepProfile, StepLimits}
	}
	cfg := toyConfig(t, steps...)
	var log bytes.Buffer
	cfg.Log = &log
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = h.Run(t.Context())
	t.Logf("harness log:\n%s", log.String())
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	var out bytes.Buffer
	if err := h.Table.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	t.Logf("toy benchmark table (figures meaningless at this size):\n%s", out.String())

	off := rowsOf(&h.Table, "1 offline")
	if len(off) != 7 {
		t.Fatalf("offline rows = %d, want load, duckdb, ratio for each shape and the larger-budget load:\n%s", len(off), out.String())
	}
	if !strings.Contains(off[3].What, "--memory-budget 512MB") || off[3].Records != off[0].Records || off[3].PeakRSS == 0 {
		t.Errorf("larger-budget load row: %+v", off[3])
	}
	for i, shape := range []string{ShapeSim, ShapeWide} {
		rows := off[3*i+min(i, 1):]
		for _, r := range rows[:2] {
			if !strings.Contains(r.What, "2k "+shape) || r.Records < 1900 || r.Records > 2000 || r.Wall <= 0 || r.PeakRSS < 10<<20 || r.MBPerSec <= 0 {
				t.Errorf("offline row %q: records %d, wall %s, rss %d, MB/s %.1f: want about 2000 %s records and real figures", r.What, r.Records, r.Wall, r.PeakRSS, r.MBPerSec, shape)
			}
		}
		if rows[0].Records != rows[1].Records {
			t.Errorf("%s: mcasload read %d records, DuckDB %d: both should read the whole file", shape, rows[0].Records, rows[1].Records)
		}
		if rows[2].Met == "" || !strings.HasPrefix(rows[2].Target, "≥ 2.0") || !strings.Contains(rows[2].Figure, "cpu") {
			t.Errorf("ratio row without figure, target or verdict: %+v", rows[2])
		}
	}
	lim := rowsOf(&h.Table, "7 limits")
	if len(lim) != 2*10 {
		t.Errorf("limits rows = %d, want 8 stages, the limit and the load for each shape:\n%s", len(lim), out.String())
	}
	for _, r := range lim {
		if (r.MBPerSec <= 0 && r.Figure != noiseFigure) || r.Figure == "" {
			t.Errorf("limits row %q without a rate: %+v", r.What, r)
		}
	}

	mem := rowsOf(&h.Table, "2 memory")
	var scans, scale int
	for _, r := range mem {
		switch {
		case strings.HasPrefix(r.What, "mcasload scan"):
			scans++
			if r.Records == 0 || r.PeakRSS == 0 {
				t.Errorf("scan row %q stored %d records, rss %d", r.What, r.Records, r.PeakRSS)
			}
		case strings.HasPrefix(r.What, "sim --ndjson"):
			scale++
			if r.Records < 5900 || r.PeakRSS == 0 {
				t.Errorf("scale row %q: %d records, rss %d; want about 6000", r.What, r.Records, r.PeakRSS)
			}
		}
	}
	if scans != 2 || scale != 1 {
		t.Errorf("memory rows: %d scans, %d scale loads; want 2 and 1:\n%s", scans, scale, out.String())
	}

	inc := rowsOf(&h.Table, "4 incremental")
	if len(inc) != 3 || inc[0].Records != inc[1].Records || inc[0].Records == 0 || inc[2].Met == "" {
		t.Errorf("incremental rows: %+v", inc)
	}

	prof := rowsOf(&h.Table, "6 profile")
	if len(prof) != 1 || prof[0].Records == 0 {
		t.Errorf("profile rows: %+v", prof)
	}
	for _, name := range []string{ProfileFile, ProfileTop} {
		fi, err := os.Stat(filepath.Join(cfg.Out, name))
		if err != nil || fi.Size() == 0 {
			t.Errorf("profile output %s missing or empty: %v", name, err)
		}
	}
	if top, err := os.ReadFile(filepath.Join(cfg.Out, ProfileTop)); err == nil && (!strings.Contains(string(top), "Type: cpu") || !strings.Contains(string(top), "flat%")) {
		t.Errorf("profile top is not a CPU profile listing:\n%s", top)
	}

	if !testing.Short() {
		on := rowsOf(&h.Table, "3 online")
		if len(on) != 2 || !strings.Contains(on[1].What, "skewed window") {
			t.Errorf("online rows = %d, want one per --parallel setting and the skewed window", len(on))
		}
		for _, r := range on {
			if r.Records == 0 || !strings.Contains(r.Figure, "0 failed") {
				t.Errorf("online row %q: %d records, %q: want pages fetched and no failed request", r.What, r.Records, r.Figure)
			}
		}
		inv := rowsOf(&h.Table, "5 investigations")
		if len(inv) != len(queries.All()) {
			t.Errorf("investigation rows = %d, want one per investigation (%d)", len(inv), len(queries.All()))
		}
		checkYear(t, rowsOf(&h.Table, "8 year"), out.String())
	}
	if _, err := os.Stat(filepath.Join(cfg.Out, "work")); !os.IsNotExist(err) {
		t.Errorf("work folder left behind (err %v); warehouses must be removed unless Keep", err)
	}
}

// checkYear checks the scale step's rows: every nightly load stored something, the
// investigations ran before and after optimize, optimize, status, verify and export ran,
// sizes were taken, and the incremental comparison has its verdict.
func checkYear(t *testing.T, rows []Row, table string) {
	t.Helper()
	var loads, invs, optimized, commands, sizes, ratios int
	var stored int64
	for _, r := range rows {
		switch {
		case strings.HasPrefix(r.What, "optimized: query "):
			optimized++
		case strings.Contains(r.What, "load ") && strings.Contains(r.What, "into ") && !strings.HasPrefix(r.What, "load 2k"):
			loads++
			stored += r.Records
			if r.Records == 0 || r.PeakRSS == 0 {
				t.Errorf("year load row %q: %d records, rss %d", r.What, r.Records, r.PeakRSS)
			}
		case strings.HasPrefix(r.What, "query "):
			invs++
		case strings.HasPrefix(r.What, "mcasload "):
			commands++
		case strings.HasPrefix(r.What, "size on disk"):
			sizes++
			if !strings.Contains(r.Figure, "per million rows") {
				t.Errorf("size row %q: %q", r.What, r.Figure)
			}
		case strings.HasPrefix(r.What, "ratio"):
			ratios++
		}
	}
	if loads != 2 || stored < 6000 || invs != len(queries.All()) || optimized != invs || commands != 4 || sizes != 2 || ratios != 1 {
		t.Errorf("year rows: %d loads storing %d, %d queries (%d optimized), %d commands, %d sizes, %d ratios; want 2 loads storing 6000+, %d (as many), 4, 2, 1:\n%s",
			loads, stored, invs, optimized, commands, sizes, ratios, len(queries.All()), table)
	}
}

func TestYearLoads(t *testing.T) {
	end := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		rows, days int
		want       []int // rows of each nightly load (the incidents' load is last and not listed)
	}{
		{20_000_000, 20, []int{2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000, 2_000_000}},
		{2_000_000, 20, []int{2_000_000}},
		{6000, 3, []int{6000}},
		{10_000_001, 2, []int{5_000_000, 5_000_001}},
	}
	for _, tt := range tests {
		loads := yearLoads(tt.rows, tt.days, 1000, end)
		var got []int
		days := 0
		for i, l := range loads[:len(loads)-1] {
			got = append(got, l.rows)
			days += l.days
			if want := end.AddDate(0, 0, -(tt.days - days)); !l.end.Equal(want) || l.incidents || l.seed != seedYear+int64(i) {
				t.Errorf("%d rows over %d days: load %d %+v, want end %s, its own seed, no incidents", tt.rows, tt.days, i, l, want)
			}
		}
		if !slices.Equal(got, tt.want) || days != tt.days {
			t.Errorf("%d rows over %d days: loads %v over %d days, want %v over %d", tt.rows, tt.days, got, days, tt.want, tt.days)
		}
		if last := loads[len(loads)-1]; !last.incidents || !last.end.Equal(end) || last.seed >= seedYear {
			t.Errorf("last load %+v, want the incidents up to the end", last)
		}
	}
}

func TestParseSummary(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want RunSummary
	}{
		{"load", "load done: 99,984 records read (342.5 MB) in 30.947s: 99,984 new, 0 duplicate, 0 rejected, 6 commits, 3,230 rec/s, 11.1 MB/s\n  days touched: 31 (2026-10-27 … 2026-11-26)\n",
			RunSummary{Records: 99984, New: 99984}},
		{"conflicts", "load done: 10 records read (0.1 MB) in 1s: 7 new, 3 duplicate (1 with different content; the stored row was kept), 2 rejected, 1 commits, 10 rec/s, 0.1 MB/s\n",
			RunSummary{Records: 10, New: 7, Duplicates: 3, Rejected: 2}},
		{"scan", "scan stopped early: 300,000 records read (1026.0 MB) in 2m10s: 300,000 new, 0 duplicate, 0 rejected, 4 commits, 2,300 rec/s, 7.8 MB/s\n  60 pages in 63 requests, 3 throttled (429), 0 retries, 0 tie groups, 40s waiting for the rate budget\n",
			RunSummary{Records: 300000, New: 300000, Pages: 60, Requests: 63, Throttled: 3}},
		{"json", "{\"time\":\"2026-12-06T15:05:42Z\",\"level\":\"INFO\",\"msg\":\"scan done\",\"summary\":{\"command\":\"scan\",\"records\":500,\"new\":480,\"duplicates\":20,\"rejected\":1,\"counters\":{\"pages\":2,\"requests\":4,\"throttled_429\":1,\"retries\":1}}}\n",
			RunSummary{Records: 500, New: 480, Duplicates: 20, Rejected: 1, Pages: 2, Requests: 4, Throttled: 1, Retries: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSummary(tt.out)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
	if _, err := ParseSummary("mcasload: open warehouse: locked\n"); err == nil {
		t.Error("no error for output without a summary")
	}
}

func TestCountWindow(t *testing.T) {
	log := strings.Join([]string{
		`time=2026-11-26T00:00:00Z level=INFO msg="generated tenant"`,
		`{"time":"2026-11-26T01:00:02Z","level":"DEBUG","msg":"request","method":"POST","path":"/api/v1/activities/","status":200,"elapsed":2}`,
		`{"time":"2026-11-26T01:00:03Z","level":"DEBUG","msg":"request","method":"POST","path":"/api/v1/activities/","status":429,"elapsed":0.001}`,
		`{"time":"2026-11-26T01:00:59Z","level":"DEBUG","msg":"request","method":"POST","path":"/api/v1/activities/","status":502,"elapsed":0.001}`,
		`{"time":"2026-11-26T01:00:01Z","level":"DEBUG","msg":"request","method":"POST","path":"/other","status":404,"elapsed":0.000001}`,
		`{"time":"2026-11-26T01:00:04Z","level":"DEBUG","msg":"request","method":"POST","path":"/api/v1/activities/","status":0,"elapsed":0.001}`,
		// Started at 01:01:00, exactly one window after the first: outside.
		`{"time":"2026-11-26T01:01:02Z","level":"DEBUG","msg":"request","method":"POST","path":"/api/v1/activities","status":200,"elapsed":2}`,
	}, "\n")
	reqs, err := ParseSimLog(log)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 5 {
		t.Fatalf("parsed %d activities requests, want 5", len(reqs))
	}
	if want := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC); !reqs[0].Start.Equal(want) {
		t.Errorf("first start %s, want %s (end minus elapsed)", reqs[0].Start, want)
	}
	got := CountWindow(reqs, time.Minute)
	if want := (WindowCounts{OK: 1, Throttled: 1, Failed: 1, Unlogged: 1}); got != want {
		t.Errorf("window counts %+v, want %+v", got, want)
	}
	if got := CountWindow(reqs, 2*time.Minute); got.OK != 2 {
		t.Errorf("two-minute window: %d ok, want 2", got.OK)
	}
}

func TestTableText(t *testing.T) {
	var tb Table
	tb.Add(Row{Step: "1 offline", What: "load", Records: 1234567, Wall: 125 * time.Second, RecPerSec: 12995.4, MBPerSec: 44.44, PeakRSS: 250e6, Target: "RSS ≤ 300 MB", Met: verdict(true)},
		Row{Step: "1 offline", What: "ratio", Figure: "0.93", Target: "≥ 1.0", Met: verdict(false)})
	tb.Note("a | note")
	var txt, md bytes.Buffer
	if err := tb.WriteText(&txt); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"1,234,567", "2m05s", "12,995", "44.4", "250", "note: a | note"} {
		if !strings.Contains(txt.String(), want) {
			t.Errorf("text table lacks %q:\n%s", want, txt.String())
		}
	}
	if err := tb.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(md.String()), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[1], "|---|") || !strings.Contains(lines[3], "| 0.93 | ≥ 1.0 | no |") {
		t.Errorf("markdown table:\n%s", md.String())
	}
	if lines[5] != "- a | note" {
		t.Errorf("markdown note missing:\n%s", md.String())
	}
}

func TestNewRejectsUnknownStep(t *testing.T) {
	_, err := New(Config{Bin: "x", DuckRef: "y", Out: t.TempDir(), Steps: []string{"offline", "warp"}})
	if err == nil || !strings.Contains(err.Error(), `"warp"`) {
		t.Errorf("err = %v, want one naming the unknown step", err)
	}
}

// BenchmarkOffline runs measurement 1 (mcasload load against DuckDB's own reader, separate
// processes) on MCASLOAD_BENCH_RECORDS generated records (default 20000) and reports the ratio,
// the load's rate and its peak RSS. make bench runs the full set at 100k and 1M.
//
//	go test -tags=duckdb_arrow -run '^$' -bench Offline -benchtime 1x ./bench
func BenchmarkOffline(b *testing.B) {
	n := 20000
	if v, err := strconv.Atoi(os.Getenv("MCASLOAD_BENCH_RECORDS")); err == nil && v > 0 {
		n = v
	}
	mcas, duckref := buildBinaries(b)
	cfg := Default()
	cfg.Bin, cfg.DuckRef, cfg.Out, cfg.Steps, cfg.Offline = mcas, duckref, b.TempDir(), []string{StepOffline}, []int{n}
	for b.Loop() {
		h, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := h.Run(b.Context()); err != nil {
			b.Fatal(err)
		}
		rows := rowsOf(&h.Table, "1 offline")
		ratio, _ := strconv.ParseFloat(rows[2].Figure, 64)
		b.ReportMetric(ratio, "duckdb/mcasload")
		b.ReportMetric(rows[0].RecPerSec, "records/s")
		b.ReportMetric(MB(rows[0].PeakRSS), "peak-RSS-MB")
		b.ReportMetric(MB(rows[1].PeakRSS), "duckdb-peak-RSS-MB")
	}
}

func TestParsePhases(t *testing.T) {
	log := strings.Join([]string{
		`{"time":"2026-11-26T01:00:00Z","level":"DEBUG","msg":"opened the duckdb file","took":0.001}`,
		`{"time":"2026-11-26T01:00:01Z","level":"DEBUG","msg":"committed","seq":1,"hash":0.002,"probe":0.3,"plan":0.001,"transaction":4}`,
		`{"time":"2026-11-26T01:00:02Z","level":"DEBUG","msg":"published","seq":1,"days":2,"took":0.5}`,
		`{"time":"2026-11-26T01:00:03Z","level":"DEBUG","msg":"closed the duckdb file","took":0.25}`,
		`not json`,
		`{"time":"2026-11-26T01:00:04Z","level":"DEBUG","msg":"committed","seq":2,"hash":0.002,"probe":0.7,"plan":0.001,"transaction":1}`,
	}, "\n")
	path := filepath.Join(t.TempDir(), "load.log")
	if err := os.WriteFile(path, []byte(log), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := ParsePhases(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Commits != 2 {
		t.Errorf("commits = %d, want 2", p.Commits)
	}
	want := map[string]time.Duration{"open": time.Millisecond, "hash": 4 * time.Millisecond, "dedupe-probe": time.Second,
		"plan": 2 * time.Millisecond, "insert-tx": 5 * time.Second, "parquet": 500 * time.Millisecond, "close+checkpoint": 250 * time.Millisecond}
	for k, v := range want {
		if p.Times[k] != v {
			t.Errorf("%s = %s, want %s", k, p.Times[k], v)
		}
	}
	if s := p.String(); !strings.HasPrefix(s, "2 commits: insert-tx 5.00s, dedupe-probe 1.00s, parquet 0.50s") {
		t.Errorf("String() = %q, want phases largest first", s)
	}
}
