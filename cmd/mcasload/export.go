package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/urfave/cli/v2"

	"github.com/mcasload/mcasload/export"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/warehouse"
)

func (e *env) exportCommand() *cli.Command {
	return &cli.Command{
		Name:  "export",
		Usage: "write activities, an investigation's result or a query to Parquet, CSV or NDJSON for notebooks",
		Description: "Writes the activities of a window (--since/--until), the result of a canned investigation\n" +
			"(--query NAME) or of a read-only SQL query (--sql; the activities view then holds only the window)\n" +
			"to one file, or with --partition-by day to a folder of day=YYYY-MM-DD/ files that pandas, polars\n" +
			"and DuckDB read as one dataset. The output appears whole or not at all. Parquet is zstd, with UTC\n" +
			"timestamps, lists as lists and raw records as JSON text. docs/export.md has notebook snippets.",
		Flags: []cli.Flag{
			warehouseFlag(),
			parquetFlag(),
			tenantSelectionFlag(),
			&cli.StringFlag{Name: "since", Usage: "start of the window: a duration ago (7d, 2w, 1d12h), RFC 3339, a date, or epoch s (10 digits) or ms (13) (default 7d)"},
			&cli.StringFlag{Name: "until", Usage: "end of the window (default now)"},
			&cli.StringFlag{Name: "query", Aliases: []string{"q"}, Usage: "export the result of investigation `NAME` (mcasload query --list)"},
			&cli.StringSliceFlag{Name: "param", Aliases: []string{"p"}, Usage: "set an investigation parameter, `KEY=VALUE` (repeatable)"},
			&cli.StringFlag{Name: "sql", Usage: "export the result of one read-only `SELECT` over activities (restricted to the window)"},
			&cli.StringFlag{Name: "columns", Aliases: []string{"c"}, Usage: "export only these columns, comma-separated `a,b,c`, in this order"},
			&cli.StringFlag{Name: "format", Aliases: []string{"f"}, Value: "parquet", Usage: "parquet, csv or ndjson"},
			&cli.StringFlag{Name: "out", Aliases: []string{"o"}, Required: true, Usage: "`FILE` to write (- for stdout), or the folder with --partition-by day"},
			&cli.StringFlag{Name: "partition-by", Usage: "`day`: write day=YYYY-MM-DD/ folders (Hive style)"},
			&cli.BoolFlag{Name: "force", Usage: "replace an existing --out"},
			&cli.BoolFlag{Name: "progress", Value: true, Usage: "show progress on stderr"},
		},
		Action: e.runExport,
	}
}

// exportSource is what an export reads, checked before the warehouse is opened.
type exportSource struct {
	inv          *queries.Investigation
	values       map[string]string // the investigation's parameters
	sql          string
	since, until time.Time // the window of the activities and --sql sources
	columns      []string
}

func (e *env) runExport(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("unexpected arguments %q", strings.Join(c.Args().Slice(), " "))
	}
	format, err := export.ParseFormat(c.String("format"))
	if err != nil {
		return usageErrorf("--format: %v", err)
	}
	partition := false
	switch p := c.String("partition-by"); p {
	case "":
	case "day":
		partition = true
	default:
		return usageErrorf("--partition-by %q: accepted: day", p)
	}
	now := time.Now()
	src, err := e.exportSource(c, now)
	if err != nil {
		return err
	}
	out := c.String("out")
	switch {
	case out == stdoutName && partition:
		return usageErrorf("--out - writes one stream to stdout, and --partition-by day a folder of files: give --out DIR, or drop --partition-by")
	case out == stdoutName && format == export.Parquet:
		if err := e.refuseBinaryOnTerminal(string(format), out); err != nil {
			return err
		}
	case out != stdoutName:
		if err := checkOut(out, c.Bool("force")); err != nil {
			return err
		}
	}
	log, err := e.logger(c)
	if err != nil {
		return err
	}
	restrict := src.sql != ""
	r, s, cov, err := e.openReadSession(c, log, restrict, src.since, src.until)
	if err != nil {
		return err
	}
	defer r.Close()
	fmt.Fprintln(e.stderr, cov.Line())

	ctx := c.Context
	rdr, total, err := exportResult(ctx, r, s, src, now)
	if err != nil {
		return err
	}
	defer rdr.Release()

	var rows atomic.Int64
	if c.Bool("progress") {
		p := e.progress("export", func() progress.Snapshot { return progress.Snapshot{Records: rows.Load(), Total: total} })
		p.Start(ctx)
		defer p.Stop()
	}
	start := time.Now()
	opts := export.Options{Format: format, PartitionByDay: partition, Force: c.Bool("force"), Rows: &rows}
	failpoint.Pause("answer")
	res, err := e.writeExport(ctx, out, rdr, opts)
	if err != nil {
		return err
	}
	if out == stdoutName {
		out = "stdout"
	}
	if partition {
		fmt.Fprintf(e.stderr, "exported %d rows to %s (%d files in %d day folders) in %s\n", res.Rows, out, len(res.Files), len(res.Days), time.Since(start).Round(time.Millisecond))
	} else {
		fmt.Fprintf(e.stderr, "exported %d rows to %s in %s\n", res.Rows, out, time.Since(start).Round(time.Millisecond))
	}
	return noData(cov)
}

