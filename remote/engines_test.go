package remote_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/objstore/objstoretest"
	"github.com/mcasload/mcasload/remote"
)

// column is a column name and its type as DuckDB names it, the common language the engines'
// types are translated into.
type column struct{ name, typ string }

// publishedSchema pushes a warehouse to Azurite, syncs it back, and returns the activities
// dataset's columns as DuckDB reads the downloaded files (partition folders included), with the
// copy's folder.
func publishedSchema(t *testing.T, db *sql.DB) ([]column, string) {
	t.Helper()
	h := sharedHistory(t)
	srv, _ := objstoretest.Azurite(t)
	st := srv.Open(t, "schema")
	if _, err := remote.Publish(t.Context(), st, h.get("compact3").dir, remote.FileLedger{Path: filepath.Join(t.TempDir(), "s.json")}, remote.Options{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	copyDir := filepath.Join(t.TempDir(), "copy")
	if _, err := remote.Sync(t.Context(), st, copyDir, remote.SyncOptions{Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	glob := filepath.Join(copyDir, remote.DatasetDir, "activities", "*", "*", "*.parquet")
	rows, err := db.Query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(?, hive_partitioning = true, hive_types = {'day': DATE, 'tenant': VARCHAR}))`, glob)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var cols []column
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		cols = append(cols, c)
	}
	if err := rows.Err(); err != nil || len(cols) < 20 {
		t.Fatalf("published schema: %v, %v", cols, err)
	}
	return cols, copyDir
}

// TestPublishedFilesReadByDuckDB: the downloaded files read by DuckDB give, per day, the rows
// the warehouse's DuckDB file holds, each id once, with the warehouse's column types; and their
// Parquet types are the ones docs/publish.md promises engines (UTC-adjusted INT64 timestamps,
// 3-level lists, no unsigned integers, no INT96).
func TestPublishedFilesReadByDuckDB(t *testing.T) {
	h := sharedHistory(t)
	db := duck(t)
	cols, copyDir := publishedSchema(t, db)
	if _, err := db.Exec(fmt.Sprintf(`ATTACH '%s' AS wh (READ_ONLY)`, filepath.Join(h.warehouse, "mcasload.duckdb"))); err != nil {
		t.Fatal(err)
	}
	defer db.Exec(`DETACH wh`)
	want := map[string][2]int{}
	rows, err := db.Query(`SELECT strftime(day, '%Y-%m-%d'), count(*), count(DISTINCT id) FROM wh.activities GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var d string
		var n, ids int
		if err := rows.Scan(&d, &n, &ids); err != nil {
			t.Fatal(err)
		}
		want[d] = [2]int{n, ids}
	}
	rows.Close()
	if got := dayCounts(t, db, filepath.Join(copyDir, remote.DatasetDir)); !sameDays(got, want) {
		t.Errorf("rows and ids per day: published %v, warehouse %v", got, want)
	}
	var whCols []column
	rows, err = db.Query(`SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = 'wh' AND table_name = 'activities' ORDER BY column_index`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		whCols = append(whCols, c)
	}
	rows.Close()
	if !sameColumns(cols, whCols) {
		t.Errorf("published columns %v\nwarehouse columns %v", cols, whCols)
	}
	checkParquetTypes(t, db, filepath.Join(copyDir, remote.DatasetDir, "activities", "*", "*", "*.parquet"))
}

func sameColumns(a, b []column) bool {
	as, bs := slices.Clone(a), slices.Clone(b)
	cmp := func(x, y column) int { return strings.Compare(x.name, y.name) }
	slices.SortFunc(as, cmp)
	slices.SortFunc(bs, cmp)
	return slices.Equal(as, bs)
}

// checkParquetTypes reads the files' Parquet schemas.
func checkParquetTypes(t *testing.T, db *sql.DB, glob string) {
	t.Helper()
	rows, err := db.Query(`SELECT DISTINCT name, type, coalesce(converted_type, ''), coalesce(logical_type, ''), repetition_type FROM parquet_schema(?)`, glob)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	timestamps, lists := 0, 0
	for rows.Next() {
		var name, typ, converted, logical, rep string
		var ptyp sql.NullString
		if err := rows.Scan(&name, &ptyp, &converted, &logical, &rep); err != nil {
			t.Fatal(err)
		}
		typ = ptyp.String
		switch {
		case strings.HasPrefix(converted, "UINT") || strings.Contains(logical, "isSigned=0"):
			t.Errorf("%s: unsigned type %s %s", name, converted, logical)
		case typ == "INT96":
			t.Errorf("%s: INT96 timestamp", name)
		case strings.HasPrefix(converted, "TIMESTAMP"):
			timestamps++
			if typ != "INT64" || !strings.Contains(logical, "isAdjustedToUTC=1") {
				t.Errorf("%s: timestamp %s %s, want INT64 adjusted to UTC", name, typ, logical)
			}
		case converted == "LIST":
			lists++
		case rep == "REPEATED" && name != "list":
			t.Errorf("%s: a repeated field outside a 3-level list", name)
		}
	}
	if timestamps != 2 || lists != 1 {
		t.Errorf("found %d timestamp and %d list columns, want 2 and 1", timestamps, lists)
	}
}

// engineTypes translates each engine's type names (lowercased) into DuckDB's.
var engineTypes = map[string]map[string]string{
	"spark": {"string": "VARCHAR", "timestamp": "TIMESTAMP WITH TIME ZONE", "int": "INTEGER", "double": "DOUBLE",
		"boolean": "BOOLEAN", "array<string>": "VARCHAR[]", "date": "DATE"},
	"trino": {"varchar": "VARCHAR", "timestamp(3)": "TIMESTAMP WITH TIME ZONE", "integer": "INTEGER", "double": "DOUBLE",
		"boolean": "BOOLEAN", "array(varchar)": "VARCHAR[]", "date": "DATE"},
	// ADX's datetime is an instant; the virtual day column, a datetime at midnight, is the date.
	"adx": {"string": "VARCHAR", "datetime": "TIMESTAMP WITH TIME ZONE", "int": "INTEGER", "real": "DOUBLE",
		"bool": "BOOLEAN", "dynamic": "VARCHAR[]", "datetime partition": "DATE", "string partition": "VARCHAR"},
}

// TestEngineStatementsMatchPublishedSchema reads each external-table statement in
// docs/publish.md and checks its columns (names, types, partition columns) against the schema of
// the files a push publishes. The statements themselves were not run: no engine is installed.
func TestEngineStatementsMatchPublishedSchema(t *testing.T) {
	cols, _ := publishedSchema(t, duck(t))
	doc, err := os.ReadFile(filepath.Join("..", "docs", "publish.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```(sql spark|sql databricks|sql trino|kusto adx)\n(.*?)```").FindAllStringSubmatch(string(doc), -1)
	seen := map[string]bool{}
	for _, b := range blocks {
		engine := strings.Fields(b[1])[1]
		seen[engine] = true
		dialect := engine
		if dialect == "databricks" {
			dialect = "spark"
		}
		got, partitions, err := statementColumns(dialect, b[2])
		if err != nil {
			t.Errorf("%s: %v", engine, err)
			continue
		}
		if !sameColumns(got, cols) {
			t.Errorf("%s statement's columns differ from the published files':\nstatement %v\npublished %v", engine, got, cols)
		}
		if !slices.Equal(partitions, []string{"tenant", "day"}) {
			t.Errorf("%s: partition columns %v, want [tenant day] (the tenant= and day= folders)", engine, partitions)
		}
		if dialect == "trino" && (got[len(got)-2].name != "tenant" || got[len(got)-1].name != "day") {
			t.Errorf("trino: the partition columns must come last, in the folders' order")
		}
	}
	for _, e := range []string{"spark", "databricks", "trino", "adx"} {
		if !seen[e] {
			t.Errorf("docs/publish.md has no %s statement", e)
		}
	}
}

var (
	sparkPartitionRE = regexp.MustCompile(`(?i)PARTITIONED BY \(([^)]*)\)`)
	trinoPartitionRE = regexp.MustCompile(`(?i)partitioned_by = ARRAY\[([^\]]*)\]`)
	adxPartitionRE   = regexp.MustCompile(`(?i)partition by \(([^)]*)\)`)
)

// statementColumns parses a CREATE statement's column list into DuckDB types, and names its
// partition columns.
func statementColumns(dialect, stmt string) ([]column, []string, error) {
	open := strings.Index(stmt, "(")
	if open < 0 {
		return nil, nil, fmt.Errorf("no column list")
	}
	body, _, ok := cutBalanced(stmt[open+1:])
	if !ok {
		return nil, nil, fmt.Errorf("unbalanced column list")
	}
	var cols []column
	for _, item := range splitTop(body) {
		name, typ, err := splitColumn(dialect, item)
		if err != nil {
			return nil, nil, err
		}
		duck, ok := engineTypes[dialect][strings.ToLower(typ)]
		if !ok {
			return nil, nil, fmt.Errorf("column %s: type %q is not one the published files map to", name, typ)
		}
		cols = append(cols, column{name, duck})
	}
	var partitions []string
	switch dialect {
	case "spark":
		if m := sparkPartitionRE.FindStringSubmatch(stmt); m != nil {
			partitions = trimAll(strings.Split(m[1], ","), " ")
		}
	case "trino":
		if m := trinoPartitionRE.FindStringSubmatch(stmt); m != nil {
			partitions = trimAll(strings.Split(m[1], ","), " '")
		}
	case "adx":
		// Virtual columns: named in partition by, not in the schema.
		if m := adxPartitionRE.FindStringSubmatch(stmt); m != nil {
			for _, p := range splitTop(m[1]) {
				name, typ, err := splitColumn("adx", p)
				if err != nil {
					return nil, nil, err
				}
				partitions = append(partitions, name)
				cols = append(cols, column{name, engineTypes["adx"][strings.ToLower(typ)+" partition"]})
			}
		}
	}
	return cols, partitions, nil
}

func splitColumn(dialect, item string) (string, string, error) {
	item = strings.TrimSpace(item)
	var name, typ string
	var ok bool
	if dialect == "adx" {
		name, typ, ok = strings.Cut(item, ":")
	} else {
		name, typ, ok = strings.Cut(item, " ")
	}
	if !ok {
		return "", "", fmt.Errorf("column %q has no type", item)
	}
	return strings.TrimSpace(name), strings.TrimSpace(typ), nil
}

// cutBalanced returns s up to the parenthesis that closes an already opened one.
func cutBalanced(s string) (string, string, bool) {
	depth := 1
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
			if depth == 0 {
				return s[:i], s[i+1:], true
			}
		}
	}
	return "", "", false
}

// splitTop splits on commas outside (), <> and [].
func splitTop(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(', '<', '[':
			depth++
		case ')', '>', ']':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func trimAll(items []string, cut string) []string {
	for i := range items {
		items[i] = strings.Trim(items[i], cut)
	}
	return items
}
