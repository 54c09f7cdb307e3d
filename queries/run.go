package queries

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/output"
)

// Request is one run of an investigation.
type Request struct {
	// Values are the --param values (since and until included); defaults fill the rest.
	Values map[string]string
	// Now anchors relative times such as "7d".
	Now time.Time
	// ShowSuppressed keeps the rows the allow-list matches, each with its suppressed_by.
	ShowSuppressed bool
	// Evidence is how many evidence ids a detection row keeps, the first by time (0:
	// DefaultEvidence).
	Evidence int
	// explain makes the answer the run's profiled plan (EXPLAIN ANALYZE, JSON), for the benchmark.
	explain bool
}

// Result is an investigation's answer: its rows, held in memory (an investigation's answer is a
// summary, a few rows to a few thousand), and the meta saying what they answer.
type Result struct {
	Meta    output.Meta
	schema  *arrow.Schema
	records []arrow.RecordBatch
}

// Schema is the result's columns.
func (r *Result) Schema() *arrow.Schema { return r.schema }

// Rows counts the rows of the answer.
func (r *Result) Rows() int {
	n := 0
	for _, rec := range r.records {
		n += int(rec.NumRows())
	}
	return n
}

// Reader reads the rows; it holds its own references, so the Result may be released first. The
// caller releases the reader.
func (r *Result) Reader() (array.RecordReader, error) {
	return array.NewRecordReader(r.schema, r.records)
}

// collect reads rdr whole into the result and releases it.
func (r *Result) collect(rdr array.RecordReader) error {
	defer rdr.Release()
	r.schema = rdr.Schema()
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		r.records = append(r.records, rec)
	}
	if err := rdr.Err(); err != nil {
		r.Release()
		return err
	}
	return nil
}

// Release frees the rows.
func (r *Result) Release() {
	for _, rec := range r.records {
		rec.Release()
	}
	r.records = nil
}

// UseAllowList makes the session suppress the rows of detections that l matches, and take the
// tenant's own domains from l's tenant settings (the default list suppresses nothing).
func (s *Session) UseAllowList(ctx context.Context, l *allowlist.List) error {
	if l == nil {
		l = allowlist.Empty()
	}
	stmt := fmt.Sprintf("CREATE OR REPLACE TEMP VIEW own_domains AS SELECT * FROM own_domains_of(%d, %s, %s)",
		l.MinUsers, sqlList(l.OwnDomains), sqlList(l.NotOwnDomains))
	if _, err := s.conn.ExecContext(ctx, stmt); err != nil {
		return fmt.Errorf("set the tenant's own domains: %w", err)
	}
	s.allow = l
	return nil
}

