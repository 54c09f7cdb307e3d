package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/mcasload/mcasload/schema"
	"github.com/mcasload/mcasload/tenant"
)

// columnDefs is the DDL column list of the activities table, in schema order.
func columnDefs() string { return columnDDL(false) }

// storedColumnDefs is columnDefs for tables in the warehouse file: raw, most of a row's bytes,
// is compressed with zstd (about 6× smaller than DuckDB's default for JSON text, and faster to
// write), which needs the file's storage version to be at least v1.2 (see storageVersion).
func storedColumnDefs() string { return columnDDL(true) }

func columnDDL(stored bool) string {
	var b strings.Builder
	for i, c := range schema.Columns {
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

// columnList is the schema's columns, comma separated, optionally qualified with prefix; with
// skipPartition, without the partition columns (what a Parquet file holds).
func columnList(prefix string, skipPartition bool) string {
	names := make([]string, 0, len(schema.Columns))
	for _, c := range schema.Columns {
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
}

// activitiesTable is the activities dataset: schema.Columns, versioned by schema.Version.
var activitiesTable = whTable{name: "activities", kind: kindDataset, perTenant: true, version: schema.Version,
	versionKey: "schema_version", parquetVersionKey: "parquet_schema_version", parquetDir: ParquetDir}

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
	// 5: each tenant's retention horizon (see prune.go).
	migrationAddHorizons,
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
