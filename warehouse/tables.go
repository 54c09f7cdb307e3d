package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/tenant"
)

// columnDefs is the DDL column list of the activities table, in schema order.
func columnDefs() string { return activitiesTable.columnDDL(false) }

// storedColumnDefs is columnDefs for tables in the warehouse file: raw, most of a row's bytes,
// is compressed with zstd (about 6× smaller than DuckDB's default for JSON text, and faster to
// write), which needs the file's storage version to be at least v1.2 (see storageVersion).
func storedColumnDefs() string { return activitiesTable.columnDDL(true) }

// columnDDL is the DDL column list of dataset t's rows, in schema order (stored: raw compressed
// with zstd, see storedColumnDefs).
func (t *whTable) columnDDL(stored bool) string {
	var b strings.Builder
	for i, c := range t.columns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %s", c.Name, schema.SQLType(c.Type))
		if !c.Nullable {
			b.WriteString(" NOT NULL")
		}
		if stored && c.Name == "raw" {
			b.WriteString(" USING COMPRESSION zstd")
		}
	}
	return b.String()
}

// partitionColumns are the columns of a dataset that a Parquet file does not hold: like any Hive
// dataset, they come from its folder names (parquet/<table>/tenant=<label>/day=YYYY-MM-DD/).
var partitionColumns = []string{"tenant", "day"}

func isPartitionColumn(name string) bool { return slices.Contains(partitionColumns, name) }

// columnList is the activities schema's columns: see whTable.columnList.
func columnList(prefix string, skipPartition bool) string {
	return activitiesTable.columnList(prefix, skipPartition)
}

// columnList is dataset t's columns, comma separated, optionally qualified with prefix; with
// skipPartition, without the partition columns (what a Parquet file holds).
func (t *whTable) columnList(prefix string, skipPartition bool) string {
	names := make([]string, 0, len(t.columns))
	for _, c := range t.columns {
		if skipPartition && isPartitionColumn(c.Name) {
			continue
		}
		names = append(names, prefix+c.Name)
	}
	return strings.Join(names, ", ")
}

// tableKind says how the warehouse keeps a table's rows, and so which mechanisms cover it
// besides the migrations and verify's column check, which cover every table.
type tableKind string

const (
	// kindDataset: rows users query, kept in DuckDB and/or a day-partitioned Parquet copy under
	// parquetDir. Commit writes both; reconcile publishes pending days and removes files no
	// commit backs; compaction merges a day's files; verify compares the copies day by day and
	// repair rebuilds one from the other; the row schema has its own version (versionKey).
	kindDataset tableKind = "dataset"
	// kindIndex: derived from a dataset in the same transaction (the dedupe index, the staging
	// rows of --sink parquet, the days still to publish); verify checks it against the dataset
	// and repair rebuilds it.
	kindIndex tableKind = "index"
	// kindRejects: records that could not become rows, with an NDJSON copy per run
	// (rejected/<run>.ndjson) that Close and reconcile rewrite from DuckDB.
	kindRejects tableKind = "rejects"
	// kindBookkeeping: DuckDB only (meta, state, runs, commits, tenants, schema_migrations). A
	// rebuilt DuckDB file (RebuildDatabase) starts them over: the next scan of a filter starts
	// again from --since and skips what is stored (tenants is refilled from the rows).
	kindBookkeeping tableKind = "bookkeeping"
	// kindSummary: derived from a dataset's DuckDB rows per tenant and day, for the readers
	// alone (activity_firsts, see firsts.go). Every change to a day's rows unlists the day in
	// its own transaction, the next refresh rebuilds it, and readers take listed days only; a
	// rebuilt DuckDB file starts it empty, which readers take as nothing summarized.
	kindSummary tableKind = "summary"
)

