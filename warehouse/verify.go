package warehouse

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/tenant"
)

// DayCheck compares one tenant's UTC day of one dataset across the sinks.
type DayCheck struct {
	Table             string // the dataset: activities or cloud_app_events
	Tenant            string
	Day               string
	DuckDB            int64 // rows in DuckDB (activities, or the dedupe index with --sink parquet)
	Parquet           int64 // rows in the day's Parquet folder
	MissingInParquet  int64 // ids in DuckDB but not in the day's Parquet folder
	MissingInDuckDB   int64 // ids in the day's Parquet folder but not in DuckDB
	DuplicatesDuckDB  int64 // rows beyond the first of an id
	DuplicatesParquet int64
	OutsideDay        int64 // Parquet rows whose ts falls on another UTC day than their folder
	IndexMismatch     int64 // ids in activities but not in the dedupe index, or the reverse
	RawMismatch       int64 // rows whose raw differs from the one the dedupe index recorded
}

// OK reports whether the day is consistent.
func (d DayCheck) OK() bool {
	return d.MissingInParquet == 0 && d.MissingInDuckDB == 0 && d.DuplicatesDuckDB == 0 &&
		d.DuplicatesParquet == 0 && d.OutsideDay == 0 && d.IndexMismatch == 0 && d.RawMismatch == 0
}

// VerifyReport is the result of Verify.
type VerifyReport struct {
	Days         []DayCheck // every day present in either sink
	UnknownFiles []string   // files in the Parquet tree that mcasload did not write
	DamagedFiles []string   // Parquet files that are not valid Parquet (truncated, overwritten); not read
	// TableProblems lists where the file's tables differ from what the migrations create
	// (every table of warehouseTables is checked, not only the datasets).
	TableProblems []string
	// FindingsProblems lists where the findings differ from their Parquet snapshot.
	FindingsProblems []string
	Pending          int // (day, commit) pairs not yet published; excluded from the check
}

// OK reports whether every day is consistent and nothing unknown lies in the dataset.
func (r *VerifyReport) OK() bool {
	for _, d := range r.Days {
		if !d.OK() {
			return false
		}
	}
	return len(r.UnknownFiles) == 0 && len(r.DamagedFiles) == 0 && len(r.TableProblems) == 0 && len(r.FindingsProblems) == 0
}

// Problems lists the inconsistencies, one line each, for people.
func (r *VerifyReport) Problems() []string {
	var out []string
	for _, d := range r.Days {
		if d.OK() {
			continue
		}
		where := ""
		if d.Table != activitiesTable.name {
			where = d.Table + ", "
		}
		out = append(out, fmt.Sprintf("%stenant %s, %s: duckdb %d rows, parquet %d rows; missing in parquet %d, missing in duckdb %d, duplicates duckdb %d parquet %d, outside their day %d, index mismatch %d, raw mismatch %d",
			where, d.Tenant, d.Day, d.DuckDB, d.Parquet, d.MissingInParquet, d.MissingInDuckDB, d.DuplicatesDuckDB, d.DuplicatesParquet, d.OutsideDay, d.IndexMismatch, d.RawMismatch))
	}
	for _, p := range r.TableProblems {
		out = append(out, "duckdb file: "+p)
	}
	out = append(out, r.FindingsProblems...)
	for _, f := range r.DamagedFiles {
		out = append(out, "damaged file in the parquet dataset (not valid parquet): "+f)
	}
	for _, f := range r.UnknownFiles {
		out = append(out, "unknown file in the parquet dataset: "+f)
	}
	return out
}

// Verify compares DuckDB and Parquet day by day: counts, ids, duplicates, rows outside their
// day folder, the dedupe index against the activities table, and each row's raw against the
// hash the index recorded when it was stored, per tenant. With tenants, only those tenants'
// days are compared (the table check and the unknown and damaged files cover the whole
// warehouse). It changes nothing.
func (w *Writer) Verify(ctx context.Context, tenants ...string) (_ *VerifyReport, err error) {
	defer markStorage(&err)
	s, err := w.session(ctx)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	defer s.detachClose(context.WithoutCancel(ctx))
	if len(tenants) > 0 {
		held, err := listTenants(ctx, s.conn)
		if err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
		if _, err := selectTenants(tenants, held); err != nil {
			return nil, fmt.Errorf("verify: %w", err)
		}
	}
	rep, err := w.verify(ctx, s, tenants)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	return rep, nil
}