// writeExport writes rdr to the file or folder out, or to stdout for --out -, mapping the
// export's refusals to exit codes with hints.
func (e *env) writeExport(ctx context.Context, out string, rdr array.RecordReader, opts export.Options) (export.Result, error) {
	var (
		res export.Result
		err error
	)
	if out == stdoutName {
		res, err = export.WriteTo(ctx, stopWriter{ctx, e.stdout}, rdr, opts)
	} else {
		res, err = export.Write(ctx, out, rdr, opts)
	}
	switch {
	case errors.Is(err, export.ErrNoDay):
		return res, withCode(exitUsage, err, "add a day or ts column to the query, or drop --partition-by")
	case errors.Is(err, export.ErrIsFolder):
		return res, withCode(exitFailure, err, "give --out a file name, or add --partition-by day")
	}
	return res, err
}

// exportResult runs the export's source and returns its rows (with --columns applied) and, for
// the activities source, how many there are (0 when unknown).
func exportResult(ctx context.Context, r *warehouse.Reader, s *queries.Session, src *exportSource, now time.Time) (array.RecordReader, int64, error) {
	var (
		rdr   array.RecordReader
		total int64
		err   error
	)
	switch {
	case src.inv != nil:
		rdr, err = s.Run(ctx, src.inv, src.values, now)
	case src.sql != "":
		rdr, err = s.SQL(ctx, src.sql)
	default:
		rdr, total, err = activitiesByDay(ctx, r, s, src)
	}
	if err != nil {
		return nil, 0, queryFailure(err)
	}
	if len(src.columns) > 0 && (src.inv != nil || src.sql != "") {
		idx, err := export.SelectColumns(export.FieldNames(rdr.Schema()), src.columns)
		if err != nil {
			rdr.Release()
			return nil, 0, usageErrorf("--columns: %v", err)
		}
		rdr = export.Project(rdr, idx)
	}
	return rdr, total, nil
}