// whTable is one table of the warehouse file (wh.<name>). Every table that holds per-tenant data
// has a tenant column (perTenant); a dataset's Parquet folder is partitioned by tenant, then day.
type whTable struct {
	name      string
	kind      tableKind
	perTenant bool
	// For datasets: the row schema version this mcasload writes, the meta keys recording the
	// version of the rows in DuckDB and that every Parquet file has it, and the Parquet folder.
	version                       int
	versionKey, parquetVersionKey string
	parquetDir                    string
	// For datasets: the row schema and its columns, the schema without the partition columns
	// (what a Parquet file holds), and the companion tables of the same kinds as activities':
	// the dedupe index (index), the rows of --sink parquet not yet published (staging), the
	// (day, commit) pairs still to publish (pending) and the records that could not become rows
	// (rejects, with their per-run NDJSON files under rejectsDir).
	rows                             *arrow.Schema
	columns                          []schema.Column
	fileRows                         *arrow.Schema
	index, staging, pending, rejects string
	rejectsDir                       string
	// keySQL is the SQL of a row's dedupe key over its columns, qualified by prefix ("a." or ""):
	// the text the index's id column holds; keyColumns are the row columns it is made of (keys
	// renders it in Go).
	keySQL     func(prefix string) string
	keyColumns []string
}

// newDataset completes a dataset's entry: its columns in Parquet files.
func newDataset(t whTable) whTable {
	var fields []arrow.Field
	for _, f := range t.rows.Fields() {
		if !isPartitionColumn(f.Name) {
			fields = append(fields, f)
		}
	}
	md := t.rows.Metadata()
	t.fileRows = arrow.NewSchema(fields, &md)
	return t
}

// activitiesTable is the activities dataset: schema.Columns, versioned by schema.Version, keyed
// by id.
var activitiesTable = newDataset(whTable{name: "activities", kind: kindDataset, perTenant: true, version: schema.Version,
	versionKey: "schema_version", parquetVersionKey: "parquet_schema_version", parquetDir: ParquetDir,
	rows: schema.Activities, columns: schema.Columns,
	index: "activity_ids", staging: "staging", pending: "pending", rejects: "rejected_activities", rejectsDir: RejectedDir,
	keySQL: func(p string) string { return p + "id" }, keyColumns: []string{"id"}})

// cloudAppEventsTable is the dataset of the Streaming API's CloudAppEvents lines
// (schema.CloudAppEvents), keyed by (report_id, ts) within a tenant (schema.CloudAppEventsKey, why
// in docs/streaming.md "The key"): the index's id is report_id, '|' and ts in epoch
// microseconds.
var cloudAppEventsTable = newDataset(whTable{name: "cloud_app_events", kind: kindDataset, perTenant: true,
	version: schema.CloudAppEventsVersion, versionKey: "cloud_app_events_schema_version",
	parquetVersionKey: "cloud_app_events_parquet_schema_version", parquetDir: CloudAppEventsParquetDir,
	rows: schema.CloudAppEvents, columns: schema.CloudAppEventsColumns,
	index: "cloud_app_event_keys", staging: "cloud_app_events_staging", pending: "cloud_app_events_pending",
	rejects: "rejected_cloud_app_events", rejectsDir: filepath.Join(RejectedDir, "cloud_app_events"),
	keySQL:     func(p string) string { return p + "report_id || '|' || CAST(epoch_us(" + p + "ts) AS VARCHAR)" },
	keyColumns: schema.CloudAppEventsKey})

// datasets are the warehouse's datasets, activities first; every dataset mechanism (commit,
// publish, reconcile, compaction, verify, repair, readers) covers each.
var datasets = []*whTable{&activitiesTable, &cloudAppEventsTable}

// datasetNamed is the dataset a Commit names ("" is activities).
func datasetNamed(name string) (*whTable, error) {
	if name == "" {
		return &activitiesTable, nil
	}
	for _, t := range datasets {
		if t.name == name {
			return t, nil
		}
	}
	return nil, fmt.Errorf("no dataset %q: use %s", name, strings.Join(datasetNames(), " or "))
}

func datasetNames() []string {
	out := make([]string, len(datasets))
	for i, t := range datasets {
		out[i] = t.name
	}
	return out
}

