package main

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/warehouse"
)

// maxGaps is how many runs of days without activity a coverage lists; a window with more is
// mostly empty, and the first ones say so.
const maxGaps = 8

// coverageOf reads what r holds for the window [since, until] (every activity when window is
// nil): the activities, their days and tenants, what the warehouse holds in all, its last run
// and its rejected records. It runs on the reader's connection before the query session locks
// it, over the views of the selected tenants.
func coverageOf(ctx context.Context, r *warehouse.Reader, window *output.Window) (*output.Coverage, error) {
	conn := r.Conn()
	cov := &output.Coverage{Source: "warehouse " + r.Dir, Tenants: r.Tenants, Window: window}
	if r.From == warehouse.FromParquet {
		cov.Source = "parquet " + r.Dir
	}
	if cov.Tenants == nil {
		cov.Tenants = []string{}
	}
	if err := warehouseCoverage(ctx, conn, cov); err != nil {
		return nil, err
	}

	only := ""
	if len(r.Tenants) == 1 {
		only = r.Tenants[0]
	}
	days, tenants, err := windowCoverage(ctx, conn, window, only, cov)
	if err != nil {
		return nil, err
	}
	for _, t := range cov.Tenants {
		if !tenants[t] {
			cov.TenantsWithout = append(cov.TenantsWithout, t)
		}
	}
	cov.DaysWithData = len(days)
	cov.Days = len(days)
	if window != nil {
		cov.Days, cov.DaysWithout = dayGaps(window.Since, window.Until, days)
	}
	switch {
	case cov.Activities == 0:
		cov.State = output.CoverNone
	case len(cov.DaysWithout) > 0:
		cov.State = output.CoverPartial
	default:
		cov.State = output.CoverFull
	}
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM memory.main.rejected_activities`).Scan(&cov.Rejected); err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	if cov.LastRun, err = lastRun(ctx, conn, r.Tenants); err != nil {
		return nil, err
	}
	return cov, nil
}

// windowCoverage counts the activities of window (every activity when it is nil) into cov, with
// their first and last times, and returns the days and tenants that hold them.
//
// The counts are read by day. With one tenant in view (only) its rows are counted by day alone,
// and the time bounds are tested only on the window's first and last days: the days between are
// whole. The tenant and ts columns are then read for those two days only, not for the whole
// window (at 20M rows in row groups of ~12k, the window's tenant and ts columns cost 0.6–0.9 s
// to read from disk at every query, the days alone 0.08 s).
func windowCoverage(ctx context.Context, conn *sql.Conn, window *output.Window, only string, cov *output.Coverage) (days, tenants map[string]bool, err error) {
	where := ""
	if window != nil {
		where = fmt.Sprintf(" AND ts >= %s AND ts <= %s AND day >= DATE '%s' AND day <= DATE '%s'", sqlTime(window.Since), sqlTime(window.Until),
			window.Since.UTC().Format(time.DateOnly), window.Until.UTC().Format(time.DateOnly))
	}
	q := `SELECT tenant, day, count(*) FROM memory.main.activities WHERE true` + where + ` GROUP BY tenant, day`
	if only != "" {
		q = `SELECT ` + quoteSQL(only) + `, day, count(*) FROM memory.main.activities GROUP BY day`
		if window != nil {
			first, last := window.Since.UTC().Format(time.DateOnly), window.Until.UTC().Format(time.DateOnly)
			q = fmt.Sprintf(`SELECT %[1]s, day, count(*) FROM memory.main.activities WHERE day > DATE '%[2]s' AND day < DATE '%[3]s' GROUP BY day
				UNION ALL SELECT %[1]s, day, count(*) FROM memory.main.activities WHERE day IN (DATE '%[2]s', DATE '%[3]s')%[4]s GROUP BY day`,
				quoteSQL(only), first, last, where)
		}
	}
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, nil, fmt.Errorf("read coverage: %w", err)
	}
	days, tenants = map[string]bool{}, map[string]bool{}
	var inFirst, inLast time.Time
	for rows.Next() {
		var (
			t   string
			day time.Time
			n   int64
		)
		if err := rows.Scan(&t, &day, &n); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read coverage: %w", err)
		}
		days[day.UTC().Format(time.DateOnly)], tenants[t] = true, true
		cov.Activities += n
		if inFirst.IsZero() || day.Before(inFirst) {
			inFirst = day
		}
		if day.After(inLast) {
			inLast = day
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read coverage: %w", err)
	}
	if cov.Activities > 0 {
		first, last, err := timesOn(ctx, conn, where, inFirst, inLast)
		if err != nil {
			return nil, nil, err
		}
		cov.FirstActivity, cov.LastActivity = &first, &last
	}
	return days, tenants, nil
}

// warehouseCoverage fills what the warehouse holds in all. Counts and days read the day column
// alone; the first and last times are read on the first and last day only (a row's day is its
// time's UTC date), whose row groups DuckDB finds by their statistics. Reading min(ts) and
// max(ts) over every row cost 0.14 s at 5M rows and grew with the warehouse.
func warehouseCoverage(ctx context.Context, conn *sql.Conn, cov *output.Coverage) error {
	var firstDay, lastDay sql.NullTime
	if err := conn.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT day), min(day), max(day) FROM memory.main.activities`).
		Scan(&cov.Warehouse.Activities, &cov.Warehouse.Days, &firstDay, &lastDay); err != nil {
		return fmt.Errorf("read coverage: %w", err)
	}
	if !firstDay.Valid {
		return nil
	}
	first, last, err := timesOn(ctx, conn, "", firstDay.Time, lastDay.Time)
	if err != nil {
		return err
	}
	cov.Warehouse.FirstActivity, cov.Warehouse.LastActivity = &first, &last
	return nil
}

