package main

import (
	"context"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"

	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// synthEnd pins the generated tenant in time so exports and reports do not depend on the day
// the tests run.
var synthEnd = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// synthWarehouse generates a small tenant with planted incidents and loads it through the real
// `load` command into a new warehouse.
func synthWarehouse(t *testing.T) string {
	t.Helper()
	src := writeTenantNDJSON(t, synth.New(synth.Config{Seed: 5, Users: 60, Days: 5, End: synthEnd, Total: 6000, Incidents: true}))
	dir := filepath.Join(t.TempDir(), "wh")
	if code, _, stderr := runMcasload(t, nil, "load", "--warehouse", dir, src); code != 0 {
		t.Fatalf("load: exit %d: %s", code, stderr)
	}
	return dir
}

// whRow is one activity as the warehouse holds it, in comparable text.
type whRow struct {
	TsMs     int64
	Day      string
	User     string
	Objects  string // elements joined by \x1f
	Raw      string
	Latitude string
}

// sqlRows runs q (which selects id, epoch_ms(ts), day, user_name, objects joined, raw,
// latitude) on conn and returns id → row.
func sqlRows(t *testing.T, conn interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, q string) map[string]whRow {
	t.Helper()
	rows, err := conn.QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	out := map[string]whRow{}
	for rows.Next() {
		var (
			id       string
			r        whRow
			day      time.Time
			user, ob sql.NullString
			lat      sql.NullFloat64
		)
		if err := rows.Scan(&id, &r.TsMs, &day, &user, &ob, &r.Raw, &lat); err != nil {
			t.Fatal(err)
		}
		r.Day, r.User, r.Objects = day.Format(time.DateOnly), user.String, ob.String
		if lat.Valid {
			r.Latitude = fmt.Sprint(lat.Float64)
		}
		if _, dup := out[id]; dup {
			t.Fatalf("id %s twice", id)
		}
		out[id] = r
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

const rowColumns = `id, epoch_ms(ts), day, user_name, array_to_string(objects, chr(31)), raw, latitude`

// warehouseRows reads the activities in [since, until) from the warehouse in dir.
func warehouseRows(t *testing.T, dir string, since, until time.Time) map[string]whRow {
	t.Helper()
	r, err := warehouse.OpenReader(t.Context(), warehouse.ReaderOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	return sqlRows(t, r.Conn(), fmt.Sprintf(`SELECT %s FROM activities WHERE ts >= %s AND ts < %s`, rowColumns, sqlTime(since), sqlTime(until)))
}

func duckDB(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	if _, err := db.Exec("SET TimeZone = 'UTC'"); err != nil {
		t.Fatal(err)
	}
	return db
}

// TestExport runs the export tests on one loaded warehouse: they only read it.
func TestExport(t *testing.T) {
	wh := synthWarehouse(t)
	t.Run("parquet", func(t *testing.T) { testExportParquet(t, wh) })
	t.Run("partitioned by day", func(t *testing.T) { testExportPartitionedByDay(t, wh) })
	t.Run("csv and ndjson", func(t *testing.T) { testExportCSVAndNDJSON(t, wh) })
	t.Run("crowded days in time ranges", func(t *testing.T) { testExportDayPages(t, wh) })
	t.Run("sources and errors", func(t *testing.T) { testExportSourcesAndErrors(t, wh) })
}

var (
	exportSince = time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)
	exportUntil = time.Date(2026, 3, 10, 0, 0, 0, 0, time.UTC)
)

func testExportParquet(t *testing.T, wh string) {
	want := warehouseRows(t, wh, exportSince, exportUntil)
	if len(want) < 1000 {
		t.Fatalf("only %d rows in the window; the fixture is too small", len(want))
	}
	out := filepath.Join(t.TempDir(), "acts.parquet")
	code, _, stderr := runMcasload(t, nil, "export", "-w", wh, "--since", "2026-03-07", "--until", "2026-03-10", "--out", out)
	if code != 0 {
		t.Fatalf("export: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("exported %d rows", len(want))) {
		t.Errorf("stderr %q does not report %d rows", stderr, len(want))
	}

	t.Run("duckdb reads the types a notebook expects", func(t *testing.T) {
		db := duckDB(t)
		types := map[string]string{}
		rows, err := db.Query(fmt.Sprintf("DESCRIBE SELECT * FROM read_parquet('%s')", out))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var name, typ string
			var a, b, c, d sql.NullString
			if err := rows.Scan(&name, &typ, &a, &b, &c, &d); err != nil {
				t.Fatal(err)
			}
			types[name] = typ
		}
		rows.Close()
		for col, typ := range map[string]string{"ts": "TIMESTAMP WITH TIME ZONE", "created": "TIMESTAMP WITH TIME ZONE",
			"day": "DATE", "objects": "VARCHAR[]", "raw": "VARCHAR", "success": "BOOLEAN", "latitude": "DOUBLE", "app_id": "INTEGER"} {
			if types[col] != typ {
				t.Errorf("column %s is %q, want %q", col, types[col], typ)
			}
		}
		got := sqlRows(t, db, fmt.Sprintf("SELECT %s FROM read_parquet('%s')", rowColumns, out))
		compareRows(t, want, got)
		var codec string
		if err := db.QueryRow(fmt.Sprintf("SELECT DISTINCT compression FROM parquet_metadata('%s') LIMIT 1", out)).Scan(&codec); err != nil {
			t.Fatal(err)
		}
		if codec != "ZSTD" {
			t.Errorf("compression %s, want ZSTD", codec)
		}
	})

	t.Run("arrow-go reads UTC timestamps and lists", func(t *testing.T) {
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		got := readParquetArrow(t, mem, out)
		compareRows(t, want, got)
	})
}

// readParquetArrow reads a Parquet file with pqarrow, checks the notebook types, and returns
// id → row.
func readParquetArrow(t *testing.T, mem memory.Allocator, path string) map[string]whRow {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 4096}, mem)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer tbl.Release()
	s := tbl.Schema()
	col := func(name string) int {
		idx := s.FieldIndices(name)
		if len(idx) != 1 {
			t.Fatalf("no column %s in %v", name, s)
		}
		return idx[0]
	}
	if ts, ok := s.Field(col("ts")).Type.(*arrow.TimestampType); !ok || ts.TimeZone != "UTC" {
		t.Errorf("ts is %v, want a UTC timestamp", s.Field(col("ts")).Type)
	}
	if l, ok := s.Field(col("objects")).Type.(*arrow.ListType); !ok || l.Elem().ID() != arrow.STRING {
		t.Errorf("objects is %v, want list<utf8>", s.Field(col("objects")).Type)
	}
	if s.Field(col("raw")).Type.ID() != arrow.STRING {
		t.Errorf("raw is %v, want utf8", s.Field(col("raw")).Type)
	}
	tr := array.NewTableReader(tbl, 0)
	defer tr.Release()
	out := map[string]whRow{}
	dayIdx := s.FieldIndices("day")
	for tr.Next() {
		rec := tr.RecordBatch()
		for i := range int(rec.NumRows()) {
			ts := rec.Column(col("ts")).(*array.Timestamp)
			unit := ts.DataType().(*arrow.TimestampType).Unit
			r := whRow{
				TsMs: ts.Value(i).ToTime(unit).UnixMilli(),
				User: rec.Column(col("user_name")).(*array.String).Value(i),
				Raw:  rec.Column(col("raw")).(*array.String).Value(i),
			}
			if len(dayIdx) == 1 {
				r.Day = rec.Column(dayIdx[0]).(*array.Date32).Value(i).ToTime().Format(time.DateOnly)
			}
			if lat := rec.Column(col("latitude")).(*array.Float64); lat.IsValid(i) {
				r.Latitude = fmt.Sprint(lat.Value(i))
			}
			objs := rec.Column(col("objects")).(*array.List)
			if objs.IsValid(i) {
				start, end := objs.ValueOffsets(i)
				vals := objs.ListValues().(*array.String)
				var parts []string
				for j := start; j < end; j++ {
					parts = append(parts, vals.Value(int(j)))
				}
				r.Objects = strings.Join(parts, "\x1f")
			}
			out[rec.Column(col("id")).(*array.String).Value(i)] = r
		}
	}
	return out
}

// compareRows fails unless got holds exactly want's ids with equal fields (Day is compared
// when both sides have it).
func compareRows(t *testing.T, want, got map[string]whRow) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d rows, want %d", len(got), len(want))
	}
	bad := 0
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Errorf("row %s missing", id)
		} else {
			if g.Day == "" || w.Day == "" {
				g.Day, w.Day = "", ""
			}
			if g == w {
				continue
			}
			t.Errorf("row %s:\n got %+v\nwant %+v", id, g, w)
		}
		if bad++; bad > 3 {
			t.Fatal("too many differences")
		}
	}
}