// sqlList renders strings as a VARCHAR[] literal, every quote doubled; the values are the
// allow-list's checked domain names.
func sqlList(vs []string) string {
	q := make([]string, len(vs))
	for i, v := range vs {
		q[i] = "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return "[" + strings.Join(q, ", ") + "]::VARCHAR[]"
}

func sqlTime(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'"
}

// Investigate runs inv over the window asked for and the history it declares. The events view is
// narrowed to [since - history, until] for the run (the SQL sees $since and $until, and reads
// its history from events itself); when the warehouse holds less history than declared, the
// meta says so and marks the result provisional. A detection's rows that the allow-list matches
// are suppressed and counted in the meta, or kept and marked with ShowSuppressed.
//
// Over several tenants (UseTenants) it runs once per tenant, each over that tenant's rows alone
// (its history too), and the answer starts with a tenant column.
func (s *Session) Investigate(ctx context.Context, inv *Investigation, req Request) (*Result, error) {
	return s.perTenant(ctx, func(ctx context.Context) (*Result, error) { return s.investigate(ctx, inv, req) })
}

// investigate is Investigate over the session's activities as they are.
func (s *Session) investigate(ctx context.Context, inv *Investigation, req Request) (*Result, error) {
	args, bound, err := inv.bind(req.Values, req.Now)
	if err != nil {
		return nil, err
	}
	since, until := bound["since"].(time.Time), bound["until"].(time.Time)
	history := inv.HistoryFor(bound)
	readFrom := since.Add(-history)
	if history >= 24*time.Hour {
		// whole days of history, so a baseline's first day is not a partial one
		readFrom = readFrom.Truncate(24 * time.Hour)
	}
	res := &Result{Meta: output.Meta{Command: "query", Investigation: inv.Name, Kind: inv.Kind,
		Window: &output.Window{Since: since, Until: until}, Read: &output.Window{Since: readFrom, Until: until}}}
	if err := s.checkHistory(ctx, &res.Meta, history, since, readFrom); err != nil {
		return nil, err
	}
	if err := s.narrowEvents(ctx, readFrom, until, sourcesFilter(inv)); err != nil {
		return nil, err
	}
	if note := s.sourcesNote(inv); note != "" {
		res.Meta.Notes = append(res.Meta.Notes, note)
	}
	if !s.batch {
		// The answer is read whole before events is widened again for the session's next query.
		defer s.narrowEvents(context.WithoutCancel(ctx), time.Time{}, time.Time{}, "")
	}
	query := inv.SQL
	if inv.Kind == Detection {
		query, args = s.triage(inv, req, &res.Meta, args)
	}
	if req.explain {
		rdr, err := s.arrow.QueryContext(ctx, "EXPLAIN (ANALYZE, FORMAT json) "+query, args...)
		if err != nil {
			return nil, fmt.Errorf("explain %s: %w", inv.Name, err)
		}
		return res, res.collect(rdr)
	}
	rdr, err := s.arrow.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("run %s: %w", inv.Name, err)
	}
	if err := res.collect(rdr); err != nil {
		return nil, fmt.Errorf("run %s: %w", inv.Name, err)
	}
	if inv.Kind == Detection && s.allow.Len() > 0 {
		if err := suppress(inv, s.allow, res, req.ShowSuppressed); err != nil {
			res.Release()
			return nil, err
		}
	}
	if inv.Kind == Detection {
		res.Meta.Severities = res.countSeverities()
	}
	return res, nil
}

// domainDays is how far before a window's end the tenant's own domains are read from.
const domainDays = 30

// narrowEvents points the events view at [from, until] of the sources the filter keeps (a
// condition on source, "" for all) and domain_events at the 30 days up to until, or both back at
// all_events when from is zero. The bounds are literals, so the time filter reaches the scan
// (zonemaps, Parquet statistics) as the investigations' own filters do. A view already pointed
// at the same stretch and sources is left as it is.
func (s *Session) narrowEvents(ctx context.Context, from, until time.Time, sources string) error {
	label := s.firstsTenant()
	if !s.unknown && s.narrowed.from.Equal(from) && s.narrowed.until.Equal(until) && s.narrowed.sources == sources && s.narrowed.tenant == label {
		return nil
	}
	s.unknown = true
	stmts := []string{"CREATE OR REPLACE TEMP VIEW events AS SELECT * FROM all_events",
		"CREATE OR REPLACE TEMP VIEW domain_events AS SELECT * FROM all_events"}
	if !from.IsZero() {
		stmts[0] += between(from, until)
		stmts[1] += between(until.Add(-domainDays*24*time.Hour), until)
		if sources != "" {
			stmts[0] += " AND " + sources
		}
	}
	// event_firsts reads the warehouse's first times when the events read the activities.
	firsts, err := s.firstsView(ctx, from, until, label, sources == "" || strings.Contains(sources, "'activities'"))
	if err != nil {
		return err
	}
	stmts = append(stmts, firsts)
	for _, stmt := range stmts {
		if _, err := s.conn.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("set the events read: %w", err)
		}
	}
	s.narrowed, s.unknown = narrowing{from, until, sources, label}, false
	return nil
}

// Batch runs fn, which runs many investigations in a row on the session (detect runs every
// detection over every day holding new activity), with two savings: the events view stays
// narrowed from one run to the next, so a run that reads the same stretch as the one before
// does not narrow it again, and what the history check learns of the warehouse (its first
// activity, whether it holds a given day) is looked up once. The answers are the same as
// without Batch. When fn returns the view is widened and the look-ups forgotten. Inside fn the
// session's connection may read anything but the events views, which are left narrowed.
func (s *Session) Batch(ctx context.Context, fn func() error) error {
	if s.batch {
		return fn()
	}
	s.batch, s.held, s.first = true, map[string]bool{}, map[string]firstSeen{}
	defer func() { s.batch, s.held, s.first = false, nil, nil }()
	err := fn()
	if werr := s.narrowEvents(context.WithoutCancel(ctx), time.Time{}, time.Time{}, ""); err == nil {
		err = werr
	}
	return err
}

