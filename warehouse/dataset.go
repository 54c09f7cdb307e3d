package warehouse

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mcasload/mcasload/tenant"
)

// datasetSource is one read_parquet of a dataset: a list of globs that share a layout.
type datasetSource struct {
	globs []string
	hive  string // the read_parquet hive options
	// tenantExpr is the SQL of the tenant column: the folder name (tenant) or a label literal.
	tenantExpr string
}

func (d datasetSource) arg() string { return fileList(d.globs) }

// datasetSources lists what a reader reads of the dataset of layout l for the tenants of
// selection (every tenant when nil): the tenant folders (the tenant from the folder name), a
// handed-over tenant folder, and day folders from before tenants (labelled legacyTenant). Only
// globs that match a file are listed (read_parquet refuses one that matches none).
func datasetSources(l datasetLayout, legacyTenant string, selection []string) []datasetSource {
	var out []datasetSource
	matches := func(glob string) bool {
		m, _ := filepath.Glob(glob)
		return len(m) > 0
	}
	var globs []string
	for _, t := range l.tenants {
		g := filepath.Join(l.root, tenantPrefix+t, dayPrefix+"*", "*.parquet")
		if tenant.Selected(selection, t) && matches(g) {
			globs = append(globs, g)
		}
	}
	if len(globs) > 0 {
		out = append(out, datasetSource{globs: globs, hive: "hive_partitioning = true, hive_types = {'day': DATE, 'tenant': VARCHAR}", tenantExpr: "tenant"})
	}
	oneFolder := func(label string) {
		g := filepath.Join(l.root, dayPrefix+"*", "*.parquet")
		if tenant.Selected(selection, label) && matches(g) {
			out = append(out, datasetSource{globs: []string{g}, hive: "hive_partitioning = true, hive_types = {'day': DATE}", tenantExpr: quoteString(label)})
		}
	}
	switch {
	case l.handedOver != "":
		oneFolder(l.handedOver)
	case l.legacy:
		oneFolder(legacyTenant)
	}
	return out
}

// datasetScan is the SELECT of dataset t's columns over sources; with old (some activities file
// predates schema version 4) the copies of raw are computed from raw for the files that lack
// them. ok is false when there is nothing to read.
func datasetScan(t *whTable, sources []datasetSource, old bool) (q string, ok bool) {
	var parts []string
	for _, src := range sources {
		if old {
			parts = append(parts, anyVersionScan(src.arg(), src.hive, src.tenantExpr))
			continue
		}
		parts = append(parts, fmt.Sprintf(`SELECT %s FROM read_parquet(%s, %s)`,
			t.selectColumns(false, map[string]string{"tenant": src.tenantExpr}), src.arg(), src.hive))
	}
	return strings.Join(parts, "\nUNION ALL "), len(parts) > 0
}

// hasOldFiles reports whether a file of sources lacks a copy of raw (rawCopies: schema version
// 1, 2 or 3).
func hasOldFiles(ctx context.Context, conn *sql.Conn, sources []datasetSource) (bool, error) {
	for _, src := range sources {
		if old, err := oldFilesIn(ctx, conn, src.arg()); err != nil || old {
			return old, err
		}
	}
	return false, nil
}

// oldFilesIn reports whether a file of files (a read_parquet file argument) lacks a copy of raw.
func oldFilesIn(ctx context.Context, conn *sql.Conn, files string) (bool, error) {
	names := make([]string, len(rawCopies))
	for i, c := range rawCopies {
		names[i] = quoteString(c.name)
	}
	var old int
	err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT file_name FROM parquet_schema(%s)
		GROUP BY file_name HAVING count(DISTINCT name) FILTER (WHERE name IN (%s)) < %d)`, files, strings.Join(names, ", "), len(rawCopies))).Scan(&old)
	if err != nil {
		return false, fmt.Errorf("read parquet schemas: %w", err)
	}
	return old > 0, nil
}

// readDataset is the SELECT of dataset t's columns over its Parquet files of layout l, for the
// tenants of selection, as datasetScan; ok is false when it holds no file.
func readDataset(ctx context.Context, conn *sql.Conn, t *whTable, l datasetLayout, legacyTenant string, selection []string) (string, bool, error) {
	sources := datasetSources(l, legacyTenant, selection)
	old := false
	if t == &activitiesTable {
		var err error
		if old, err = hasOldFiles(ctx, conn, sources); err != nil {
			return "", false, err
		}
	}
	q, ok := datasetScan(t, sources, old)
	return q, ok, nil
}