func testExportPartitionedByDay(t *testing.T, wh string) {
	want := warehouseRows(t, wh, exportSince, exportUntil)
	for _, format := range []string{"parquet", "ndjson"} {
		t.Run(format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "acts")
			code, _, stderr := runMcasload(t, nil, "export", "-w", wh, "--since", "2026-03-07", "--until", "2026-03-10",
				"--out", out, "--partition-by", "day", "--format", format)
			if code != 0 {
				t.Fatalf("export: exit %d: %s", code, stderr)
			}
			files, _ := filepath.Glob(filepath.Join(out, "*", "*"))
			var days []string
			for _, f := range files {
				days = append(days, filepath.Base(filepath.Dir(f)))
			}
			if want := []string{"day=2026-03-07", "day=2026-03-08", "day=2026-03-09"}; !slices.Equal(days, want) {
				t.Fatalf("files in %v, want one per day %v", files, want)
			}
			db := duckDB(t)
			var q string
			if format == "parquet" {
				q = fmt.Sprintf("SELECT %s FROM read_parquet('%s/*/*.parquet', hive_partitioning = true)", rowColumns, out)
			} else {
				q = fmt.Sprintf(`SELECT id, epoch_ms(ts::TIMESTAMPTZ), day, user_name, array_to_string(objects, chr(31)), raw, latitude
					FROM read_json('%s/*/*.ndjson', hive_partitioning = true, columns = {id: 'VARCHAR', ts: 'VARCHAR', user_name: 'VARCHAR', objects: 'VARCHAR[]', raw: 'VARCHAR', latitude: 'DOUBLE'})`, out)
			}
			got := sqlRows(t, db, q)
			compareRows(t, want, got)
			// Every row sits in its own day's folder: the folder's day (Day) is the row's UTC day.
			for id, g := range got {
				if d := time.UnixMilli(g.TsMs).UTC().Format(time.DateOnly); d != g.Day {
					t.Fatalf("row %s at %s is in folder day=%s", id, d, g.Day)
				}
			}
			if format == "parquet" {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				one := readParquetArrow(t, mem, files[0])
				for _, g := range one {
					if d := time.UnixMilli(g.TsMs).UTC().Format(time.DateOnly); "day="+d != days[0] {
						t.Fatalf("row of %s in %s", d, files[0])
					}
				}
			}
		})
	}
}

