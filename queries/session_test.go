package queries

import (
	"context"
	"database/sql"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/simulator/synth"
)

var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// requiredValues gives every required parameter a value so an investigation can run.
func requiredValues(inv *Investigation) map[string]string {
	v := map[string]string{}
	for _, p := range inv.Params {
		if p.Required {
			v[p.Name] = "x"
		}
	}
	return v
}

func countRows(t testing.TB, rdr array.RecordReader) int {
	t.Helper()
	defer rdr.Release()
	n := 0
	for rdr.Next() {
		n += int(rdr.RecordBatch().NumRows())
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestEveryInvestigationRunsOnEmptyAndSmallData(t *testing.T) {
	db := newActivitiesDB(t)
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range All() {
		t.Run("empty/"+inv.Name, func(t *testing.T) {
			rdr, err := s.Run(t.Context(), inv, requiredValues(inv), testNow)
			if err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, rdr); n != 0 {
				t.Fatalf("%d rows from an empty table", n)
			}
		})
	}
}

func TestLockdownRefusesEverythingOutsideTheWarehouse(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "secret.csv")
	if err := os.WriteFile(secret, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := newActivitiesDB(t)
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out.csv")
	cases := map[string]string{
		"copy to":              "COPY (SELECT 1) TO '" + out + "'",
		"copy activities":      "COPY activities TO '" + out + "' (FORMAT csv)",
		"read_csv passwd":      "SELECT * FROM read_csv('/etc/passwd')",
		"read_csv temp":        "SELECT * FROM read_csv('" + secret + "')",
		"read_text":            "SELECT * FROM read_text('/etc/passwd')",
		"glob":                 "SELECT * FROM glob('/etc/*')",
		"attach":               "ATTACH '" + filepath.Join(dir, "x.duckdb") + "' AS x",
		"install":              "INSTALL httpfs",
		"load":                 "LOAD httpfs",
		"set external on":      "SET enable_external_access = true",
		"set unlock":           "SET lock_configuration = false",
		"reset":                "RESET enable_external_access",
		"pragma":               "PRAGMA enable_profiling",
		"create table":         "CREATE TABLE t AS SELECT 1",
		"insert":               "INSERT INTO activities (id) VALUES ('x')",
		"delete":               "DELETE FROM activities",
		"drop view":            "DROP VIEW events",
		"export":               "EXPORT DATABASE '" + dir + "'",
		"two statements":       "SELECT 1; COPY (SELECT 1) TO '" + out + "'",
		"create then select":   "CREATE TEMP TABLE z AS SELECT 1; SELECT 1",
		"select then create":   "SELECT 1; CREATE TEMP TABLE z AS SELECT 1",
		"explain analyze copy": "EXPLAIN ANALYZE COPY (SELECT 1) TO '" + out + "'",
	}
	for name, q := range cases {
		t.Run(name, func(t *testing.T) {
			rdr, err := s.SQL(t.Context(), q)
			if err == nil {
				countRows(t, rdr)
				t.Fatalf("%s was allowed", q)
			}
			t.Logf("refused: %v", err)
		})
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused statement wrote %s (stat: %v)", out, err)
	}
	var created int
	if err := s.conn.QueryRowContext(t.Context(), "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'z'").Scan(&created); err != nil || created != 0 {
		t.Fatalf("a refused multi-statement query created a table (%d, %v)", created, err)
	}
	// The raw connection refuses too, even without the statement-type check.
	for _, q := range []string{"COPY (SELECT 1) TO '" + out + "'", "SELECT * FROM read_csv('/etc/passwd')",
		"ATTACH '" + filepath.Join(dir, "y.duckdb") + "'", "SET enable_external_access = true", "INSTALL httpfs"} {
		if _, err := s.conn.ExecContext(t.Context(), q); err == nil {
			t.Errorf("locked connection ran %s", q)
		}
	}
	// Queries still work.
	for _, q := range []string{"SELECT count(*) FROM activities", "SELECT action_class FROM events",
		"WITH x AS (SELECT 1 AS a) SELECT * FROM x", "DESCRIBE activities", "SUMMARIZE activities", "FROM activities LIMIT 1"} {
		rdr, err := s.SQL(t.Context(), q)
		if err != nil {
			t.Errorf("%s: %v", q, err)
			continue
		}
		countRows(t, rdr)
	}
}

func TestSQLInjectionThroughParamsHasNoEffect(t *testing.T) {
	db := newActivitiesDB(t)
	at := testNow.Add(-time.Hour)
	loadRecords(t, db, renderActs([]act{
		{At: at, User: "alice@contoso.com", Action: "FileDownloaded", IP: "198.51.100.7"},
		{At: at, User: "bob@contoso.com", Action: "FileDownloaded", IP: "198.51.100.8"},
	}))
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	inv, err := Lookup("user-timeline")
	if err != nil {
		t.Fatal(err)
	}
	for _, evil := range []string{
		"x' OR '1'='1",
		"alice@contoso.com' OR 1=1 --",
		"'; DROP TABLE activities; --",
		"alice@contoso.com'); COPY activities TO '/tmp/pwned.csv'; --",
	} {
		rdr, err := s.Run(t.Context(), inv, map[string]string{"user": evil, "since": "30d"}, testNow)
		if err != nil {
			t.Fatalf("user=%q: %v", evil, err)
		}
		if n := countRows(t, rdr); n != 0 {
			t.Fatalf("user=%q matched %d rows: the value reached the SQL text", evil, n)
		}
	}
	rdr, err := s.Run(t.Context(), inv, map[string]string{"user": "alice@contoso.com", "since": "30d"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, rdr); n != 1 {
		t.Fatalf("the honest value matched %d rows, want 1", n)
	}
	var n int
	if err := s.conn.QueryRowContext(t.Context(), "SELECT count(*) FROM activities").Scan(&n); err != nil || n != 2 {
		t.Fatalf("activities after injection attempts: %d rows, %v", n, err)
	}
	// A list parameter is bound as one list value, whatever its text.
	pivot, _ := Lookup("ip-pivot")
	rdr, err = s.Run(t.Context(), pivot, map[string]string{"ip": "198.51.100.7') OR true OR ('", "since": "30d"}, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if n := countRows(t, rdr); n != 0 {
		t.Fatalf("ip injection matched %d rows", n)
	}
	if _, err := os.Stat("/tmp/pwned.csv"); err == nil {
		t.Fatal("/tmp/pwned.csv exists")
	}
}

func TestLockdownAllowsOnlyReadingTheAllowedDirectory(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data.csv")
	if err := os.WriteFile(data, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(t.Context(), testConn(t, newActivitiesDB(t)), Lockdown{AllowedDirectories: []string{dir}})
	if err != nil {
		t.Fatal(err)
	}
	rdr, err := s.SQL(t.Context(), "SELECT * FROM read_csv('"+data+"')")
	if err != nil {
		t.Fatalf("reading the allowed directory: %v", err)
	}
	if n := countRows(t, rdr); n != 1 {
		t.Fatalf("%d rows, want 1", n)
	}
	// Writing there is refused by the statement check even though DuckDB would allow it.
	out := filepath.Join(dir, "out.parquet")
	if _, err := s.SQL(t.Context(), "COPY (SELECT 1) TO '"+out+"'"); !errors.Is(err, ErrNotReadOnly) {
		t.Fatalf("COPY into the allowed directory: %v, want ErrNotReadOnly", err)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("COPY wrote %s", out)
	}
	if _, err := s.SQL(t.Context(), "SELECT * FROM read_csv('/etc/passwd')"); err == nil {
		t.Fatal("read outside the allowed directory")
	}
}

func testConn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func TestOpenTwiceOnOneConnection(t *testing.T) {
	conn := testConn(t, newActivitiesDB(t))
	for i := 0; i < 2; i++ {
		s, err := Open(t.Context(), conn, Lockdown{})
		if err != nil {
			t.Fatalf("open %d: %v", i+1, err)
		}
		rdr, err := s.SQL(t.Context(), "SELECT count(*) FROM events")
		if err != nil {
			t.Fatal(err)
		}
		countRows(t, rdr)
	}
	var external bool
	if err := conn.QueryRowContext(t.Context(), "SELECT current_setting('enable_external_access')").Scan(&external); err != nil || external {
		t.Fatalf("external access %v, %v after two opens", external, err)
	}
}

// TestBatchAnswersAsAlone runs detections of every kind of history (a baseline parameter, a
// fixed 30 days, an hour, none) day by day inside Batch, in the order detect runs them (day by
// day, the detections of a day one after another), and each again on its own: the rows and the
// meta (history, notes, provisional) are the same, so Batch's shared narrowing and remembered
// history look-ups change no answer. The first days lack the declared history, so the
// provisional notes are compared too. After Batch the events view reads everything again.
func TestBatchAnswersAsAlone(t *testing.T) {
	s, _ := tenantSession(t, synth.Config{Seed: 11, Users: 20, Days: 8, End: synthEnd, Incidents: true})
	names := []string{"new-country", "terminated-user-activity", "failed-login-burst", "mass-download"}
	type answer struct {
		table string
		meta  output.Meta
	}
	var days []time.Time
	for d := synthEnd.Truncate(24*time.Hour).AddDate(0, 0, -7); !d.After(synthEnd); d = d.AddDate(0, 0, 1) {
		days = append(days, d)
	}
	req := func(d time.Time) Request {
		return Request{Now: synthEnd, Values: map[string]string{"since": d.Format(time.RFC3339Nano),
			"until": d.Add(24*time.Hour - time.Millisecond).Format(time.RFC3339Nano)}}
	}
	alone := map[string]answer{}
	for _, d := range days {
		for _, n := range names {
			res, meta := investigate(t, s, n, req(d))
			alone[n+d.String()] = answer{res.table, meta}
		}
	}
	calls := 0
	err := s.Batch(t.Context(), func() error {
		for _, d := range days {
			for _, n := range names {
				res, meta := investigate(t, s, n, req(d))
				calls++
				want := alone[n+d.String()]
				if res.table != want.table {
					t.Errorf("%s on %s in a batch:\n%s\nalone:\n%s", n, d.Format(time.DateOnly), res.table, want.table)
				}
				if !reflect.DeepEqual(meta.History, want.meta.History) || !slices.Equal(meta.Notes, want.meta.Notes) || meta.Provisional != want.meta.Provisional {
					t.Errorf("%s on %s in a batch: history %+v, provisional %v, notes %q; alone %+v, %v, %q", n, d.Format(time.DateOnly),
						meta.History, meta.Provisional, meta.Notes, want.meta.History, want.meta.Provisional, want.meta.Notes)
				}
			}
		}
		return nil
	})
	if err != nil || calls != len(days)*len(names) {
		t.Fatalf("Batch: %v after %d runs", err, calls)
	}
	if !slices.ContainsFunc(slices.Collect(maps.Values(alone)), func(a answer) bool { return a.meta.Provisional }) {
		t.Error("no run lacked history: the test does not compare the provisional notes")
	}
	var narrowed, all int
	if err := s.conn.QueryRowContext(t.Context(), "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM all_events)").Scan(&narrowed, &all); err != nil {
		t.Fatal(err)
	}
	if narrowed != all || all == 0 {
		t.Errorf("after Batch events holds %d rows, all_events %d", narrowed, all)
	}
}
