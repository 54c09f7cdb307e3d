package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/mcasload/mcasload/schema"
)

// parametersFromRaw is the SQL expression that computes the parameters column (schema version
// 2) from raw, as the converter does: the text of rawDataJson.Parameters when it is an array,
// else NULL. It serves migration 2, the rewrite of version 1 Parquet files, and readers of
// unmigrated data, so it is part of a released migration: never change it.
//
// The contains test spares the JSON parse for the records without parameters (most of them).
// Unlike the converter, DuckDB re-serialises the array (compact, escapes decoded), which differs
// from the received bytes only when the API sent whitespace or escapes inside it.
const parametersFromRaw = `CASE WHEN contains(raw, '"Parameters"') AND json_type(raw, '$.rawDataJson.Parameters') = 'ARRAY'
  THEN json_extract(raw, '$.rawDataJson.Parameters')::VARCHAR END`

// migrationAddParameters is migration 2: the parameters column, filled from raw. Migration 1
// builds the tables from schema.Columns, so a new warehouse has the column already: hence IF
// NOT EXISTS, and the UPDATEs touch no row there.
const migrationAddParameters = `
	ALTER TABLE wh.activities ADD COLUMN IF NOT EXISTS parameters VARCHAR;
	ALTER TABLE wh.staging ADD COLUMN IF NOT EXISTS parameters VARCHAR;
	UPDATE wh.activities SET parameters = ` + parametersFromRaw + ` WHERE parameters IS NULL AND contains(raw, '"Parameters"');
	UPDATE wh.staging SET parameters = ` + parametersFromRaw + ` WHERE parameters IS NULL AND contains(raw, '"Parameters"');
	UPDATE wh.meta SET value = '2' WHERE key = 'schema_version';`

// selectWithParameters is the schema's columns (without day when skipDay) with parameters
// computed by expr, for a source that may lack the column.
func selectWithParameters(skipDay bool, expr string) string {
	names := make([]string, 0, len(schema.Columns))
	for _, c := range schema.Columns {
		switch {
		case skipDay && c.Name == "day":
		case c.Name == "parameters":
			names = append(names, "("+expr+") AS parameters")
		default:
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ", ")
}

// anyVersionScan is a SELECT of the schema's columns (day from the folder name when hive) over
// the Parquet files src (a read_parquet file argument: a quoted glob or a list) that may mix
// schema versions: parameters is read from the files that have it and computed from raw for
// version 1 files, which therefore read raw (slower, but only until a writer migrates them).
// The empty typed relation gives the union a parameters column when no file has one.
func anyVersionScan(src string, hive bool) string {
	expr := fmt.Sprintf(`CASE WHEN filename IN (SELECT file_name FROM parquet_schema(%s) WHERE name = 'parameters') THEN parameters ELSE %s END`,
		src, parametersFromRaw)
	hiveOpts := "hive_partitioning = false"
	if hive {
		hiveOpts = "hive_partitioning = true, hive_types = {'day': DATE}"
	}
	return fmt.Sprintf(`SELECT %s FROM (SELECT * FROM read_parquet(%s, %s, union_by_name = true, filename = true)
		UNION ALL BY NAME SELECT NULL::VARCHAR AS parameters WHERE false)`,
		selectWithParameters(!hive, expr), src, hiveOpts)
}

// hasColumn reports whether a table has a column.
func hasColumn(ctx context.Context, conn *sql.Conn, database, table, column string) (bool, error) {
	var n int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' AND table_name = ? AND column_name = ?`,
		database, table, column).Scan(&n)
	return n > 0, err
}

// partsWithoutParameters returns the part files that lack the parameters column (written by
// schema version 1), and the ones whose schema could not be read.
func partsWithoutParameters(ctx context.Context, conn *sql.Conn, parts []partFile) (old, unreadable []string, err error) {
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		var has bool
		qerr := conn.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE name = 'parameters') > 0 FROM parquet_schema(?)`, p.path).Scan(&has)
		switch {
		case qerr != nil:
			unreadable = append(unreadable, p.path)
		case !has:
			old = append(old, p.path)
		}
	}
	return old, unreadable, nil
}

// migrateParquet rewrites the Parquet files written before schema version 2 with the
// parameters column computed from their raw. Each file is replaced atomically under its own
// name (a synced temporary file renamed over it), so a crash leaves every file either old or
// new; files are recognised by their columns, so a rerun skips the done ones and finishes the
// rest. When every file is new, the warehouse meta records it and later Opens skip the check.
// A file whose schema cannot be read (damaged) is left for verify and repair, and checked again
// at the next Open.
func (w *Writer) migrateParquet(ctx context.Context, s *session) error {
	var done string
	err := s.conn.QueryRowContext(ctx, `SELECT value FROM wh.meta WHERE key = ?`, activitiesTable.parquetVersionKey).Scan(&done)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("migrate parquet: read warehouse meta: %w", err)
	}
	if done == fmt.Sprint(activitiesTable.version) {
		return nil
	}
	parts, _, _, err := listParts(filepath.Join(w.dir, ParquetDir))
	if err != nil {
		return fmt.Errorf("migrate parquet: %w", err)
	}
	old, unreadable, err := partsWithoutParameters(ctx, s.conn, parts)
	if err != nil {
		return fmt.Errorf("migrate parquet: %w", err)
	}
	if len(old) > 0 {
		start := time.Now()
		w.log.Info("upgrading parquet files to schema version 2 (adding parameters); this runs once", "files", len(old))
		// No ORDER BY: sorting a compacted file would spill most of it. The parallel scan hands
		// each thread whole row groups, so a file sorted by ts keeps row groups of narrow ts
		// ranges. (preserve_insertion_order cannot be used: writeParquet caps row groups by bytes.)
		for i, path := range old {
			if i > 0 && i%50 == 0 {
				w.log.Info("upgrading parquet files", "done", i, "of", len(old), "took", time.Since(start).Round(time.Second))
			}
			q := fmt.Sprintf(`SELECT %s FROM read_parquet(%s, hive_partitioning = false)`,
				selectWithParameters(true, parametersFromRaw), quoteString(path))
			if err := w.writeParquet(ctx, s, filepath.Dir(path), filepath.Base(path), q, "migrate"); err != nil {
				return fmt.Errorf("migrate parquet: %w", err)
			}
		}
		w.log.Info("upgraded parquet files", "files", len(old), "took", time.Since(start).Round(time.Millisecond))
	}
	if len(unreadable) > 0 {
		w.log.Warn("parquet files whose schema cannot be read were not upgraded; run mcasload verify, then mcasload repair", "files", unreadable)
		return nil
	}
	// Not INSERT OR REPLACE: warehouses made by early builds have meta without its primary key.
	err = inTx(ctx, s, func() error {
		if err := s.exec(ctx, `DELETE FROM wh.meta WHERE key = ?`, activitiesTable.parquetVersionKey); err != nil {
			return err
		}
		return s.exec(ctx, `INSERT INTO wh.meta VALUES (?, ?)`, activitiesTable.parquetVersionKey, fmt.Sprint(activitiesTable.version))
	})
	if err != nil {
		return fmt.Errorf("migrate parquet: record warehouse meta: %w", err)
	}
	return privateFiles(filepath.Join(w.dir, DatabaseFile))
}
