// Package sinks is the product's central assertion, once: a warehouse's two sinks, the DuckDB
// file and the tenant- and day-partitioned Parquet, each hold every expected activity exactly
// once per tenant, under its UTC day and its tenant, with the raw record byte for byte. Only
// tests import it.
package sinks

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2" // the "duckdb" database/sql driver

	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// Names are the two sinks, as Rows takes them.
var Names = []string{"duckdb", "parquet"}

// Row is an activity as the sinks must hold it: "day raw", the day being the UTC day of
// tsMillis (the record's timestamp).
func Row(tsMillis int64, raw string) string {
	return time.UnixMilli(tsMillis).UTC().Format("2006-01-02") + " " + raw
}

// WantLines is what the sinks must hold after loading lines (each a valid record): id → Row.
func WantLines(t testing.TB, lines []string) map[string]string {
	t.Helper()
	want := map[string]string{}
	for _, l := range lines {
		var r struct {
			ID string `json:"_id"`
			TS int64  `json:"timestamp"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("test record %.80q: %v", l, err)
		}
		want[r.ID] = Row(r.TS, l)
	}
	return want
}

// WantTenant is every activity of tn created before `before` (all when zero) as id → Row,
// computed from the generator's output, never through the simulator's filters.
func WantTenant(tn *synth.Tenant, before time.Time) map[string]string {
	want := map[string]string{}
	var buf []byte
	for i := range tn.Len() {
		a := tn.Activity(i)
		if !before.IsZero() && a.Created >= before.UnixMilli() {
			continue
		}
		buf = tn.AppendJSON(buf[:0], i)
		want[a.ID] = Row(a.Timestamp, string(buf))
	}
	return want
}

// Rows reads id → Row from one sink ("duckdb" or "parquet") of the warehouse in dir, whatever the
// tenant (for a warehouse of one tenant; TenantRows reads one tenant of several). It fails the test
// on an id stored twice and on a row stored under a day other than its UTC day (for Parquet:
// outside its day's folder).
func Rows(t testing.TB, dir, sink string) map[string]string {
	t.Helper()
	return rows(t, dir, sink, "")
}

// TenantRows is Rows for the rows of tenant label alone; it also fails the test on a Parquet row
// of the tenant outside its tenant=<label> folder.
func TenantRows(t testing.TB, dir, sink, label string) map[string]string {
	t.Helper()
	return rows(t, dir, sink, label)
}

// Tenants lists the tenants whose rows one sink holds, sorted: the tenant column in DuckDB, the
// tenant=<label> folders in Parquet.
func Tenants(t testing.TB, dir, sink string) []string {
	t.Helper()
	db := openDB(t)
	defer db.Close()
	var q string
	switch sink {
	case "duckdb":
		attach(t, db, dir)
		q = `SELECT DISTINCT tenant FROM wh.activities ORDER BY 1`
	case "parquet":
		glob := filepath.Join(dir, warehouse.ParquetDir, "tenant=*", "*", "*.parquet")
		if files, _ := filepath.Glob(glob); len(files) == 0 {
			return nil
		}
		q = fmt.Sprintf(`SELECT DISTINCT regexp_extract(filename, 'tenant=([^/]+)/', 1) FROM read_parquet('%s', filename=true, hive_partitioning=false) ORDER BY 1`, glob)
	default:
		t.Fatalf("sink %q: want duckdb or parquet", sink)
	}
	r, err := db.Query(q)
	if err != nil {
		t.Fatalf("read %s tenants: %v", sink, err)
	}
	defer r.Close()
	var out []string
	for r.Next() {
		var l string
		if err := r.Scan(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

// openDB is an in-memory database that attaches or reads the files, closed by the caller at
// once: an attached warehouse file stays locked while it is open.
func openDB(t testing.TB) *sql.DB {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func attach(t testing.TB, db *sql.DB, dir string) {
	t.Helper()
	if _, err := db.Exec(fmt.Sprintf("ATTACH '%s' AS wh (READ_ONLY)", filepath.Join(dir, warehouse.DatabaseFile))); err != nil {
		t.Fatalf("attach %s: %v", dir, err)
	}
}

func rows(t testing.TB, dir, sink, label string) map[string]string {
	t.Helper()
	db := openDB(t)
	defer db.Close()
	var q string
	switch sink {
	case "duckdb":
		attach(t, db, dir)
		// A warehouse made before tenants (and not upgraded yet) has no tenant column.
		tenantCol := "tenant"
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM duckdb_columns() WHERE database_name = 'wh' AND table_name = 'activities' AND column_name = 'tenant'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			tenantCol = "''"
		}
		q = `SELECT id, strftime(timezone('UTC', ts), '%Y-%m-%d'), strftime(day, '%Y-%m-%d'), raw, '', ` + tenantCol + ` FROM wh.activities`
	case "parquet":
		// Every file of the dataset, in the tenant layout or (not yet upgraded) the one before.
		var globs []string
		for _, g := range []string{filepath.Join(dir, warehouse.ParquetDir, "tenant=*", "*", "*.parquet"), filepath.Join(dir, warehouse.ParquetDir, "day=*", "*.parquet")} {
			if files, _ := filepath.Glob(g); len(files) > 0 {
				globs = append(globs, "'"+g+"'")
			}
		}
		if len(globs) == 0 {
			return map[string]string{}
		}
		// The day and the tenant of a Parquet row are its folders (Hive layout).
		q = fmt.Sprintf(`SELECT id, strftime(timezone('UTC', ts), '%%Y-%%m-%%d'), regexp_extract(filename, 'day=([0-9-]+)', 1), raw, filename,
			regexp_extract(filename, 'tenant=([^/]+)/', 1)
			FROM read_parquet([%s], filename=true, hive_partitioning=false, union_by_name=true)`, strings.Join(globs, ", "))
	default:
		t.Fatalf("sink %q: want duckdb or parquet", sink)
	}
	if label != "" {
		q = fmt.Sprintf(`SELECT * FROM (%s) x(id, day, stored, raw, file, tenant) WHERE tenant = '%s'`, q, label)
	}
	r, err := db.Query(q)
	if err != nil {
		t.Fatalf("read %s sink: %v", sink, err)
	}
	defer r.Close()
	got := map[string]string{}
	dups, misplaced := 0, 0
	for r.Next() {
		var id, day, stored, raw, file, tenant string
		if err := r.Scan(&id, &day, &stored, &raw, &file, &tenant); err != nil {
			t.Fatal(err)
		}
		if _, dup := got[id]; dup {
			if dups++; dups <= 3 {
				t.Errorf("%s holds id %s twice (tenant %q)", sink, id, label)
			}
		}
		if stored != day {
			if misplaced++; misplaced <= 3 {
				var ts struct {
					TS any `json:"timestamp"`
				}
				_ = json.Unmarshal([]byte(raw), &ts)
				t.Errorf("%s: row %s of UTC day %s (timestamp %v) is stored under day %s %s", sink, id, day, ts.TS, stored, file)
			}
		}
		got[id] = day + " " + raw
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	if dups+misplaced > 0 {
		t.Errorf("%s of %s: %d ids stored twice, %d rows outside their day, of %d rows", sink, dir, dups, misplaced, len(got))
	}
	return got
}

// ExactlyOnce checks that both sinks of dir hold exactly want (id → Row): the same ids, each once,
// in its day, with raw byte for byte. It reports whether they do and nothing failed on the way (a
// failure the test recorded before the call, such as an earlier round's, does not count).
func ExactlyOnce(t testing.TB, dir string, want map[string]string) bool {
	t.Helper()
	failed, ok := t.Failed(), true
	for _, sink := range Names {
		ok = same(t, dir, sink, "", Rows(t, dir, sink), want) && ok
	}
	return ok && (failed || !t.Failed())
}

// ExactlyOncePerTenant checks that both sinks of dir hold exactly the tenants of want, and each
// tenant exactly its rows (label → id → Row): each id once per tenant, in its day and its tenant's
// folder, raw byte for byte. It reports whether they do and nothing failed on the way.
func ExactlyOncePerTenant(t testing.TB, dir string, want map[string]map[string]string) bool {
	t.Helper()
	labels := slices.Sorted(maps.Keys(want))
	failed, ok := t.Failed(), true
	for _, sink := range Names {
		if got := Tenants(t, dir, sink); !slices.Equal(got, labels) {
			ok = false
			t.Errorf("%s of %s holds the tenants %v, want %v", sink, dir, got, labels)
		}
		for _, l := range labels {
			ok = same(t, dir, sink, l, TenantRows(t, dir, sink, l), want[l]) && ok
		}
	}
	return ok && (failed || !t.Failed())
}

// same compares what a sink holds (of tenant label, or any) with want and reports the difference.
func same(t testing.TB, dir, sink, label string, got, want map[string]string) bool {
	t.Helper()
	missing, extra, differ := 0, 0, 0
	var example string
	for id, w := range want {
		g, found := got[id]
		switch {
		case !found:
			missing++
			if example == "" {
				example = "missing " + id
			}
		case g != w:
			differ++
			if example == "" {
				example = fmt.Sprintf("id %s holds %.100q, want %.100q", id, g, w)
			}
		}
	}
	for id := range got {
		if _, found := want[id]; !found {
			extra++
			if example == "" {
				example = "unexpected " + id
			}
		}
	}
	if missing+extra+differ > 0 {
		what := sink
		if label != "" {
			what += " tenant " + label
		}
		t.Errorf("%s of %s holds %d rows, want %d: %d missing, %d unexpected, %d different (e.g. %s)", what, dir, len(got), len(want), missing, extra, differ, example)
		return false
	}
	return true
}
