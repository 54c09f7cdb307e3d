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

// The copies of raw schema version 4 added (modified_properties, aws_region, logon_type,
// mailbox_owner), computed from raw as the converter fills them, for migration 8, the rewrite of
// older Parquet files and readers of unmigrated data: part of a released migration, never change
// them. Each tests raw with contains first, which spares the JSON parse for the records without
// the key (most of them). Like parametersFromRaw, modified_properties is DuckDB's compact
// re-serialisation of the array; logon_type takes an integral number or numeric string in the
// INTEGER range, as the converter does.
const (
	modifiedPropertiesFromRaw = `CASE WHEN contains(raw, '"ModifiedProperties"') AND json_type(raw, '$.rawDataJson.ModifiedProperties') = 'ARRAY'
  THEN json_extract(raw, '$.rawDataJson.ModifiedProperties')::VARCHAR END`
	awsRegionFromRaw = `CASE WHEN contains(raw, '"awsRegion"') AND json_type(raw, '$.rawDataJson.awsRegion') = 'VARCHAR'
  THEN json_extract_string(raw, '$.rawDataJson.awsRegion') END`
	logonTypeFromRaw = `CASE WHEN contains(raw, '"LogonType"') AND json_type(raw, '$.rawDataJson.LogonType') IN ('BIGINT', 'UBIGINT', 'DOUBLE', 'VARCHAR')
  THEN list_transform([TRY_CAST(json_extract_string(raw, '$.rawDataJson.LogonType') AS DOUBLE)],
                      lambda d: CASE WHEN d = trunc(d) AND d BETWEEN -2147483648 AND 2147483647 THEN d::INTEGER END)[1] END`
	mailboxOwnerFromRaw = `CASE WHEN contains(raw, '"MailboxOwnerUPN"') AND json_type(raw, '$.rawDataJson.MailboxOwnerUPN') = 'VARCHAR'
  THEN json_extract_string(raw, '$.rawDataJson.MailboxOwnerUPN') END`
)

// rawCopy is a column that copies a part of raw: its type, the key of rawDataJson it copies,
// and the SQL expression computing it from raw for the rows and files written before it existed.
type rawCopy struct{ name, sqlType, key, fromRaw string }

// rawCopies are the activities columns copied out of raw: schema version 2's parameters and
// version 4's four.
var rawCopies = []rawCopy{
	{"parameters", "VARCHAR", "Parameters", parametersFromRaw},
	{"modified_properties", "VARCHAR", "ModifiedProperties", modifiedPropertiesFromRaw},
	{"aws_region", "VARCHAR", "awsRegion", awsRegionFromRaw},
	{"logon_type", "INTEGER", "LogonType", logonTypeFromRaw},
	{"mailbox_owner", "VARCHAR", "MailboxOwnerUPN", mailboxOwnerFromRaw},
}

// migrationAddRawCopies is migration 8: schema version 4's copies of raw, filled from raw.
// Migration 1 builds the tables from schema.Columns, so a new warehouse has the columns already:
// hence IF NOT EXISTS, and the UPDATEs touch no row there.
var migrationAddRawCopies = func() string {
	var b strings.Builder
	for _, t := range []string{"activities", "staging"} {
		var set, keys []string
		for _, c := range rawCopies[1:] {
			fmt.Fprintf(&b, "ALTER TABLE wh.%s ADD COLUMN IF NOT EXISTS %s %s;\n", t, c.name, c.sqlType)
			set = append(set, c.name+" = "+c.fromRaw)
			keys = append(keys, fmt.Sprintf(`contains(raw, '"%s"')`, c.key))
		}
		fmt.Fprintf(&b, "UPDATE wh.%s SET %s WHERE %s;\n", t, strings.Join(set, ", "), strings.Join(keys, " OR "))
	}
	b.WriteString("UPDATE wh.meta SET value = '4' WHERE key = 'schema_version';")
	return b.String()
}()

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
// file argument: a quoted glob or a list) that may mix schema versions: each copy of raw
// (rawCopies) is read from the files that have it and computed from raw for older files, which
// therefore read raw (slower, but only until a writer migrates them). The empty typed relation
// gives the union every copy's column when no file has it. With hive (a read_parquet hive option
// list) the partition columns come from the folder names and tenant is tenantExpr; without, the
// result has no partition columns (what a Parquet file holds).
func anyVersionScan(src, hive, tenantExpr string) string {
	expr := map[string]string{}
	empty := make([]string, len(rawCopies))
	for i, c := range rawCopies {
		expr[c.name] = fmt.Sprintf(`CASE WHEN filename IN (SELECT file_name FROM parquet_schema(%s) WHERE name = '%s') THEN %s ELSE %s END`,
			src, c.name, c.name, c.fromRaw)
		empty[i] = "NULL::" + c.sqlType + " AS " + c.name
	}
	opts := "hive_partitioning = false"
	if hive != "" {
		opts = hive
		expr["tenant"] = tenantExpr
	}
	return fmt.Sprintf(`SELECT %s FROM (SELECT * FROM read_parquet(%s, %s, union_by_name = true, filename = true)
		UNION ALL BY NAME SELECT %s WHERE false)`,
		selectColumns(hive == "", expr), src, opts, strings.Join(empty, ", "))
}