func (w *Writer) verify(ctx context.Context, s *session, selection []string) (*VerifyReport, error) {
	rep := &VerifyReport{}
	problems, missing, err := checkTables(ctx, s)
	if err != nil {
		return nil, err
	}
	rep.TableProblems = problems
	if missing {
		return rep, nil // the sinks cannot be compared without their tables
	}
	if rep.FindingsProblems, err = w.verifyFindings(ctx, s); err != nil {
		return nil, err
	}
	failpoint.Pause("verify")
	for _, t := range datasets {
		pending, err := pendingDays(ctx, s, t)
		if err != nil {
			return nil, err
		}
		rep.Pending += len(pending)
		root := filepath.Join(w.dir, t.parquetDir)
		_, _, unknown, err := listParts(root, w.legacyTenant)
		if err != nil {
			return nil, err
		}
		rep.UnknownFiles = append(rep.UnknownFiles, unknown...)
		good, damaged, err := splitParquetFiles(root)
		if err != nil {
			return nil, err
		}
		rep.DamagedFiles = append(rep.DamagedFiles, damaged...)
		days, err := w.compareSinks(ctx, s, t, good, selection)
		if err != nil {
			return nil, err
		}
		rep.Days = append(rep.Days, days...)
	}
	return rep, nil
}

// verifyChunkRows bounds the rows one comparison of the sinks holds (verify compares a range of
// days at a time): compared whole, a 20M-row warehouse's temporary tables and joins spilled past
// 26 GB of disk. A day holding more is compared alone. A variable for the tests.
var verifyChunkRows int64 = 2 << 20

// dayRange is an inclusive range of UTC days (YYYY-MM-DD).
type dayRange struct{ from, to string }

// compareSinks compares the rows of dataset t in DuckDB with its readable Parquet files good,
// per tenant and day, for the tenants of selection (all when nil), a range of days at a time
// (verifyChunkRows). A row's id is its dedupe key (t.keySQL); a row stored under another day
// than its id's index entry shows as missing on both days.
func (w *Writer) compareSinks(ctx context.Context, s *session, t *whTable, good []string, selection []string) ([]DayCheck, error) {
	ranges, err := w.verifyRanges(ctx, s, t, good, selection)
	if err != nil {
		return nil, fmt.Errorf("read sinks: %w", err)
	}
	var out []DayCheck
	for _, r := range ranges {
		var files []string
		for _, f := range good {
			if d := fileDay(f); d >= r.from && d <= r.to {
				files = append(files, f)
			}
		}
		days, err := w.compareRange(ctx, s, t, files, selection, r)
		if err != nil {
			return nil, err
		}
		out = append(out, days...)
	}
	slices.SortStableFunc(out, func(a, b DayCheck) int {
		return cmp.Or(strings.Compare(a.Tenant, b.Tenant), strings.Compare(a.Day, b.Day))
	})
	return out, nil
}