func testExportCSVAndNDJSON(t *testing.T, wh string) {
	want := warehouseRows(t, wh, exportSince, exportUntil)
	cols := "id,ts,user_name,objects,raw"
	dir := t.TempDir()
	for _, format := range []string{"csv", "ndjson"} {
		out := filepath.Join(dir, "acts."+format)
		if code, _, stderr := runMcasload(t, nil, "export", "-w", wh, "--since", "2026-03-07", "--until", "2026-03-10",
			"--columns", cols, "--format", format, "--out", out); code != 0 {
			t.Fatalf("export %s: exit %d: %s", format, code, stderr)
		}
	}
	t.Run("csv", func(t *testing.T) {
		f, err := os.Open(filepath.Join(dir, "acts.csv"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		recs, err := csv.NewReader(f).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(recs[0], ","); got != cols {
			t.Fatalf("header %s, want %s", got, cols)
		}
		if len(recs)-1 != len(want) {
			t.Fatalf("%d rows, want %d", len(recs)-1, len(want))
		}
		for _, r := range recs[1:] {
			w, ok := want[r[0]]
			if !ok {
				t.Fatalf("unknown id %s", r[0])
			}
			ts, err := time.Parse("2006-01-02 15:04:05.999999999", r[1])
			if err != nil || ts.UnixMilli() != w.TsMs || r[2] != w.User || r[4] != w.Raw {
				t.Fatalf("row %s: got ts %s user %s raw %.60s…, want %d %s %.60s…", r[0], r[1], r[2], r[4], w.TsMs, w.User, w.Raw)
			}
		}
	})
	t.Run("ndjson", func(t *testing.T) {
		data, err := os.ReadFile(filepath.Join(dir, "acts.ndjson"))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
		if len(lines) != len(want) {
			t.Fatalf("%d lines, want %d", len(lines), len(want))
		}
		for _, l := range lines {
			var r struct {
				ID, Ts, User_name, Raw string
				Objects                []string
			}
			if err := json.Unmarshal([]byte(l), &r); err != nil {
				t.Fatal(err)
			}
			w := want[r.ID]
			ts, err := time.Parse(time.RFC3339Nano, r.Ts)
			if err != nil || ts.UnixMilli() != w.TsMs || r.User_name != w.User || r.Raw != w.Raw || strings.Join(r.Objects, "\x1f") != w.Objects {
				t.Fatalf("line %.200s does not match %+v", l, w)
			}
		}
	})
}

func testExportSourcesAndErrors(t *testing.T, wh string) {
	dir := t.TempDir()
	window := []string{"-w", wh, "--since", "2026-03-07", "--until", "2026-03-10"}
	want := warehouseRows(t, wh, exportSince, exportUntil)

	t.Run("sql sees only the window", func(t *testing.T) {
		out := filepath.Join(dir, "count.ndjson")
		args := append([]string{"export", "--sql", "SELECT count(*) AS n, min(ts) AS first FROM activities", "-f", "ndjson", "--out", out}, window...)
		if code, _, stderr := runMcasload(t, nil, args...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		data, _ := os.ReadFile(out)
		var got struct{ N int }
		if err := json.Unmarshal(data, &got); err != nil || got.N != len(want) {
			t.Fatalf("got %s, want n=%d", data, len(want))
		}
	})
	t.Run("investigation with columns", func(t *testing.T) {
		out := filepath.Join(dir, "dl.csv")
		args := []string{"export", "-w", wh, "--query", "mass-download", "--since", "2026-03-05", "--until", "2026-03-11",
			"--param", "per_min=5", "--columns", "downloads,user_name", "-f", "csv", "--out", out}
		if code, _, stderr := runMcasload(t, nil, args...); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		data, _ := os.ReadFile(out)
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if lines[0] != "downloads,user_name" || len(lines) < 2 {
			t.Fatalf("want the planted burst under a downloads,user_name header, got %q", data)
		}
	})
	cases := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"unknown column lists the accepted ones", []string{"--columns", "id,bogus"}, exitUsage, "accepted: id, ts, created, day"},
		{"unknown column of a query", []string{"--sql", "SELECT 1 AS a", "--columns", "b"}, exitUsage, `unknown column "b"; accepted: a`},
		{"query and sql", []string{"--query", "mass-download", "--sql", "SELECT 1"}, exitUsage, "not both"},
		{"unknown investigation", []string{"--query", "nope"}, exitUsage, "unknown investigation"},
		{"bad format", []string{"--format", "xlsx"}, exitUsage, "accepted: parquet, csv, ndjson"},
		{"not read-only", []string{"--sql", "CREATE TABLE t AS SELECT 1"}, exitUsage, "read-only"},
		{"partition without a day", []string{"--sql", "SELECT 1 AS a", "--partition-by", "day"}, exitUsage, "day (date) or ts"},
		{"bad partition", []string{"--partition-by", "month"}, exitUsage, "accepted: day"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "x")
			code, _, stderr := runMcasload(t, nil, append(append([]string{"export", "--out", out}, window...), tc.args...)...)
			if code != tc.code || !strings.Contains(stderr, tc.msg) {
				t.Fatalf("exit %d, stderr %q; want exit %d and %q", code, stderr, tc.code, tc.msg)
			}
			if left, _ := os.ReadDir(filepath.Dir(out)); len(left) != 0 {
				t.Fatalf("a failed export left %v", left)
			}
		})
	}
	t.Run("existing output needs --force", func(t *testing.T) {
		for _, partition := range []bool{false, true} {
			out := filepath.Join(t.TempDir(), "x")
			if err := os.WriteFile(out, []byte("keep"), 0o600); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"export", "--out", out, "--columns", "id,ts"}, window...)
			if partition {
				os.Remove(out)
				os.Mkdir(out, 0o700)
				os.WriteFile(filepath.Join(out, "old"), []byte("old"), 0o600)
				args = append(args, "--partition-by", "day")
			}
			code, _, stderr := runMcasload(t, nil, args...)
			if code != exitFailure || !strings.Contains(stderr, "pass --force") {
				t.Fatalf("exit %d, stderr %q; want a refusal naming --force", code, stderr)
			}
			if code, _, stderr := runMcasload(t, nil, append(args, "--force")...); code != 0 {
				t.Fatalf("--force: exit %d: %s", code, stderr)
			}
			if partition {
				if _, err := os.Stat(filepath.Join(out, "old")); !os.IsNotExist(err) {
					t.Error("the replaced folder's old file is still there")
				}
			} else if data, _ := os.ReadFile(out); string(data[:4]) != "PAR1" {
				t.Errorf("--force did not replace the file: %q", data[:4])
			}
			if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) != 0 {
				t.Errorf("temporary files left: %v", left)
			}
		}
	})
}