// timesOn reads the first activity time on firstDay and the last on lastDay, of the rows the
// condition where keeps ("" or " AND …").
func timesOn(ctx context.Context, conn *sql.Conn, where string, firstDay, lastDay time.Time) (first, last time.Time, err error) {
	var f, l sql.NullTime
	q := fmt.Sprintf(`SELECT (SELECT min(ts) FROM memory.main.activities WHERE day = DATE '%s'%s),
		(SELECT max(ts) FROM memory.main.activities WHERE day = DATE '%s'%s)`,
		firstDay.UTC().Format(time.DateOnly), where, lastDay.UTC().Format(time.DateOnly), where)
	if err := conn.QueryRowContext(ctx, q).Scan(&f, &l); err != nil {
		return first, last, fmt.Errorf("read coverage: %w", err)
	}
	if !f.Valid || !l.Valid {
		return first, last, fmt.Errorf("read coverage: no activity time on %s or %s, the days that hold the first and last", firstDay.UTC().Format(time.DateOnly), lastDay.UTC().Format(time.DateOnly))
	}
	return f.Time.UTC(), l.Time.UTC(), nil
}

// dayGaps counts the UTC days [since, until] touches and lists the runs of them that hold no
// activity (at most maxGaps; the last one then runs to the window's last empty day).
func dayGaps(since, until time.Time, withData map[string]bool) (int, []output.DayRange) {
	first := since.UTC().Truncate(24 * time.Hour)
	end := until.UTC()
	var gaps []output.DayRange
	n := 0
	for d := first; !d.After(end); d = d.AddDate(0, 0, 1) {
		n++
		day := d.Format(time.DateOnly)
		if withData[day] {
			continue
		}
		if k := len(gaps) - 1; k >= 0 && (gaps[k].To == d.AddDate(0, 0, -1).Format(time.DateOnly) || len(gaps) == maxGaps) {
			gaps[k].To = day
			continue
		}
		gaps = append(gaps, output.DayRange{From: day, To: day})
	}
	return n, gaps
}

