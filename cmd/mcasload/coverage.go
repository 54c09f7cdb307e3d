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
	var first, last sql.NullTime
	if err := conn.QueryRowContext(ctx, `SELECT count(*), min(ts), max(ts), count(DISTINCT day) FROM memory.main.activities`).
		Scan(&cov.Warehouse.Activities, &first, &last, &cov.Warehouse.Days); err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	cov.Warehouse.FirstActivity, cov.Warehouse.LastActivity = timePtr(first), timePtr(last)

	where := ""
	if window != nil {
		where = fmt.Sprintf(" WHERE ts >= %s AND ts <= %s AND day >= DATE '%s' AND day <= DATE '%s'", sqlTime(window.Since), sqlTime(window.Until),
			window.Since.UTC().Format(time.DateOnly), window.Until.UTC().Format(time.DateOnly))
	}
	// Grouped by the DATE, formatted after: formatting every row cost a tenth of a second a
	// million rows.
	rows, err := conn.QueryContext(ctx, `SELECT tenant, strftime(day, '%Y-%m-%d'), n, first, last FROM (
		SELECT tenant, day, count(*) AS n, min(ts) AS first, max(ts) AS last FROM memory.main.activities`+where+` GROUP BY tenant, day)`)
	if err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
	}
	days := map[string]bool{}
	tenants := map[string]bool{}
	for rows.Next() {
		var (
			t, day      string
			n           int64
			first, last time.Time
		)
		if err := rows.Scan(&t, &day, &n, &first, &last); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read coverage: %w", err)
		}
		days[day], tenants[t] = true, true
		cov.Activities += n
		if cov.FirstActivity == nil || first.Before(*cov.FirstActivity) {
			cov.FirstActivity = &first
		}
		if cov.LastActivity == nil || last.After(*cov.LastActivity) {
			cov.LastActivity = &last
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read coverage: %w", err)
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