// fileScan is a SELECT of dataset t's file columns (no partition columns) over the Parquet files
// src (a read_parquet file argument), for rewriting them. Activities' files may mix schema
// versions: when one lacks a copy of raw, the scan computes it (anyVersionScan). Its per-file
// test costs a hash join per copy, a quarter of DuckDB's share of the budget when Close
// compacted a crowded day of a 5M warehouse, which ran out of memory; files that all hold every
// column (all files written since version 4) are read directly.
func (t *whTable) fileScan(ctx context.Context, conn *sql.Conn, src string) (string, error) {
	if t == &activitiesTable {
		old, err := oldFilesIn(ctx, conn, src)
		if err != nil {
			return "", err
		}
		if old {
			return anyVersionScan(src, "", ""), nil
		}
	}
	return fmt.Sprintf(`SELECT %s FROM read_parquet(%s, hive_partitioning = false, union_by_name = true)`, t.columnList("", true), src), nil
}

// col is the position of a column of dataset t's rows.
func (t *whTable) col(name string) int { return t.rows.FieldIndices(name)[0] }

// keys returns the dedupe key of each row of r (rows of dataset t), as keySQL renders it.
func (t *whTable) keys(r arrow.RecordBatch) func(i int) string {
	if len(t.keyColumns) == 1 {
		ids := r.Column(t.col(t.keyColumns[0])).(*array.String)
		return ids.Value
	}
	ids := r.Column(t.col(t.keyColumns[0])).(*array.String)
	ts := r.Column(t.col(t.keyColumns[1])).(*array.Timestamp)
	return func(i int) string { return ids.Value(i) + "|" + strconv.FormatInt(int64(ts.Value(i)), 10) }
}

// Table names of the dataset a Commit names (Commit.Table).
const (
	TableActivities     = "activities"
	TableCloudAppEvents = "cloud_app_events"
)

// warehouseTables lists every table the migrations create: a new table joins the warehouse by
// a migration that creates it and an entry here (TestEveryTableIsRegistered holds the two
// together); docs/design.md "How a new table joins the warehouse" says what else its kind needs.
var warehouseTables = []whTable{
	activitiesTable,
	{name: "activity_ids", kind: kindIndex, perTenant: true},
	{name: "staging", kind: kindIndex, perTenant: true},
	{name: "pending", kind: kindIndex, perTenant: true},
	{name: "rejected_activities", kind: kindRejects, perTenant: true},
	{name: "meta", kind: kindBookkeeping},
	{name: "state", kind: kindBookkeeping, perTenant: true},
	{name: "runs", kind: kindBookkeeping, perTenant: true},
	{name: "commits", kind: kindBookkeeping, perTenant: true},
	{name: "tenants", kind: kindBookkeeping, perTenant: true},
	{name: "horizons", kind: kindBookkeeping, perTenant: true},
	{name: "schema_migrations", kind: kindBookkeeping},
	cloudAppEventsTable,
	{name: "cloud_app_event_keys", kind: kindIndex, perTenant: true},
	{name: "cloud_app_events_staging", kind: kindIndex, perTenant: true},
	{name: "cloud_app_events_pending", kind: kindIndex, perTenant: true},
	{name: "rejected_cloud_app_events", kind: kindRejects, perTenant: true},
	{name: "findings", kind: kindFindings, perTenant: true},
	{name: "activity_firsts", kind: kindSummary, perTenant: true},
	{name: "activity_firsts_days", kind: kindSummary, perTenant: true},
}