// exportSource checks the source flags: at most one of --query and --sql, the window, the
// parameters and, for the activities source, the column names.
func (e *env) exportSource(c *cli.Context, now time.Time) (*exportSource, error) {
	src := &exportSource{sql: strings.TrimSpace(c.String("sql")), columns: export.ParseColumns(c.String("columns"))}
	if c.IsSet("columns") && len(src.columns) == 0 {
		return nil, usageErrorf("--columns is empty; give names such as id,ts,user_name")
	}
	name := c.String("query")
	if name != "" && src.sql != "" {
		return nil, usageErrorf("give --query or --sql, not both")
	}
	if name == "" && len(c.StringSlice("param")) > 0 {
		return nil, usageErrorf("--param needs --query NAME")
	}
	if name != "" {
		inv, err := queries.Lookup(name)
		if err != nil {
			return nil, withCode(exitUsage, err, "mcasload query --list shows every investigation with its parameters")
		}
		values, err := paramValues(c, inv)
		if err != nil {
			return nil, err
		}
		since, until, windowed, err := inv.Window(values, now)
		if err != nil {
			return nil, bindFailure(err)
		}
		if !windowed { // every investigation has a window; a coverage of all time otherwise
			since, until = time.Time{}, now
		}
		src.inv, src.values, src.since, src.until = inv, values, since, until
		return src, nil
	}
	since, until := "7d", "now"
	if c.IsSet("since") {
		since = c.String("since")
	}
	if c.IsSet("until") {
		until = c.String("until")
	}
	var err error
	if src.since, err = timearg.ParseAt(since, now); err != nil {
		return nil, usageErrorf("--since: %v", err)
	}
	if src.until, err = timearg.ParseAt(until, now); err != nil {
		return nil, usageErrorf("--until: %v", err)
	}
	if !src.since.Before(src.until) {
		return nil, usageErrorf("--since (%s) must be before --until (%s)", src.since.Format(time.RFC3339), src.until.Format(time.RFC3339))
	}
	if src.sql == "" && len(src.columns) > 0 {
		names := make([]string, len(schema.Columns))
		for i, col := range schema.Columns {
			names[i] = col.Name
		}
		if _, err := export.SelectColumns(names, src.columns); err != nil {
			return nil, usageErrorf("--columns: %v", err)
		}
	}
	return src, nil
}

// sqlTime is t as a TIMESTAMPTZ literal. Only times this program parsed are written this way.
func sqlTime(t time.Time) string {
	return "TIMESTAMPTZ '" + t.UTC().Format("2006-01-02 15:04:05.000000") + "+00'"
}

// windowCond keeps the activities of [since, until).
func windowCond(since, until time.Time) string {
	return "ts >= " + sqlTime(since) + " AND ts < " + sqlTime(until)
}

// activitiesQuery selects the activities of one day that cond keeps (all columns, or the
// checked columns) in time order.
func activitiesQuery(columns []string, day, cond string) string {
	cols := "*"
	if len(columns) > 0 {
		cols = strings.Join(columns, ", ")
	}
	return fmt.Sprintf("SELECT %s FROM activities WHERE day = DATE '%s' AND %s ORDER BY ts, id", cols, day, cond)
}

// exportPageRows bounds the rows one query of an activities export reads. DuckDB sorts a
// query's rows and hands its Arrow result whole: a day of a large tenant (1.2M rows, ~5 GB
// with raw) ran out of the reader's memory in one query. A day of more rows is read as
// consecutive time ranges of about this many (a variable for the tests).
var exportPageRows int64 = 16384

// dayPages cuts the window's part of one day of n activities into time ranges of about
// exportPageRows rows each, in order, as conditions on ts. Rows of one time stay in one range.
func dayPages(ctx context.Context, conn *sql.Conn, day string, n int64, since, until time.Time) ([]string, error) {
	window := windowCond(since, until)
	if n <= exportPageRows {
		return []string{window}, nil
	}
	rows, err := conn.QueryContext(ctx, fmt.Sprintf(`SELECT DISTINCT ts FROM (
		SELECT ts, row_number() OVER (ORDER BY ts) AS rn FROM activities WHERE day = DATE '%s' AND %s)
		WHERE rn %% %d = 0 ORDER BY ts`, day, window, exportPageRows))
	if err != nil {
		return nil, fmt.Errorf("cut day %s into ranges: %w", day, err)
	}
	defer rows.Close()
	pages := []string{}
	lower := "ts >= " + sqlTime(since)
	for rows.Next() {
		var b time.Time
		if err := rows.Scan(&b); err != nil {
			return nil, fmt.Errorf("cut day %s into ranges: %w", day, err)
		}
		pages = append(pages, lower+" AND ts <= "+sqlTime(b))
		lower = "ts > " + sqlTime(b)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("cut day %s into ranges: %w", day, err)
	}
	return append(pages, lower+" AND ts < "+sqlTime(until)), nil
}

