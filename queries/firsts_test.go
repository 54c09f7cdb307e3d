package queries

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
	"github.com/mcasload/mcasload/warehouse"
)

func TestDayRanges(t *testing.T) {
	d := func(n int) time.Time { return time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, n) }
	for _, tc := range []struct {
		name        string
		held        []time.Time
		first, last time.Time
		in, out     string
	}{
		{"none held", nil, d(0), d(2), "", "day BETWEEN DATE '2026-11-01' AND DATE '2026-11-03'"},
		{"inside", []time.Time{d(1), d(2), d(3)}, d(0), d(4),
			"day BETWEEN DATE '2026-11-02' AND DATE '2026-11-04'",
			"day BETWEEN DATE '2026-11-01' AND DATE '2026-11-01' OR day BETWEEN DATE '2026-11-05' AND DATE '2026-11-05'"},
		{"a gap", []time.Time{d(1), d(3)}, d(0), d(4),
			"day BETWEEN DATE '2026-11-02' AND DATE '2026-11-02' OR day BETWEEN DATE '2026-11-04' AND DATE '2026-11-04'",
			"day BETWEEN DATE '2026-11-01' AND DATE '2026-11-01' OR day BETWEEN DATE '2026-11-03' AND DATE '2026-11-03' OR day BETWEEN DATE '2026-11-05' AND DATE '2026-11-05'"},
		{"all held", []time.Time{d(0), d(1)}, d(0), d(1), "day BETWEEN DATE '2026-11-01' AND DATE '2026-11-02'", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := dayRanges(tc.held); got != tc.in {
				t.Errorf("held: %s, want %s", got, tc.in)
			}
			if got := dayRanges(complement(tc.held, tc.first, tc.last)); got != tc.out {
				t.Errorf("rest: %s, want %s", got, tc.out)
			}
		})
	}
}

// firstsTenants are the two tenants of TestFirstsSameAnswers: the synthetic tenant with its
// incidents, decoys and look-alikes, and a smaller one beside it.
var firstsTenants = []struct {
	label string
	cfg   synth.Config
}{
	{"default", synth.Config{Seed: 5, Users: 60, Days: 37, End: synthEnd, Incidents: true}},
	{"second", synth.Config{Seed: 6, Users: 30, Days: 37, End: synthEnd, Incidents: true}},
}

// edgeActs are users whose only earlier use of a country falls on the day before the history
// new-country reads (so the pair is new) or on its first day (so it is not), for each window of
// firstsNows: a first time read from the wrong side of the stretch's edge changes the answer.
func edgeActs() []act {
	var out []act
	for i, now := range firstsNows {
		from := now.Add(-37 * 24 * time.Hour).Truncate(24 * time.Hour) // since 7d, baseline 30d
		for _, u := range []struct {
			name, country string
			earlier       time.Time
		}{
			{fmt.Sprintf("edge-out-%d@second.example", i), "NZ", from.Add(-12 * time.Hour)},
			{fmt.Sprintf("edge-in-%d@second.example", i), "FJ", from.Add(30 * time.Minute)},
		} {
			for d := from.Add(-10 * 24 * time.Hour); d.Before(now); d = d.Add(24 * time.Hour) {
				out = append(out, signIn(u.name, d.Add(8*time.Hour)))
			}
			for _, at := range []time.Time{u.earlier, now.Add(-50 * time.Hour)} {
				a := signIn(u.name, at)
				a.Country, a.City, a.IP, a.Category = u.country, "", "203.0.113.77", 6
				out = append(out, a)
			}
		}
	}
	return out
}