// migrations are applied in order, each in its own transaction; schema_migrations records
// which ran. Append only: never edit a released migration. Migration 1 builds the tables from
// the current schema.Columns, so a migration that adds a column must tolerate finding it there.
var migrations = []string{
	// 1: the initial warehouse.
	`CREATE TABLE wh.meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL);
	 CREATE TABLE wh.activities (` + storedColumnDefs() + `);
	 -- The dedupe index: one row per stored id. h and rawsum are md5-based 64-bit hashes so
	 -- that finding re-delivered ids scans 8-byte integers instead of 64-character strings.
	 CREATE TABLE wh.activity_ids (h UBIGINT NOT NULL, id VARCHAR NOT NULL, day DATE NOT NULL, rawsum UBIGINT NOT NULL, seq BIGINT NOT NULL);
	 -- Rows committed but not yet in Parquet, kept only when DuckDB does not hold activities.
	 CREATE TABLE wh.staging (seq BIGINT NOT NULL, ` + storedColumnDefs() + `);
	 -- (day, commit) pairs still to publish to Parquet.
	 CREATE TABLE wh.pending (day DATE NOT NULL, seq BIGINT NOT NULL);
	 CREATE TABLE wh.commits (seq BIGINT PRIMARY KEY, run_id VARCHAR NOT NULL, committed_at TIMESTAMPTZ NOT NULL,
	   inserted BIGINT, duplicates BIGINT, conflicts BIGINT, rejected BIGINT, days VARCHAR[]);
	 CREATE TABLE wh.state (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL, updated TIMESTAMPTZ NOT NULL);
	 CREATE TABLE wh.runs (run_id VARCHAR PRIMARY KEY, command VARCHAR, source VARCHAR,
	   started TIMESTAMPTZ, finished TIMESTAMPTZ, commits BIGINT DEFAULT 0, inserted BIGINT DEFAULT 0,
	   duplicates BIGINT DEFAULT 0, conflicts BIGINT DEFAULT 0, rejected BIGINT DEFAULT 0, summary JSON);
	 -- raw is the record as text (invalid UTF-8 replaced); raw_bytes is exactly what was received.
	 CREATE TABLE wh.rejected_activities (id VARCHAR, raw VARCHAR USING COMPRESSION zstd, reason VARCHAR NOT NULL,
	   run_id VARCHAR NOT NULL, "at" TIMESTAMPTZ NOT NULL, raw_bytes BLOB);`,
	// 2: schema version 2, the parameters column (see migrate.go; the Parquet files follow in
	// Writer.migrateParquet).
	migrationAddParameters,
	// 3: schema version 3, tenants (see tenants.go; the Parquet files move in Writer.migrateLayout).
	migrationAddTenants,
	// 4: the tenant columns of rows are NOT NULL (DuckDB cannot add the constraint in the
	// transaction that filled them).
	migrationTenantsNotNull,
	// 5: the cloud_app_events dataset (the Streaming API's CloudAppEvents) and its companions,
	// shaped like activities' (the index's id is the (report_id, ts) key's text).
	`CREATE TABLE wh.cloud_app_events (` + cloudAppEventsTable.columnDDL(true) + `);
	 CREATE TABLE wh.cloud_app_event_keys (h UBIGINT NOT NULL, id VARCHAR NOT NULL, day DATE NOT NULL, rawsum UBIGINT NOT NULL, seq BIGINT NOT NULL, tenant VARCHAR NOT NULL);
	 CREATE TABLE wh.cloud_app_events_staging (seq BIGINT NOT NULL, ` + cloudAppEventsTable.columnDDL(true) + `);
	 CREATE TABLE wh.cloud_app_events_pending (day DATE NOT NULL, seq BIGINT NOT NULL, tenant VARCHAR NOT NULL);
	 CREATE TABLE wh.rejected_cloud_app_events (id VARCHAR, raw VARCHAR USING COMPRESSION zstd, reason VARCHAR NOT NULL,
	   run_id VARCHAR NOT NULL, "at" TIMESTAMPTZ NOT NULL, raw_bytes BLOB, tenant VARCHAR NOT NULL);
	 ALTER TABLE wh.cloud_app_events ALTER COLUMN tenant SET NOT NULL;
	 ALTER TABLE wh.cloud_app_events_staging ALTER COLUMN tenant SET NOT NULL;`,
	// 6: the findings of mcasload detect (findings.go).
	migrationFindings,
	// 7: each tenant's retention horizon (see prune.go).
	migrationAddHorizons,
	// 8: schema version 4, the columns copied from raw that investigations read (see migrate.go;
	// the Parquet files follow in Writer.migrateParquet).
	migrationAddRawCopies,
	// 9: the first times of (user, country, user agent, ISP) per tenant and day, and the days
	// they hold (see firsts.go).
	migrationAddFirsts,
}

