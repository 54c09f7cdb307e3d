package warehouse

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
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

// selectColumns is the schema's columns (without the partition columns when skipPartition), with
// expressions in place of the ones expr names (column → SQL expression).
func selectColumns(skipPartition bool, expr map[string]string) string {
	return activitiesTable.selectColumns(skipPartition, expr)
}

// selectColumns is dataset t's columns for a SELECT list, each from the expression expr gives
// it or as itself; with skipPartition, without the partition columns.
func (t *whTable) selectColumns(skipPartition bool, expr map[string]string) string {
	names := make([]string, 0, len(t.columns))
	for _, c := range t.columns {
		switch e, ok := expr[c.Name]; {
		case skipPartition && isPartitionColumn(c.Name):
		case ok:
			names = append(names, "("+e+") AS "+c.Name)
		default:
			names = append(names, c.Name)
		}
	}
	return strings.Join(names, ", ")
}

// anyVersionScan is a SELECT of the schema's columns over the Parquet files src (a read_parquet
// file argument: a quoted glob or a list) that may mix schema versions: parameters is read from
// the files that have it and computed from raw for version 1 files, which therefore read raw
// (slower, but only until a writer migrates them). The empty typed relation gives the union a
// parameters column when no file has one. With hive (a read_parquet hive option list) the
// partition columns come from the folder names and tenant is tenantExpr; without, the result has
// no partition columns (what a Parquet file holds).
func anyVersionScan(src, hive, tenantExpr string) string {
	expr := map[string]string{"parameters": fmt.Sprintf(`CASE WHEN filename IN (SELECT file_name FROM parquet_schema(%s) WHERE name = 'parameters') THEN parameters ELSE %s END`,
		src, parametersFromRaw)}
	opts := "hive_partitioning = false"
	if hive != "" {
		opts = hive
		expr["tenant"] = tenantExpr
	}
	return fmt.Sprintf(`SELECT %s FROM (SELECT * FROM read_parquet(%s, %s, union_by_name = true, filename = true)
		UNION ALL BY NAME SELECT NULL::VARCHAR AS parameters WHERE false)`,
		selectColumns(hive == "", expr), src, opts)
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

// migrateParquet upgrades the Parquet files of an older warehouse: it rewrites the files written
// before schema version 2 with the parameters column computed from their raw, then moves the
// files written before version 3 into their tenant's folder (migrateLayout). Each file is replaced atomically under its own
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
	parts, _, _, err := listParts(filepath.Join(w.dir, ParquetDir), w.legacyTenant)
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
				selectColumns(true, map[string]string{"parameters": parametersFromRaw}), quoteString(path))
			if err := w.writeParquet(ctx, s, &activitiesTable, filepath.Dir(path), filepath.Base(path), q, "migrate"); err != nil {
				return fmt.Errorf("migrate parquet: %w", err)
			}
		}
		w.log.Info("upgraded parquet files", "files", len(old), "took", time.Since(start).Round(time.Millisecond))
	}
	if err := w.migrateLayout(ctx, parts); err != nil {
		return fmt.Errorf("migrate parquet: %w", err)
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

// migrateLayout moves the Parquet files of the layout before tenants (<root>/day=D/part-…) into
// their tenant's folder (<root>/tenant=<label>/day=D/part-…), the label being the one migration
// 3 gave their rows (meta upgrade_tenant). The file's bytes do not change (the tenant comes from
// the folder name, like the day), so a move is a rename within the dataset: atomic, with both
// folders synced after it, so a crash leaves each file in one place or the other, never in both
// or neither, and a rerun moves the rest. The tenant folder is created and synced before the
// first move, so a reader of a half-moved dataset knows whose the remaining files are.
func (w *Writer) migrateLayout(ctx context.Context, parts []partFile) error {
	root := filepath.Join(w.dir, ParquetDir)
	var legacy []partFile
	for _, p := range parts {
		if p.legacy {
			legacy = append(legacy, p)
		}
	}
	if len(legacy) > 0 {
		start := time.Now()
		w.log.Info("moving parquet files into the tenant layout (tenant=<label>/day=…); this runs once", "tenant", w.legacyTenant, "files", len(legacy))
		if err := mkdirAll(filepath.Join(root, tenantPrefix+w.legacyTenant)); err != nil {
			return fmt.Errorf("create tenant folder: %w", err)
		}
		if err := syncDir(root); err != nil {
			return err
		}
		for _, p := range legacy {
			if err := ctx.Err(); err != nil {
				return err
			}
			dst := w.partDir(&activitiesTable, p.partition)
			if err := mkdirAll(dst); err != nil {
				return fmt.Errorf("create %s: %w", dst, err)
			}
			if err := syncDir(filepath.Dir(dst)); err != nil {
				return err
			}
			failpoint.Hit("layout-before-rename")
			if err := os.Rename(p.path, filepath.Join(dst, filepath.Base(p.path))); err != nil {
				return fmt.Errorf("move %s into %s: %w", p.path, dst, err)
			}
			if err := errors.Join(syncDir(dst), syncDir(filepath.Dir(p.path))); err != nil {
				return err
			}
			failpoint.Hit("layout-after-rename")
		}
		w.log.Info("moved parquet files into the tenant layout", "files", len(legacy), "took", time.Since(start).Round(time.Millisecond))
	}
	// The day folders left empty (a folder that still holds a file nobody wrote stays, and
	// verify names the file).
	days, _ := filepath.Glob(filepath.Join(root, dayPrefix+"*"))
	for _, d := range days {
		if err := os.Remove(d); err != nil && !errors.Is(err, os.ErrNotExist) && !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("remove the emptied folder %s: %w", d, err)
		}
	}
	if len(days) > 0 {
		return syncDir(root)
	}
	return nil
}