func between(from, until time.Time) string {
	return fmt.Sprintf(" WHERE ts >= %s AND ts <= %s AND day >= DATE '%s' AND day <= DATE '%s'",
		sqlTime(from), sqlTime(until), from.UTC().Format(time.DateOnly), until.UTC().Format(time.DateOnly))
}

// firstActivity is the time of the warehouse's first activity (ok false when it holds none).
func (s *Session) firstActivity(ctx context.Context) (first time.Time, ok bool, err error) {
	if f, known := s.first[s.current]; known {
		return f.at, f.ok, nil
	}
	var t sql.NullTime
	if err := s.conn.QueryRowContext(ctx, "SELECT min(ts) FROM all_events").Scan(&t); err != nil {
		return time.Time{}, false, fmt.Errorf("read the first activity: %w", err)
	}
	if s.batch {
		s.first[s.current] = firstSeen{t.Time.UTC(), t.Valid}
	}
	return t.Time.UTC(), t.Valid, nil
}

// holdsDay reports whether the warehouse holds an activity on or before day: the first row
// found answers, so a warehouse with the history reads one row group, not every one.
func (s *Session) holdsDay(ctx context.Context, day time.Time) (bool, error) {
	date := day.UTC().Format(time.DateOnly)
	if held, known := s.held[s.current+"/"+date]; known {
		return held, nil
	}
	var n int
	q := fmt.Sprintf("SELECT count(*) FROM (SELECT 1 FROM all_events WHERE day <= DATE '%s' LIMIT 1)", date)
	if err := s.conn.QueryRowContext(ctx, q).Scan(&n); err != nil {
		return false, fmt.Errorf("read the first activity: %w", err)
	}
	if s.batch {
		s.held[s.current+"/"+date] = n > 0
	}
	return n > 0, nil
}

// checkHistory fills meta's history: the warehouse counts as holding whole UTC days from the day
// of its first activity, as `status` lists them.
func (s *Session) checkHistory(ctx context.Context, meta *output.Meta, history time.Duration, since, from time.Time) error {
	if history <= 0 {
		return nil
	}
	h := &output.History{Declared: FormatDuration(history), DeclaredDays: days(history), AvailableDays: days(history)}
	meta.History = h
	complete, err := s.holdsDay(ctx, from)
	if err != nil || complete {
		return err
	}
	first, ok, err := s.firstActivity(ctx)
	if err != nil {
		return err
	}
	meta.Provisional = true
	h.AvailableDays = 0
	if !ok {
		meta.Notes = append(meta.Notes, fmt.Sprintf("the warehouse holds no activity, so none of the %s of history this investigation reads before the window", h.Declared))
		return nil
	}
	h.FirstActivity = &first
	avail := max(0, min(since.Sub(first.Truncate(24*time.Hour)), history))
	h.AvailableDays = days(avail)
	meta.Notes = append(meta.Notes, fmt.Sprintf("the warehouse's first activity is %s, so it holds %s of the %s of history this investigation reads before the window (from %s): findings that depend on what came before (a baseline, a learning period, an earlier sign-in) are less certain",
		first.Format("2006-01-02 15:04 UTC"), formatAvailable(avail, history), h.Declared, from.Format("2006-01-02 15:04 UTC")))
	return nil
}

func days(d time.Duration) float64 {
	return math.Round(d.Hours()/24*100) / 100
}

// formatAvailable writes the history held in the unit the declared history is written in.
func formatAvailable(avail, declared time.Duration) string {
	if declared%(24*time.Hour) != 0 {
		return avail.Round(time.Minute).String()
	}
	return fmt.Sprintf("%gd", days(avail))
}

// FormatDuration writes d as a header does: 30d, 36h or 90m.
func FormatDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0:
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return fmt.Sprintf("%dm", d/time.Minute)
}