// migrate brings the attached warehouse to the latest schema version. upgradeTenant is the label
// rows stored before tenants get (see upgradeLabel); a new warehouse has none to label.
func migrate(ctx context.Context, s *session, upgradeTenant string) error {
	if err := s.exec(ctx, `CREATE TABLE IF NOT EXISTS wh.schema_migrations (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ DEFAULT now())`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	var have int
	if err := s.conn.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM wh.schema_migrations`).Scan(&have); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if have > len(migrations) {
		return fmt.Errorf("read schema version: the warehouse has version %d but this mcasload knows only %d; upgrade mcasload", have, len(migrations))
	}
	if have < len(migrations) {
		// The migrations read the label as a session variable: they are SQL text, recorded once.
		if err := s.exec(ctx, `SET VARIABLE `+upgradeTenantVar+` = `+quoteString(upgradeTenant)); err != nil {
			return fmt.Errorf("migrate warehouse: %w", err)
		}
	}
	for v := have + 1; v <= len(migrations); v++ {
		if err := inTx(ctx, s, func() error {
			if err := s.exec(ctx, migrations[v-1]); err != nil {
				return err
			}
			return s.exec(ctx, `INSERT INTO wh.schema_migrations (version) VALUES (?)`, v)
		}); err != nil {
			return fmt.Errorf("migrate warehouse to version %d: %w", v, err)
		}
	}
	return nil
}

// inTx runs f between BEGIN and COMMIT on the session, rolling back on error.
func inTx(ctx context.Context, s *session, f func() error) error {
	if err := s.exec(ctx, "BEGIN TRANSACTION"); err != nil {
		return err
	}
	if err := f(); err != nil {
		_ = s.exec(context.WithoutCancel(ctx), "ROLLBACK")
		return err
	}
	return s.exec(ctx, "COMMIT")
}

// columnTypes maps table → column → DuckDB type.
type columnTypes map[string]map[string]string

// readColumns reads the columns of the tables of the database attached as wh.
func readColumns(ctx context.Context, conn *sql.Conn) (columnTypes, error) {
	out := columnTypes{}
	err := scanRows(ctx, conn, `SELECT table_name, column_name, data_type FROM duckdb_columns()
		WHERE database_name = 'wh' AND schema_name = 'main'`, func(r *sql.Rows) error {
		var t, c, typ string
		if err := r.Scan(&t, &c, &typ); err != nil {
			return err
		}
		if out[t] == nil {
			out[t] = map[string]string{}
		}
		out[t][c] = typ
		return nil
	})
	return out, err
}

// migratedColumns is what the migrations make of a new warehouse: the reference verify holds
// every table of a warehouse file to. It is computed once, on an in-memory database.
var migratedColumns = sync.OnceValues(func() (columnTypes, error) {
	ctx := context.Background()
	s, err := openSession(ctx, sessionConfig{memoryLimit: "256MB", threads: 1}, "", false)
	if err != nil {
		return nil, err
	}
	defer s.close()
	if err := s.exec(ctx, `ATTACH ':memory:' AS wh (STORAGE_VERSION `+quoteString(storageVersion)+`)`); err != nil {
		return nil, fmt.Errorf("attach reference warehouse: %w", err)
	}
	if err := migrate(ctx, s, tenant.Default); err != nil {
		return nil, err
	}
	return readColumns(ctx, s.conn)
})

// checkTables compares every registered table of the attached warehouse with what the
// migrations create, and says what differs: a missing table (then missing is true), or a
// column missing, extra or of another type (a file changed outside mcasload).
func checkTables(ctx context.Context, s *session) (problems []string, missing bool, err error) {
	want, err := migratedColumns()
	if err != nil {
		return nil, false, fmt.Errorf("check tables: %w", err)
	}
	got, err := readColumns(ctx, s.conn)
	if err != nil {
		return nil, false, fmt.Errorf("check tables: %w", err)
	}
	for _, t := range warehouseTables {
		have, ok := got[t.name]
		if !ok {
			problems = append(problems, fmt.Sprintf("table %s is missing", t.name))
			missing = true
			continue
		}
		for _, c := range slices.Sorted(maps.Keys(want[t.name])) {
			switch typ, ok := have[c]; {
			case !ok:
				problems = append(problems, fmt.Sprintf("table %s lacks column %s (%s)", t.name, c, want[t.name][c]))
			case typ != want[t.name][c]:
				problems = append(problems, fmt.Sprintf("table %s: column %s is %s, not %s", t.name, c, typ, want[t.name][c]))
			}
		}
		for _, c := range slices.Sorted(maps.Keys(have)) {
			if _, ok := want[t.name][c]; !ok {
				problems = append(problems, fmt.Sprintf("table %s has column %s, which no migration made", t.name, c))
			}
		}
	}
	return problems, missing, nil
}