// TestFirstsSameAnswers holds every investigation's answer the same whether event_firsts reads
// the warehouse's first times or the events: with none built, all built, some days unlisted
// (their first times then wrong, and ignored), and shows that the listed ones are read.
func TestFirstsSameAnswers(t *testing.T) {
	if testing.Short() {
		t.Skip("two tenants loaded into a warehouse and every investigation run four times; skipped with -short")
	}
	dir := filepath.Join(t.TempDir(), "wh")
	commitFirstsTenants(t, dir, nil)
	live := allAnswers(t, dir, "none built")
	for i, now := range firstsNows {
		got := live["new-country to "+now.Format(time.RFC3339)]
		if !strings.Contains(got, fmt.Sprintf("edge-out-%d@", i)) || strings.Contains(got, fmt.Sprintf("edge-in-%d@", i)) {
			t.Fatalf("new-country to %s: want edge-out-%d (its only earlier NZ is before the history) and not edge-in-%d:\n%s", now.Format(time.RFC3339), i, i, got)
		}
	}
	if got := firstsCount(t, dir, "SELECT count(*) FROM activity_firsts_days"); got != 0 {
		t.Fatalf("%d days listed before any refresh", got)
	}

	spec := Firsts()
	w, err := warehouse.Open(t.Context(), warehouse.Options{Dir: dir, MemoryLimit: "500MB", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.RefreshFirsts(t.Context(), spec); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	days := firstsCount(t, dir, "SELECT count(*) FROM activity_firsts_days")
	if want := firstsCount(t, dir, "SELECT count(*) FROM (SELECT DISTINCT tenant, day FROM activities)"); days != want || days == 0 {
		t.Fatalf("%d days listed after the refresh, want %d (every tenant's day)", days, want)
	}
	sameAnswers(t, live, allAnswers(t, dir, "all built"))

	// Loaded as a load does (the rule at every commit, Close builds the new days): in two
	// halves, the second adding to days the first listed.
	loaded := filepath.Join(t.TempDir(), "loaded")
	for half := range 2 {
		commitFirstsTenants(t, loaded, &firstsHalf{spec: &spec, half: half})
	}
	if got, want := firstsCount(t, loaded, "SELECT count(*) FROM activity_firsts_days"), days; got != want {
		t.Errorf("loaded in halves: %d days listed, want %d", got, want)
	}
	if n := firstsCount(t, loaded, "SELECT count(*) - count(DISTINCT (tenant, day, user_name, country, user_agent, isp)) FROM activity_firsts"); n == 0 {
		t.Error("loaded in halves: the second half added no first time to a listed day")
	}
	sameAnswers(t, live, allAnswers(t, loaded, "loaded in halves"))

	// Unlisted days' first times are wrong (moved a year back) and must not be read.
	writeWarehouse(t, dir, `DELETE FROM activity_firsts_days WHERE (day - DATE '2026-01-01') % 3 = 0`,
		`UPDATE activity_firsts f SET first_ts = first_ts - INTERVAL 365 DAY
		 WHERE NOT EXISTS (SELECT 1 FROM activity_firsts_days d WHERE d.tenant = f.tenant AND d.day = f.day)`)
	sameAnswers(t, live, allAnswers(t, dir, "some unlisted"))

	// The listed days are read: with their first times moved back, every pair counts as known.
	writeWarehouse(t, dir, `UPDATE activity_firsts SET first_ts = first_ts - INTERVAL 365 DAY`)
	broken := allAnswers(t, dir, "listed ones wrong")
	for _, name := range []string{"new-country", "new-client-fingerprint"} {
		name += " to " + synthEnd.Format(time.RFC3339)
		if live[name] == broken[name] {
			t.Errorf("%s: the same answer with the listed first times a year early: event_firsts does not read them\n%s", name, live[name])
		}
	}
}

// firstsNows are the ends of the windows TestFirstsSameAnswers asks for: the data's end, and a
// time in the middle of a day with activity after it (whose day must be read from the events).
var firstsNows = []time.Time{synthEnd, synthEnd.Add(-30*time.Hour - 17*time.Minute)}

// firstsHalf says which half of the records commitFirstsTenants commits (by position, so each
// half spans every day), with the first times' rule.
type firstsHalf struct {
	spec *warehouse.FirstsSpec
	half int
}

// commitFirstsTenants commits firstsTenants' records (and the edge users') into the warehouse in
// dir, a writer and a commit per tenant: all of them, or one half with the rule (h).
func commitFirstsTenants(t *testing.T, dir string, h *firstsHalf) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tn := range firstsTenants {
		opts := warehouse.Options{Dir: dir, MemoryLimit: "500MB", Logger: log, Source: "simulator", Tenant: tn.label}
		if h != nil {
			opts.Firsts = h.spec
		}
		w, err := warehouse.Open(t.Context(), opts)
		if err != nil {
			t.Fatal(err)
		}
		recs := tenantJSON(synth.New(tn.cfg))
		if tn.label == "second" {
			recs = append(recs, renderActs(edgeActs())...)
		}
		if h != nil {
			var part []json.RawMessage
			for i := h.half; i < len(recs); i += 2 {
				part = append(part, recs[i])
			}
			recs = part
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		b, err := schema.NewConverter(mem, schema.Options{Tenant: tn.label}).Convert(recs)
		if err != nil || len(b.Rejected) > 0 {
			t.Fatalf("convert: %v, %d rejected", err, len(b.Rejected))
		}
		_, err = w.Commit(t.Context(), warehouse.Commit{Records: []arrow.RecordBatch{b.Record}})
		b.Record.Release()
		mem.AssertSize(t, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// allAnswers runs every investigation that needs no parameter over the warehouse in dir, each
// tenant on its own, as mcasload query does, for windows ending at each of firstsNows, and
// returns each answer rendered.
func allAnswers(t *testing.T, dir, what string) map[string]string {
	t.Helper()
	r, err := warehouse.OpenReader(t.Context(), warehouse.ReaderOptions{Dir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s, err := Open(t.Context(), r.Conn(), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	if !s.firsts {
		t.Fatal("the session does not see the warehouse's first times")
	}
	if err := s.UseTenants(warehouse.ActivitiesView, r.Tenants); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	rows := 0
	for _, now := range firstsNows {
		for _, inv := range All() {
			if len(requiredValues(inv)) > 0 {
				continue
			}
			res, _ := investigate(t, s, inv.Name, Request{Now: now})
			out[inv.Name+" to "+now.Format(time.RFC3339)] = res.table
			rows += len(res.rows)
		}
	}
	t.Logf("%s: %d answers, %d rows", what, len(out), rows)
	return out
}

func sameAnswers(t *testing.T, want, got map[string]string) {
	t.Helper()
	for name, w := range want {
		if got[name] != w {
			t.Errorf("%s: the answer changed\nfrom the events:\n%s\nwith the first times:\n%s", name, w, got[name])
		}
	}
}

// writeWarehouse runs statements on the warehouse's DuckDB file (no reader open).
func writeWarehouse(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	connector, err := duckdb.NewConnector(filepath.Join(dir, warehouse.DatabaseFile), nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(t.Context(), q); err != nil {
			t.Fatalf("%s: %v", strings.Fields(q)[0], err)
		}
	}
}

func firstsCount(t *testing.T, dir, q string) int {
	t.Helper()
	connector, err := duckdb.NewConnector(filepath.Join(dir, warehouse.DatabaseFile)+"?access_mode=read_only", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
	var n int
	if err := db.QueryRowContext(t.Context(), q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestFirstsWithStream holds the answers the same with first times when the stream holds rows
// no activity has (events only in the stream: earlier first times that event_firsts must still
// read from the events, one of which makes a reported pair known) and lacks some activities.
func TestFirstsWithStream(t *testing.T) {
	if testing.Short() {
		t.Skip("a tenant over both sources, every investigation run three times; skipped with -short")
	}
	ss := newSourceSessions(t, synth.Config{Seed: 2, Users: 40, Days: 37, End: synthEnd, Incidents: true},
		xdrstream.Differences{Extra: 400, Drop: 50})
	s := ss.both
	if !s.stream {
		t.Fatal("the session holds no stream rows")
	}
	// One tenant, named (the test tables leave it empty), in both sources alike.
	const label = "default"
	for _, q := range []string{`UPDATE activities SET tenant = '` + label + `'`, `UPDATE cloud_app_events SET tenant = '` + label + `'`} {
		if _, err := s.conn.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	answers := func(what string) map[string]string {
		out := map[string]string{}
		for _, inv := range All() {
			if len(requiredValues(inv)) > 0 {
				continue
			}
			res, _ := investigate(t, s, inv.Name, Request{Now: synthEnd})
			out[inv.Name] = res.table
		}
		t.Logf("%s: %d answers", what, len(out))
		return out
	}
	// A stream-only event that makes a pair new-country reports known: the pair's user in the
	// pair's country ten days before the data's end (inside the history), copied from one of
	// the user's stream rows under a report id no activity has.
	before, _ := investigate(t, s, "new-country", Request{Now: synthEnd})
	if len(before.rows) == 0 {
		t.Fatal("new-country reports nothing to make known")
	}
	user, country := before.rows[0]["user_name"].(string), before.rows[0]["country"].(string)
	if _, err := s.conn.ExecContext(t.Context(), `INSERT INTO cloud_app_events
		SELECT * REPLACE ('firsts-stream-only' AS report_id, $1::TIMESTAMPTZ - INTERVAL 10 DAY AS ts,
		                  ($1::TIMESTAMPTZ - INTERVAL 10 DAY)::DATE AS day, $2 AS country_code)
		FROM cloud_app_events WHERE report_id = (SELECT min(id) FROM stream_rows WHERE user_name = $3)`, synthEnd, country, user); err != nil {
		t.Fatal(err)
	}
	after, _ := investigate(t, s, "new-country", Request{Now: synthEnd})
	for _, row := range after.rows {
		if row["user_name"] == user && row["country"] == country {
			t.Fatalf("new-country still reports %s in %s after a stream-only event there in the history:\n%s", user, country, after.table)
		}
	}
	live := answers("from the events")
	// The first times as the warehouse builds them, every day listed.
	for _, q := range []string{
		`CREATE TABLE activity_firsts AS SELECT tenant, day, user_name, country, user_agent, isp, min(ts) AS first_ts FROM activities
		 WHERE user_name IS NOT NULL AND ` + firstsWhere + ` GROUP BY ALL`,
		`CREATE TABLE activity_firsts_days AS SELECT DISTINCT tenant, day, '` + firstsSpec.Rule + `' AS rule FROM activities`,
	} {
		if _, err := s.conn.ExecContext(t.Context(), q); err != nil {
			t.Fatal(err)
		}
	}
	s.firsts = true
	if err := s.UseTenants("activities", []string{label}); err != nil {
		t.Fatal(err)
	}
	sameAnswers(t, live, answers("with the first times"))
	if _, err := s.conn.ExecContext(t.Context(), `UPDATE activity_firsts SET first_ts = first_ts - INTERVAL 365 DAY`); err != nil {
		t.Fatal(err)
	}
	if broken := answers("with wrong first times"); broken["new-country"] == live["new-country"] {
		t.Errorf("new-country: the same answer with the first times a year early: event_firsts does not read them")
	}
}
