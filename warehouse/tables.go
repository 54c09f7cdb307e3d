package warehouse

import (
	"context"
	"fmt"
	"strings"

	"github.com/mcasload/mcasload/schema"
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

// columnList is the schema's columns, comma separated, optionally qualified with prefix.
func columnList(prefix string, skipDay bool) string {
	names := make([]string, 0, len(schema.Columns))
	for _, c := range schema.Columns {
		if skipDay && c.Name == "day" {
			continue
		}
		names = append(names, prefix+c.Name)
	}
	return strings.Join(names, ", ")
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
}

// migrate brings the attached warehouse to the latest schema version.
func migrate(ctx context.Context, s *session) error {
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
