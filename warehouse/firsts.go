package warehouse

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// First times. The investigations that judge something new for a user (a country, a client, an
// operation) read weeks of history to learn what is not new: at 20M rows that history is most
// of the warehouse, grouped by user at every run (3–5 s). activity_firsts keeps, per tenant and
// day, the first time of each (user, country, user agent, ISP) among the day's activities that
// count as history (what a rule says: the investigations' classification, given by package
// queries as a FirstsSpec), 20–50× fewer rows; an investigation reads it for the whole days of
// its history and the activities themselves for the rest.
//
// Exactness: activity_firsts_days lists the days whose first times cover every activity of the
// day, with the rule they were built under; a reader takes listed days of its own rule only.
// First times are minimums, so a commit keeps a listed day exact by adding its own rows' first
// times in its transaction (with Options.Firsts; the rows are read from the commit's Arrow
// buffers, not from the table); its unlisted days are left to Close. A commit without the rule,
// a prune or a repair unlists the days it changes in its transaction. Close builds the unlisted
// days the writer committed to from their activities and folds a listed day's added rows
// together once they double it (every day, once, when none is listed: after an upgrade, a
// repair or a change of rule); RefreshFirsts does both for every day. A tenant's days are built
// a few per transaction (firstsBuildDays; a folded day in its own): a kill between two leaves
// the rest unlisted.

// migrationAddFirsts creates the first times and the list of days they hold.
const migrationAddFirsts = `CREATE TABLE wh.activity_firsts (tenant VARCHAR NOT NULL, day DATE NOT NULL, user_name VARCHAR NOT NULL,
	  country VARCHAR, user_agent VARCHAR, isp VARCHAR, first_ts TIMESTAMPTZ NOT NULL);
	 CREATE TABLE wh.activity_firsts_days (tenant VARCHAR NOT NULL, day DATE NOT NULL, rule VARCHAR NOT NULL,
	  rows BIGINT NOT NULL, built TIMESTAMPTZ NOT NULL, PRIMARY KEY (tenant, day));`

// FirstsSpec says which activities count as history: a day's first times are
//
//	SELECT day, user_name, country, user_agent, isp, min(ts) FROM <the day's activities>
//	WHERE user_name IS NOT NULL AND (Where) GROUP BY ALL
type FirstsSpec struct {
	// Rule names the rule (Setup and Where); days built under another rule are rebuilt.
	Rule string
	// Setup are statements run first on a connection (the rule's macros).
	Setup []string
	// Where is the condition on an activity's columns that makes it count.
	Where string
	// Columns are the activities' columns Where reads besides those of a first time (a
	// commit reads these alone).
	Columns []string
}

// firstsColumns are the columns a first time is made of.
var firstsColumns = []string{"ts", "day", "user_name", "country", "user_agent", "isp"}