// hasColumn reports whether a table has a column.
func hasColumn(ctx context.Context, conn *sql.Conn, database, table, column string) (bool, error) {
	var n int
	err := conn.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_columns() WHERE database_name = ? AND schema_name = 'main' AND table_name = ? AND column_name = ?`,
		database, table, column).Scan(&n)
	return n > 0, err
}

// missingCopies returns, for the columns of rawCopies a table lacks (a warehouse no writer has
// opened since they were added), the expressions computing them from raw.
func missingCopies(ctx context.Context, conn *sql.Conn, database, table string) (map[string]string, error) {
	expr := map[string]string{}
	for _, c := range rawCopies {
		has, err := hasColumn(ctx, conn, database, table, c.name)
		if err != nil {
			return nil, err
		}
		if !has {
			expr[c.name] = c.fromRaw
		}
	}
	return expr, nil
}

// oldPart is a part file written before some copies of raw existed, with the expressions that
// compute the ones it lacks.
type oldPart struct {
	path    string
	missing map[string]string
}

// partsWithoutCopies returns the part files that lack a column of rawCopies (written by schema
// version 1, 2 or 3), and the ones whose schema could not be read.
func partsWithoutCopies(ctx context.Context, conn *sql.Conn, parts []partFile) (old []oldPart, unreadable []string, err error) {
	for _, p := range parts {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		var names []any
		qerr := conn.QueryRowContext(ctx, `SELECT list(name) FROM parquet_schema(?)`, p.path).Scan(&names)
		if qerr != nil {
			unreadable = append(unreadable, p.path)
			continue
		}
		have := map[string]bool{}
		for _, n := range names {
			if s, ok := n.(string); ok {
				have[s] = true
			}
		}
		missing := map[string]string{}
		for _, c := range rawCopies {
			if !have[c.name] {
				missing[c.name] = c.fromRaw
			}
		}
		if len(missing) > 0 {
			old = append(old, oldPart{p.path, missing})
		}
	}
	return old, unreadable, nil
}

// migrateParquet upgrades the Parquet files of an older warehouse: it rewrites the files written
// before schema version 4 with the copies of raw they lack computed from their raw, then moves the
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
	old, unreadable, err := partsWithoutCopies(ctx, s.conn, parts)
	if err != nil {
		return fmt.Errorf("migrate parquet: %w", err)
	}
	if len(old) > 0 {
		start := time.Now()
		w.log.Info(fmt.Sprintf("upgrading parquet files to schema version %d (adding the columns copied from raw); this runs once", activitiesTable.version), "files", len(old))
		// No ORDER BY: sorting a compacted file would spill most of it. The parallel scan hands
		// each thread whole row groups, so a file sorted by ts keeps row groups of narrow ts
		// ranges. (preserve_insertion_order cannot be used: writeParquet caps row groups by bytes.)
		for i, p := range old {
			if i > 0 && i%50 == 0 {
				w.log.Info("upgrading parquet files", "done", i, "of", len(old), "took", time.Since(start).Round(time.Second))
			}
			q := fmt.Sprintf(`SELECT %s FROM read_parquet(%s, hive_partitioning = false)`,
				selectColumns(true, p.missing), quoteString(p.path))
			if err := w.writeParquet(ctx, s, &activitiesTable, filepath.Dir(p.path), filepath.Base(p.path), q, "migrate"); err != nil {
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