// verifyRanges divides the days that dataset t's index, DuckDB table and Parquet files good hold
// (for the tenants of selection) into consecutive ranges of at most verifyChunkRows rows.
func (w *Writer) verifyRanges(ctx context.Context, s *session, t *whTable, good []string, selection []string) ([]dayRange, error) {
	filter := " WHERE " + tenantFilter(selection)
	q := `SELECT strftime(day, '%Y-%m-%d'), count(*) FROM wh.` + t.index + filter + ` GROUP BY day`
	if w.opts.Sinks.duckdb() {
		q += ` UNION ALL SELECT DISTINCT strftime(day, '%Y-%m-%d'), 0 FROM wh.` + t.name + filter
	}
	rows := map[string]int64{}
	err := scanRows(ctx, s.conn, q, func(r *sql.Rows) error {
		var day string
		var n int64
		if err := r.Scan(&day, &n); err != nil {
			return err
		}
		rows[day] += n
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, f := range good {
		rows[fileDay(f)] += 0
	}
	var out []dayRange
	var n int64
	for _, d := range slices.Sorted(maps.Keys(rows)) {
		if len(out) == 0 || n+rows[d] > verifyChunkRows && n > 0 {
			out = append(out, dayRange{d, d})
			n = 0
		}
		out[len(out)-1].to = d
		n += rows[d]
	}
	return out, nil
}

// fileDay is the day of a Parquet file of the dataset, from its day=<day> folder (every file
// splitParquetFiles lists lies in one).
func fileDay(path string) string {
	return strings.TrimPrefix(filepath.Base(filepath.Dir(path)), dayPrefix)
}

// compareRange compares the days of r, in temporary tables it drops afterwards.
func (w *Writer) compareRange(ctx context.Context, s *session, t *whTable, good []string, selection []string, r dayRange) ([]DayCheck, error) {
	sinks := w.opts.Sinks
	filter := " WHERE " + tenantFilter(selection) + " AND day BETWEEN DATE " + quoteString(r.from) + " AND DATE " + quoteString(r.to)
	// d: what DuckDB says is stored (and published, when comparing with Parquet).
	dSrc := `SELECT tenant, id, day, rawsum FROM wh.` + t.index + filter
	if sinks.duckdb() {
		dSrc = `SELECT tenant, ` + t.keySQL("") + ` AS id, day, md5_number_lower(raw) AS rawsum FROM wh.` + t.name + filter
	}
	if sinks.parquet() {
		dSrc = `SELECT tenant, id, day, rawsum FROM (` + dSrc + `) x WHERE NOT EXISTS (SELECT 1 FROM wh.` + t.index + ` i JOIN wh.` + t.pending + ` p
			ON p.seq = i.seq AND p.day = i.day AND p.tenant = i.tenant WHERE i.tenant = x.tenant AND i.id = x.id)`
	}
	pSrc := `SELECT NULL::VARCHAR AS tenant, NULL::VARCHAR AS id, NULL::DATE AS day, NULL::TIMESTAMPTZ AS ts, NULL::UBIGINT AS rawsum WHERE false`
	if sinks.parquet() {
		// Damaged files are reported above and left out, so the rest is still compared.
		for _, src := range w.fileSources(t, good, selection) {
			pSrc += fmt.Sprintf("\nUNION ALL SELECT %s AS tenant, %s AS id, day, ts, md5_number_lower(raw) AS rawsum FROM read_parquet(%s, %s)", src.tenantExpr, t.keySQL(""), src.arg(), src.hive)
		}
	}
	iSrc := `SELECT tenant, id, day, rawsum FROM wh.` + t.index + filter
	if !sinks.duckdb() {
		iSrc = dSrc // the index is the DuckDB side; nothing to compare it with
	}
	setup := []string{
		`CREATE OR REPLACE TEMP TABLE v_d AS ` + dSrc,
		`CREATE OR REPLACE TEMP TABLE v_p AS ` + pSrc,
		`CREATE OR REPLACE TEMP TABLE v_i AS ` + iSrc,
	}
	for _, q := range setup {
		if err := s.exec(ctx, q); err != nil {
			return nil, fmt.Errorf("read sinks: %w", err)
		}
	}
	compareParquet := sinks.parquet()
	q := `
	WITH days AS (SELECT tenant, day FROM temp.v_d UNION SELECT tenant, day FROM temp.v_p UNION SELECT tenant, day FROM temp.v_i),
	dd AS (SELECT tenant, day, count(*) n, count(*) - count(DISTINCT id) dup FROM temp.v_d GROUP BY ALL),
	pp AS (SELECT tenant, day, count(*) n, count(*) - count(DISTINCT id) dup,
	              count(*) FILTER (WHERE CAST(ts AS DATE) <> day) outside FROM temp.v_p GROUP BY ALL),
	mp AS (SELECT tenant, day, count(*) n FROM (SELECT DISTINCT tenant, id, day FROM temp.v_d) x
	       WHERE NOT EXISTS (SELECT 1 FROM temp.v_p p WHERE p.tenant = x.tenant AND p.id = x.id AND p.day = x.day) GROUP BY ALL),
	md AS (SELECT tenant, day, count(*) n FROM (SELECT DISTINCT tenant, id, day FROM temp.v_p) x
	       WHERE NOT EXISTS (SELECT 1 FROM temp.v_d d WHERE d.tenant = x.tenant AND d.id = x.id AND d.day = x.day) GROUP BY ALL),
	im AS (SELECT tenant, day, count(*) n FROM (
	         (SELECT tenant, id, day FROM temp.v_i EXCEPT SELECT tenant, id, day FROM temp.v_d)
	         UNION ALL (SELECT tenant, id, day FROM temp.v_d EXCEPT SELECT tenant, id, day FROM temp.v_i)) GROUP BY ALL),
	rm AS (SELECT tenant, day, count(*) n FROM (
	         SELECT x.tenant, x.day FROM temp.v_d x JOIN temp.v_i i ON i.tenant = x.tenant AND i.id = x.id WHERE x.rawsum <> i.rawsum
	         UNION ALL SELECT x.tenant, x.day FROM temp.v_p x JOIN temp.v_i i ON i.tenant = x.tenant AND i.id = x.id WHERE x.rawsum <> i.rawsum) GROUP BY ALL)
	SELECT days.tenant, strftime(days.day, '%Y-%m-%d'), coalesce(dd.n, 0), coalesce(pp.n, 0), coalesce(mp.n, 0), coalesce(md.n, 0),
	       coalesce(dd.dup, 0), coalesce(pp.dup, 0), coalesce(pp.outside, 0), coalesce(im.n, 0), coalesce(rm.n, 0)
	FROM days LEFT JOIN dd USING (tenant, day) LEFT JOIN pp USING (tenant, day) LEFT JOIN mp USING (tenant, day)
	     LEFT JOIN md USING (tenant, day) LEFT JOIN im USING (tenant, day) LEFT JOIN rm USING (tenant, day)
	ORDER BY days.tenant, days.day`
	var days []DayCheck
	err := scanRows(ctx, s.conn, q, func(r *sql.Rows) error {
		d := DayCheck{Table: t.name}
		if err := r.Scan(&d.Tenant, &d.Day, &d.DuckDB, &d.Parquet, &d.MissingInParquet, &d.MissingInDuckDB,
			&d.DuplicatesDuckDB, &d.DuplicatesParquet, &d.OutsideDay, &d.IndexMismatch, &d.RawMismatch); err != nil {
			return err
		}
		if !compareParquet {
			d.MissingInParquet = 0
		}
		days = append(days, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("compare sinks: %w", err)
	}
	for _, t := range []string{"v_d", "v_p", "v_i"} {
		_ = s.exec(ctx, `DROP TABLE temp.`+t)
	}
	return days, nil
}

// fileSources groups the Parquet files paths of dataset t by layout (a tenant folder, or a day
// folder from before tenants) into read_parquet sources, for the tenants of selection.
func (w *Writer) fileSources(t *whTable, paths, selection []string) []datasetSource {
	root := filepath.Join(w.dir, t.parquetDir)
	byTenant := map[string][]string{}
	var legacy []string
	for _, p := range paths {
		rel, err := filepath.Rel(root, p)
		if err != nil {
			continue
		}
		if label, ok := strings.CutPrefix(strings.SplitN(rel, string(filepath.Separator), 2)[0], tenantPrefix); ok {
			byTenant[label] = append(byTenant[label], p)
		} else {
			legacy = append(legacy, p)
		}
	}
	var out []datasetSource
	var files []string
	for _, label := range slices.Sorted(maps.Keys(byTenant)) {
		if tenant.Selected(selection, label) {
			files = append(files, byTenant[label]...)
		}
	}
	if len(files) > 0 {
		out = append(out, datasetSource{globs: files, hive: "hive_partitioning = true, hive_types = {'day': DATE, 'tenant': VARCHAR}", tenantExpr: "tenant"})
	}
	if len(legacy) > 0 && tenant.Selected(selection, w.legacyTenant) {
		out = append(out, datasetSource{globs: legacy, hive: "hive_partitioning = true, hive_types = {'day': DATE}", tenantExpr: quoteString(w.legacyTenant)})
	}
	return out
}