// columns are the activities' columns spec reads, each once.
func (spec *FirstsSpec) columns() []string {
	out := slices.Clone(firstsColumns)
	for _, c := range spec.Columns {
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

// counts is the condition on rows that makes them count as history.
func (spec *FirstsSpec) counts() string {
	return `user_name IS NOT NULL AND (` + spec.Where + `)`
}

// FirstsResult is what RefreshFirsts did.
type FirstsResult struct {
	Days   int   // days built from their activities
	Folded int   // listed days whose added first times were folded together
	Rows   int64 // first-time rows written
	Stale  int   // days found unlisted or of another rule
	Took   time.Duration
}

// invalidateFirsts removes days of tenant label from the first times' list, inside the
// caller's transaction: their activities are changing. With rule, only the days listed under
// another rule are removed (a commit with rule keeps its own days exact).
func invalidateFirsts(ctx context.Context, s *session, label string, dayList []string, rule string) error {
	if len(dayList) == 0 {
		return nil
	}
	if err := s.exec(ctx, `DELETE FROM wh.activity_firsts_days WHERE tenant = ? AND day IN (SELECT unnest(?::VARCHAR[])::DATE) AND rule <> ?`,
		label, days(dayList), rule); err != nil {
		return fmt.Errorf("mark first times stale: %w", err)
	}
	return nil
}

// summaryTables are the warehouse's tables of kind summary (the first times and their days).
func summaryTables() []string {
	var out []string
	for _, t := range warehouseTables {
		if t.kind == kindSummary {
			out = append(out, t.name)
		}
	}
	return out
}

// firstsRecords are recs' columns the rule reads (the arrays are shared, not copied). The
// caller releases them.
func firstsRecords(recs []arrow.RecordBatch, names []string) (*arrow.Schema, []arrow.RecordBatch) {
	var fields []arrow.Field
	var cols []int
	for i, f := range activitiesTable.rows.Fields() {
		if slices.Contains(names, f.Name) {
			fields = append(fields, f)
			cols = append(cols, i)
		}
	}
	sch := arrow.NewSchema(fields, nil)
	out := make([]arrow.RecordBatch, len(recs))
	for i, r := range recs {
		arrs := make([]arrow.Array, len(cols))
		for j, c := range cols {
			arrs[j] = r.Column(c)
		}
		out[i] = array.NewRecordBatch(sch, arrs, r.NumRows())
	}
	return sch, out
}

// setupFirsts runs the rule's setup on the session's connection once.
func setupFirsts(ctx context.Context, s *session, spec *FirstsSpec) error {
	if s.firstsRule == spec.Rule {
		return nil
	}
	for _, q := range spec.Setup {
		if err := s.exec(ctx, q); err != nil {
			return fmt.Errorf("set up the first times' rule: %w", err)
		}
	}
	s.firstsRule = spec.Rule
	return nil
}

// commitFirsts is what a commit with the rule knows of its days' first times: the days of the
// commit listed under the rule, whose first times it adds to (the others are built at Close).
type commitFirsts struct {
	listed []string
	view   string // the commit's rows (spec.columns()), when some days are listed
}

// withFirstsRows prepares a commit's first times outside its transaction (the rule's setup and
// the view write the in-memory catalog): it finds which of the commit's days (pl.days) are listed
// under the rule and, when some are, registers the commit's rows (pl.keep, the columns the
// rule reads) as the view storeFirsts reads. Without Options.Firsts f gets nil.
func (w *Writer) withFirstsRows(ctx context.Context, s *session, t *whTable, label string, pl *plan, f func(cf *commitFirsts) error) error {
	if w.opts.Firsts == nil || t.name != activitiesTable.name || !w.opts.Sinks.duckdb() || len(pl.keep) == 0 {
		return f(nil)
	}
	cf := &commitFirsts{}
	var err error
	cf.listed, err = queryStrings(ctx, s.conn, `SELECT strftime(day, '%Y-%m-%d') FROM wh.activity_firsts_days
		WHERE tenant = ? AND rule = ? AND day IN (SELECT unnest(?::VARCHAR[])::DATE) ORDER BY 1`, label, w.opts.Firsts.Rule, days(pl.days))
	if err != nil {
		return fmt.Errorf("list the commit's days with first times: %w", err)
	}
	if len(cf.listed) == 0 {
		return f(cf)
	}
	if err := setupFirsts(ctx, s, w.opts.Firsts); err != nil {
		return err
	}
	sch, recs := firstsRecords(pl.keep, w.opts.Firsts.columns())
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	// Read in the transaction as the rows are (batch_rows): a filter, no aggregate (DuckDB's
	// parallel aggregate over an Arrow view crashes with two threads).
	return withView(ctx, s, "batch_firsts", sch, recs, func(view string) error {
		cf.view = view
		return f(cf)
	})
}

// storeFirsts keeps the first times of the days a commit adds rows to (dayList, tenant label)
// exact, inside the commit's transaction. With the rule (cf) the commit's first times on the
// listed days are added, the days listed under another rule are unlisted, and every day is
// noted for Close; without, the days are unlisted.
func (w *Writer) storeFirsts(ctx context.Context, s *session, label string, dayList []string, cf *commitFirsts) error {
	if cf == nil {
		return invalidateFirsts(ctx, s, label, dayList, "")
	}
	spec := w.opts.Firsts
	if err := invalidateFirsts(ctx, s, label, dayList, spec.Rule); err != nil {
		return err
	}
	if len(cf.listed) > 0 {
		// One row per activity that counts (a commit's rows rarely share a key): Close folds
		// them once they double the day.
		if err := s.exec(ctx, `INSERT INTO wh.activity_firsts (tenant, day, user_name, country, user_agent, isp, first_ts)
			SELECT ?, day, user_name, country, user_agent, isp, ts FROM `+cf.view+`
			WHERE day IN (SELECT unnest(?::VARCHAR[])::DATE) AND `+spec.counts(), label, days(cf.listed)); err != nil {
			return fmt.Errorf("store first times: %w", err)
		}
	}
	if w.firstsTouched == nil {
		w.firstsTouched = map[[2]string]bool{}
	}
	for _, d := range dayList {
		w.firstsTouched[[2]string{label, d}] = true
	}
	return nil
}

// RefreshFirsts builds the first times of every tenant's day that is not listed under the
// rule (never built, or changed by a prune, a repair or a commit without the rule), folds those
// of listed days whose commits doubled them, and drops those of days that hold no activity any
// more. A warehouse that keeps its rows only in Parquet has none to build.
func (w *Writer) RefreshFirsts(ctx context.Context, spec FirstsSpec) (_ FirstsResult, err error) {
	var res FirstsResult
	if !w.opts.Sinks.duckdb() {
		return res, nil
	}
	if spec.Rule == "" || spec.Where == "" {
		return res, errors.New("refresh first times: the spec names no rule or condition")
	}
	start := time.Now()
	s, err := w.session(ctx)
	if err != nil {
		return res, err
	}
	defer func() { err = errors.Join(err, s.detachClose(context.WithoutCancel(ctx))) }()
	res, err = w.refreshAll(ctx, s, &spec)
	res.Took = time.Since(start)
	return res, err
}

// refreshAll is RefreshFirsts on the session s.
func (w *Writer) refreshAll(ctx context.Context, s *session, spec *FirstsSpec) (FirstsResult, error) {
	// Days gone from the activities (pruned, repaired away) lose their first times.
	if err := inTx(ctx, s, func() error {
		for _, tb := range summaryTables() {
			if err := s.exec(ctx, `DELETE FROM wh.`+tb+` f WHERE NOT EXISTS (SELECT 1 FROM wh.activity_ids i WHERE i.tenant = f.tenant AND i.day = f.day)`); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return FirstsResult{}, fmt.Errorf("drop first times of days gone: %w", err)
	}
	// The days held come from the dedupe index: narrow columns, one row per activity.
	return w.refreshDays(ctx, s, spec, `SELECT DISTINCT tenant, strftime(day, '%Y-%m-%d') AS day FROM wh.activity_ids`)
}

// closeFirsts is Close's part: the days this writer committed to, built or folded; every day
// when none is listed under the rule (a warehouse just upgraded or repaired, or a binary with
// another rule: a one-time build).
func (w *Writer) closeFirsts(ctx context.Context, s *session) (FirstsResult, error) {
	if !w.opts.Sinks.duckdb() {
		return FirstsResult{}, nil
	}
	var listed int
	if err := s.conn.QueryRowContext(ctx, `SELECT count(*) FROM wh.activity_firsts_days WHERE rule = ?`, w.opts.Firsts.Rule).Scan(&listed); err != nil {
		return FirstsResult{}, fmt.Errorf("count the first times' days: %w", err)
	}
	if listed == 0 {
		res, err := w.refreshAll(ctx, s, w.opts.Firsts)
		if err == nil {
			w.firstsTouched = nil
		}
		return res, err
	}
	if len(w.firstsTouched) == 0 {
		return FirstsResult{}, nil
	}
	pairs := make([]string, 0, len(w.firstsTouched))
	for p := range w.firstsTouched {
		pairs = append(pairs, "("+quoteString(p[0])+", "+quoteString(p[1])+")")
	}
	slices.Sort(pairs)
	res, err := w.refreshDays(ctx, s, w.opts.Firsts, `SELECT * FROM (VALUES `+strings.Join(pairs, ", ")+`) v(tenant, day)`)
	if err == nil {
		w.firstsTouched = nil
	}
	return res, err
}

// firstsBuildDays is how many of a tenant's days one transaction builds: a few, so that a build
// of every day (after an upgrade) groups a few days' activities at a time within the budget.
const firstsBuildDays = 4

// firstsFoldSlack is how many first-time rows commits may add to a listed day, beyond doubling
// it, before Close folds them together (a variable for tests).
var firstsFoldSlack int64 = 1000

// refreshDays builds the days of the (tenant, day) pairs held (a query of VARCHAR tenant and
// day) that are not listed under spec's rule, and folds the listed ones whose first times grew
// to twice the rows they were listed with (plus firstsFoldSlack).
func (w *Writer) refreshDays(ctx context.Context, s *session, spec *FirstsSpec, held string) (FirstsResult, error) {
	var res FirstsResult
	if err := setupFirsts(ctx, s, spec); err != nil {
		return res, err
	}
	rows, err := s.conn.QueryContext(ctx, `WITH held AS (`+held+`),
		counts AS (SELECT f.tenant, f.day, count(*) AS n FROM wh.activity_firsts f SEMI JOIN held h ON h.tenant = f.tenant AND h.day::DATE = f.day GROUP BY ALL)
		SELECT h.tenant, h.day, d.rows IS NULL AS build FROM held h
		LEFT JOIN (SELECT * FROM wh.activity_firsts_days WHERE rule = ?) d ON d.tenant = h.tenant AND d.day = h.day::DATE
		LEFT JOIN counts c ON c.tenant = h.tenant AND c.day = h.day::DATE
		WHERE d.rows IS NULL OR coalesce(c.n, 0) >= 2 * d.rows + ?
		ORDER BY 1, 2`, spec.Rule, firstsFoldSlack)
	if err != nil {
		return res, fmt.Errorf("list stale first times: %w", err)
	}
	type todo struct {
		tenant, day string
		build       bool
	}
	var work []todo
	for rows.Next() {
		var t todo
		if err := rows.Scan(&t.tenant, &t.day, &t.build); err != nil {
			rows.Close()
			return res, fmt.Errorf("list stale first times: %w", err)
		}
		work = append(work, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, fmt.Errorf("list stale first times: %w", err)
	}
	// The days to build, a few of a tenant's per transaction; the listed ones to fold, one each.
	build := map[string][]string{}
	var tenants []string
	for _, t := range work {
		if !t.build {
			continue
		}
		if build[t.tenant] == nil {
			tenants = append(tenants, t.tenant)
		}
		build[t.tenant] = append(build[t.tenant], t.day)
		res.Stale++
	}
	for _, label := range tenants {
		for chunk := range slices.Chunk(build[label], firstsBuildDays) {
			if err := ctx.Err(); err != nil {
				return res, err
			}
			n, err := w.buildFirstsDays(ctx, s, spec, label, chunk, true)
			if err != nil {
				return res, fmt.Errorf("build first times of tenant %s: %w", label, err)
			}
			res.Days += len(chunk)
			res.Rows += n
		}
	}
	for _, t := range work {
		if t.build {
			continue
		}
		if err := ctx.Err(); err != nil {
			return res, err
		}
		n, err := w.buildFirstsDays(ctx, s, spec, t.tenant, []string{t.day}, false)
		if err != nil {
			return res, fmt.Errorf("fold first times of tenant %s, %s: %w", t.tenant, t.day, err)
		}
		res.Folded++
		res.Rows += n
	}
	return res, nil
}

// buildFirstsDays replaces the first times of days of one tenant, and lists them, in one
// transaction: from their activities (build), or folded from the first times they hold.
func (w *Writer) buildFirstsDays(ctx context.Context, s *session, spec *FirstsSpec, label string, dayList []string, build bool) (int64, error) {
	where := ` WHERE tenant = ` + quoteString(label) + ` AND day IN (SELECT unnest(` + days(dayList) + `::VARCHAR[])::DATE)`
	src := `SELECT day, user_name, country, user_agent, isp, min(ts) AS first_ts FROM wh.activities` + where +
		` AND ` + spec.counts() + ` GROUP BY ALL`
	if !build {
		src = `SELECT day, user_name, country, user_agent, isp, min(first_ts) AS first_ts FROM wh.activity_firsts` + where + ` GROUP BY ALL`
	}
	// The rows are computed before the transaction: it may write the warehouse alone.
	if err := s.exec(ctx, `CREATE OR REPLACE TEMP TABLE firsts_day AS `+src); err != nil {
		return 0, err
	}
	defer s.exec(context.WithoutCancel(ctx), `DROP TABLE IF EXISTS temp.firsts_day`)
	var n int64
	err := inTx(ctx, s, func() error {
		if err := s.exec(ctx, `DELETE FROM wh.activity_firsts`+where); err != nil {
			return err
		}
		if err := s.exec(ctx, `DELETE FROM wh.activity_firsts_days`+where); err != nil {
			return err
		}
		r, err := s.conn.ExecContext(ctx, `INSERT INTO wh.activity_firsts (tenant, day, user_name, country, user_agent, isp, first_ts)
			SELECT ?, day, user_name, country, user_agent, isp, first_ts FROM temp.firsts_day`, label)
		if err != nil {
			return err
		}
		if n, err = r.RowsAffected(); err != nil {
			return err
		}
		if err := s.exec(ctx, `INSERT INTO wh.activity_firsts_days
			SELECT ?, d, ?, (SELECT count(*) FROM temp.firsts_day f WHERE f.day = d), ? FROM (SELECT unnest(?::VARCHAR[])::DATE AS d)`,
			label, spec.Rule, w.opts.Clock.Now().UTC(), days(dayList)); err != nil {
			return err
		}
		failpoint.Hit("firsts-before-commit")
		return nil
	})
	return n, err
}