// activitiesByDay reads the window's activities one UTC day at a time, and a crowded day a time
// range at a time (dayPages), in time order: DuckDB materializes an Arrow result whole, so each
// query's rows bound the memory (all at once took 2 GB for the 200,000 rows of the demo). It
// also returns the row count, for the progress line's ETA.
func activitiesByDay(ctx context.Context, r *warehouse.Reader, s *queries.Session, src *exportSource) (array.RecordReader, int64, error) {
	rows, err := r.Conn().QueryContext(ctx, `SELECT strftime(day, '%Y-%m-%d'), count(*) FROM activities
		WHERE `+windowCond(src.since, src.until)+` GROUP BY day ORDER BY day`)
	if err != nil {
		return nil, 0, fmt.Errorf("list days to export: %w", err)
	}
	var (
		days   []string
		counts []int64
		total  int64
	)
	for rows.Next() {
		var (
			day string
			n   int64
		)
		if err := rows.Scan(&day, &n); err != nil {
			rows.Close()
			return nil, 0, fmt.Errorf("list days to export: %w", err)
		}
		days, counts, total = append(days, day), append(counts, n), total+n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list days to export: %w", err)
	}
	// The schema, from the same SELECT on no day.
	empty, err := s.SQL(ctx, activitiesQuery(src.columns, "1970-01-01", "false")+" LIMIT 0")
	if err != nil {
		return nil, 0, err
	}
	schema := empty.Schema()
	empty.Release()
	var open []func() (array.RecordReader, error)
	for i, day := range days {
		pages, err := dayPages(ctx, r.Conn(), day, counts[i], src.since, src.until)
		if err != nil {
			return nil, 0, err
		}
		for _, cond := range pages {
			open = append(open, func() (array.RecordReader, error) {
				return s.SQL(ctx, activitiesQuery(src.columns, day, cond))
			})
		}
	}
	return export.Concat(schema, open), total, nil
}

// openReadSession opens the warehouse (or --parquet dataset) read-only, reads its coverage of
// [since, until] and locks the connection down for queries. With restrict, the activities view
// that queries see holds only [since, until), so --sql needs no WHERE of its own for the window.
func (e *env) openReadSession(c *cli.Context, log *slog.Logger, restrict bool, since, until time.Time) (*warehouse.Reader, *queries.Session, *output.Coverage, error) {
	r, err := e.openReader(c, log)
	if err != nil {
		return nil, nil, nil, err
	}
	cov, err := coverageOf(c.Context, r, &output.Window{Since: since, Until: until})
	if err != nil {
		r.Close()
		return nil, nil, nil, err
	}
	if restrict {
		if err := restrictActivities(c.Context, r, since, until); err != nil {
			r.Close()
			return nil, nil, nil, err
		}
	}
	s, err := openInvestigations(c, r)
	if err != nil {
		r.Close()
		return nil, nil, nil, err
	}
	return r, s, cov, nil
}

// restrictActivities renames the reader's activities view (or empty table) and puts in its
// place a view of the window, before the session is locked.
func restrictActivities(ctx context.Context, r *warehouse.Reader, since, until time.Time) error {
	conn := r.Conn()
	var kind string
	if err := conn.QueryRowContext(ctx, `SELECT table_type FROM information_schema.tables WHERE table_name = 'activities' AND table_schema = 'main' AND table_catalog = 'memory'`).Scan(&kind); err != nil {
		return fmt.Errorf("restrict activities to the window: %w", err)
	}
	object := "VIEW"
	if kind != "VIEW" {
		object = "TABLE"
	}
	stmts := []string{
		"ALTER " + object + " memory.main.activities RENAME TO activities_all",
		fmt.Sprintf("CREATE VIEW memory.main.activities AS SELECT * FROM memory.main.activities_all WHERE ts >= %s AND ts < %s", sqlTime(since), sqlTime(until)),
	}
	for _, q := range stmts {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("restrict activities to the window: %w", err)
		}
	}
	return nil
}

// checkOut refuses an output export.CheckOut refuses (before a long query runs), with the hint
// naming the flag that helps.
func checkOut(out string, force bool) error {
	err := export.CheckOut(out, force)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, export.ErrNoOutput):
		return withCode(exitFailure, err, "pass --out FILE (or --out DIR with --partition-by day)")
	case errors.Is(err, export.ErrExists):
		return withCode(exitFailure, err, "pass --force to replace it")
	}
	return withCode(exitFailure, err, "")
}
