package queries

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// BenchmarkInvestigations times every investigation over the last 7 days of a tenant.
//
//	MCASLOAD_BENCH_WAREHOUSE=DIR  run over an existing warehouse (e.g. 5 M rows loaded by mcasload load)
//	MCASLOAD_BENCH_ROWS=N         otherwise generate N activities (default 20000) over 30 days,
//	                              one user per 2,500 rows, into a DuckDB file
//	MCASLOAD_BENCH_THREADS=T      DuckDB threads (default 2, the target machine)
//	MCASLOAD_BENCH_EXPLAIN=DIR    also write each investigation's profiled plan (EXPLAIN ANALYZE, JSON) to DIR/NAME.json
//
//	go test -tags=duckdb_arrow -run '^$' -bench Investigations -benchtime 3x ./queries
func BenchmarkInvestigations(b *testing.B) {
	threads := envInt("MCASLOAD_BENCH_THREADS", 2)
	var conn *sql.Conn
	var tenants []string
	if dir := os.Getenv("MCASLOAD_BENCH_WAREHOUSE"); dir != "" {
		r, err := warehouse.OpenReader(b.Context(), warehouse.ReaderOptions{Dir: dir, Threads: threads, MemoryLimit: "2GB"})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { r.Close() })
		conn, tenants = r.Conn(), r.Tenants
	} else {
		conn = benchTenant(b, envInt("MCASLOAD_BENCH_ROWS", 20000), threads)
	}
	var rows int64
	var until time.Time
	if err := conn.QueryRowContext(b.Context(), "SELECT count(*), max(ts) FROM activities").Scan(&rows, &until); err != nil {
		b.Fatal(err)
	}
	var user, ip string
	if err := conn.QueryRowContext(b.Context(), "SELECT user_name, ip FROM activities WHERE ts > $1::TIMESTAMPTZ - INTERVAL 1 DAY AND ip IS NOT NULL LIMIT 1", until).Scan(&user, &ip); err != nil {
		b.Fatal(err)
	}
	s, err := Open(b.Context(), conn, Lockdown{})
	if err != nil {
		b.Fatal(err)
	}
	// As `mcasload query` opens it: with the warehouse's tenants, the session reads the
	// warehouse's first times (event_firsts) where it holds them.
	if err := s.UseTenants(warehouse.ActivitiesView, tenants); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d activities, window 7 days to %s, %d threads", rows, until.Format(time.RFC3339), threads)
	values := map[string]map[string]string{"ip-pivot": {"ip": ip}, "user-timeline": {"user": user}}
	for _, inv := range All() {
		b.Run(inv.Name, func(b *testing.B) {
			var n int
			var took []time.Duration
			for b.Loop() {
				start := time.Now()
				rdr, err := s.Run(b.Context(), inv, values[inv.Name], until)
				if err != nil {
					b.Fatal(err)
				}
				n = countRows(b, rdr)
				took = append(took, time.Since(start))
			}
			// The median resists the noise of a shared machine better than ns/op's mean.
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(n), "rows")
			b.ReportMetric(float64(rows), "activities")
			if dir := os.Getenv("MCASLOAD_BENCH_EXPLAIN"); dir != "" {
				writePlan(b, s, inv, values[inv.Name], until, filepath.Join(dir, inv.Name+".json"))
			}
		})
	}
}

// writePlan runs inv once more under EXPLAIN ANALYZE, as Investigate runs it (events narrowed, the
// triage columns added), and writes the profiled plan to path, so the next optimisation starts
// from where the time went.
func writePlan(b *testing.B, s *Session, inv *Investigation, values map[string]string, now time.Time, path string) {
	b.Helper()
	res, err := s.Investigate(b.Context(), inv, Request{Values: values, Now: now, explain: true})
	if err != nil {
		b.Fatalf("explain %s: %v", inv.Name, err)
	}
	defer res.Release()
	rdr, err := res.Reader()
	if err != nil {
		b.Fatal(err)
	}
	defer rdr.Release()
	var plan strings.Builder
	for rdr.Next() {
		rec := rdr.RecordBatch()
		col := rec.Column(int(rec.NumCols()) - 1)
		for i := 0; i < col.Len(); i++ {
			plan.WriteString(col.ValueStr(i))
		}
	}
	if err := rdr.Err(); err != nil {
		b.Fatalf("explain %s: %v", inv.Name, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(plan.String()), 0o644); err != nil {
		b.Fatal(err)
	}
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// benchTenant loads n generated activities (with the planted incidents) into a DuckDB file, as
// compressed as the warehouse's, and returns a connection with threads set.
func benchTenant(b *testing.B, n, threads int) *sql.Conn {
	b.Helper()
	connector, err := duckdb.NewConnector(filepath.Join(b.TempDir(), "bench.duckdb"), nil)
	if err != nil {
		b.Fatal(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(1)
	b.Cleanup(func() { db.Close() })
	if _, err := db.Exec("SET threads = " + strconv.Itoa(threads)); err != nil {
		b.Fatal(err)
	}
	ten := synth.New(synth.Config{Seed: 11, Total: n, Users: max(50, n/2500), Days: 30, End: synthEnd, Incidents: true})
	createActivities(b, db)
	const chunk = 50000
	var buf []byte
	recs := make([]json.RawMessage, 0, chunk)
	for i := 0; i < ten.Len(); i++ {
		buf = ten.AppendJSON(buf[:0], i)
		recs = append(recs, bytes.Clone(buf))
		if len(recs) == chunk || i == ten.Len()-1 {
			loadRecords(b, db, recs)
			recs = recs[:0]
		}
	}
	if _, err := db.Exec("CHECKPOINT"); err != nil {
		b.Fatal(err)
	}
	conn, err := db.Conn(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return conn
}