// testExportDayPages exports the window with days cut into time ranges of a few rows (a day of
// a large tenant does not fit one query) and expects the same rows, in time order, as the
// warehouse holds and as whole days give.
func testExportDayPages(t *testing.T, wh string) {
	want := warehouseRows(t, wh, exportSince, exportUntil)
	export := func(pageRows int64) string {
		t.Helper()
		defer func(old int64) { exportPageRows = old }(exportPageRows)
		exportPageRows = pageRows
		out := filepath.Join(t.TempDir(), "acts.csv")
		if code, _, stderr := runMcasload(t, nil, "export", "-w", wh, "--since", "2026-03-07T05:30:00Z", "--until", "2026-03-10",
			"--columns", "id,ts", "--format", "csv", "--out", out); code != 0 {
			t.Fatalf("export with %d rows a range: exit %d: %s", pageRows, code, stderr)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	// The ranges of one day: about a 37th of its rows each, every row in exactly one.
	r, err := warehouse.OpenReader(t.Context(), warehouse.ReaderOptions{Dir: wh})
	if err != nil {
		t.Fatal(err)
	}
	day, dayEnd := exportSince.Add(24*time.Hour), exportSince.Add(48*time.Hour)
	var n int64
	if err := r.Conn().QueryRowContext(t.Context(), "SELECT count(*) FROM activities WHERE day = DATE '2026-03-08'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func(old int64) { exportPageRows = old }(exportPageRows)
		exportPageRows = 37
		pages, err := dayPages(t.Context(), r.Conn(), "2026-03-08", n, day, dayEnd)
		if err != nil {
			t.Fatal(err)
		}
		if want := int(n/37) + 1; n < 150 || len(pages) < want-2 || len(pages) > want {
			t.Errorf("%d rows cut into %d ranges, want about %d", n, len(pages), want)
		}
		var sum int64
		for _, cond := range pages {
			var k int64
			if err := r.Conn().QueryRowContext(t.Context(), "SELECT count(*) FROM activities WHERE day = DATE '2026-03-08' AND "+cond).Scan(&k); err != nil {
				t.Fatal(err)
			}
			sum += k
		}
		if sum != n {
			t.Errorf("the ranges hold %d rows, the day %d", sum, n)
		}
	}()
	r.Close()

	whole, paged := export(1<<40), export(37)
	if paged != whole {
		t.Errorf("in ranges of 37 rows the export differs from whole days (%d and %d bytes)", len(paged), len(whole))
	}
	recs, err := csv.NewReader(strings.NewReader(paged)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	from := exportSince.Add(5*time.Hour + 30*time.Minute)
	for id, w := range want {
		if w.TsMs < from.UnixMilli() {
			delete(want, id)
		}
	}
	if len(recs)-1 != len(want) {
		t.Fatalf("%d rows in ranges of 37, want %d", len(recs)-1, len(want))
	}
	seen := map[string]bool{}
	prev := ""
	for _, r := range recs[1:] {
		if _, ok := want[r[0]]; !ok || seen[r[0]] {
			t.Fatalf("id %s unknown or twice", r[0])
		}
		seen[r[0]] = true
		if key := r[1] + "\x00" + r[0]; key < prev {
			t.Fatalf("row %s at %s comes after %q: not in time order", r[0], r[1], prev)
		} else {
			prev = key
		}
	}
}