// lastRun is the last finished writing run of the selected tenants, from the warehouse's run
// log; nil when the reader has none (a bare Parquet dataset).
func lastRun(ctx context.Context, conn *sql.Conn, tenants []string) (*output.Run, error) {
	var hasRuns, hasTenant bool
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE true) > 0, count(*) FILTER (WHERE column_name = 'tenant') > 0
		FROM duckdb_columns() WHERE database_name = 'wh' AND table_name = 'runs'`).Scan(&hasRuns, &hasTenant); err != nil {
		return nil, fmt.Errorf("read the last run: %w", err)
	}
	if !hasRuns {
		return nil, nil
	}
	q := `SELECT coalesce(command, ''), finished FROM wh.runs WHERE finished IS NOT NULL`
	if hasTenant && len(tenants) > 0 {
		quoted := make([]string, len(tenants))
		for i, t := range tenants { // labels are checked: letters, digits, '-', '_', '.'
			quoted[i] = "'" + strings.ReplaceAll(t, "'", "''") + "'"
		}
		q += ` AND (tenant IS NULL OR tenant IN (` + strings.Join(quoted, ", ") + `))`
	}
	var run output.Run
	err := conn.QueryRowContext(ctx, q+` ORDER BY finished DESC LIMIT 1`).Scan(&run.Command, &run.Finished)
	switch {
	case err == sql.ErrNoRows:
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read the last run: %w", err)
	}
	run.Command = runVerb(run.Command)
	run.Finished = run.Finished.UTC()
	return &run, nil
}

// runVerb is the command of a run log line ("mcasload scan --url …" → "scan").
func runVerb(command string) string {
	f := strings.Fields(command)
	if len(f) > 1 && strings.HasSuffix(f[0], "mcasload") {
		return f[1]
	}
	if len(f) > 0 {
		return f[0]
	}
	return "run"
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// noData is the outcome of an answer over a window the warehouse holds no activity in: exit 7,
// saying what the warehouse holds instead; nil when the window holds some.
func noData(cov *output.Coverage) error {
	if cov == nil || cov.State != output.CoverNone {
		return nil
	}
	h := cov.Warehouse
	var what string
	if cov.Window != nil {
		what = fmt.Sprintf("%s to %s", cov.Window.Since.UTC().Format("2006-01-02 15:04 UTC"), cov.Window.Until.UTC().Format("2006-01-02 15:04 UTC"))
	} else {
		what = "the warehouse"
	}
	msg := fmt.Errorf("nothing in %s: %s (%s, tenants: %s)", what, h.Text(), cov.Source, strings.Join(cov.Tenants, ", "))
	hint := "load or scan activities first (mcasload scan, mcasload load FILE), or check --warehouse / --parquet / --tenant-label"
	if h.Activities > 0 {
		hint = fmt.Sprintf("ask about a window inside it, e.g. --since %s --until %s", h.FirstActivity.UTC().Format(time.DateOnly), h.LastActivity.UTC().Add(24*time.Hour).Format(time.DateOnly))
	}
	return withCode(exitNoData, msg, hint)
}

// unseenParams lists the user and IP parameter values of a run that no activity of the
// warehouse (the selected tenants, any time) holds, with a note for each in meta.
func unseenParams(ctx context.Context, r *warehouse.Reader, inv *queries.Investigation, values map[string]string) ([]output.Unseen, error) {
	var out []output.Unseen
	for _, name := range []string{"user", "ip"} {
		p, ok := inv.Param(name)
		if !ok {
			continue
		}
		text := values[name]
		if text == "" {
			text = p.Default
		}
		for _, v := range strings.Split(text, ",") {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			q := `SELECT count(*) FROM (SELECT 1 FROM memory.main.activities WHERE lower(user_name) = lower(?) LIMIT 1)`
			if name == "ip" {
				q = `SELECT count(*) FROM (SELECT 1 FROM memory.main.activities WHERE ip = ? LIMIT 1)`
			}
			var n int
			if err := r.Conn().QueryRowContext(ctx, q, v).Scan(&n); err != nil {
				return nil, fmt.Errorf("look up %s %s: %w", name, v, err)
			}
			if n == 0 {
				out = append(out, output.Unseen{Param: name, Value: v})
			}
		}
	}
	return out, nil
}

// unseenNote is the sentence for meta's notes about values no activity holds.
func unseenNote(u output.Unseen, tenants []string) string {
	what := "user"
	if u.Param == "ip" {
		what = "IP address"
	}
	return fmt.Sprintf("the %s %s (--param %s) appears in no activity of the warehouse (tenants: %s), at any time: check the spelling, the tenant or what was loaded",
		what, u.Value, u.Param, strings.Join(tenants, ", "))
}

// quoteSQL is s as a SQL string literal.
func quoteSQL(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}
