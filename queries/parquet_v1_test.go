package queries

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/tenant"
	"github.com/mcasload/mcasload/warehouse"
)

// parquetWarehouse loads a generated tenant into a Parquet-only warehouse and returns its
// Parquet folder.
func parquetWarehouse(t *testing.T, cfg synth.Config) (string, synth.GroundTruth) {
	t.Helper()
	ten := synth.New(cfg)
	dir := filepath.Join(t.TempDir(), "wh")
	commitTenant(t, ten, dir, warehouse.SinkParquet)
	return filepath.Join(dir, warehouse.ParquetDir), ten.GroundTruth()
}

// copyAsV1 copies the Parquet dataset of tenant default the way schema version 1 wrote it: no
// parameters column, no tenant folder.
func copyAsV1(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "v1")
	db := copyAsVersion(t, from, to, 1, "parameters")
	defer db.Close()
	var n int
	if err := db.QueryRow(fmt.Sprintf(`SELECT count(*) FROM parquet_schema('%s') WHERE name = 'parameters'`,
		filepath.Join(to, "day=*", "*.parquet"))).Scan(&n); err != nil || n != 0 {
		t.Fatalf("the v1 copy has %d parameters columns (%v)", n, err)
	}
	return to
}

// parquetSession opens a locked query session over a bare Parquet folder, as --parquet does.
func parquetSession(t *testing.T, dir string) *Session {
	t.Helper()
	r, err := warehouse.OpenParquetReader(t.Context(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	s, err := Open(t.Context(), r.Conn(), Lockdown{AllowedDirectories: []string{dir + string(filepath.Separator)}})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestV1ParquetFolderGivesTheSameResults: a colleague's Parquet folder written before schema
// version 2 (no parameters column, nobody upgraded it) gives the mail investigations the same
// answers as the upgraded data, and both find the planted incidents.
func TestV1ParquetFolderGivesTheSameResults(t *testing.T) {
	v2, truth := parquetWarehouse(t, synth.Config{Seed: 1, Users: 40, Days: 8, End: synthEnd, Incidents: true})
	v1 := copyAsV1(t, v2)
	s2, s1 := parquetSession(t, v2), parquetSession(t, v1)
	for _, name := range []string{"mail-forwarding", "inbox-manipulation-rules"} {
		t.Run(name, func(t *testing.T) {
			got2, got1 := runResult(t, s2, name, nil), runResult(t, s1, name, nil)
			if len(got2.rows) == 0 {
				t.Fatalf("no rows on the upgraded data: the comparison would prove nothing")
			}
			if !reflect.DeepEqual(got1.rows, got2.rows) {
				t.Errorf("v1 folder:\n%s\nupgraded folder:\n%s", got1.table, got2.table)
			}
			for _, inc := range truth.Incidents {
				if inc.Kind != name || inc.Decoy {
					continue
				}
				found := false
				for _, row := range got1.rows {
					found = found || mentions(row, inc.User)
				}
				if !found {
					t.Errorf("the v1 folder's result lacks the incident's user %s:\n%s", inc.User, got1.table)
				}
			}
		})
	}
}

// copyWithoutRawCopies copies the Parquet dataset of tenant default the way schema version 3
// wrote it: parameters but none of version 4's copies of raw (modified_properties, aws_region,
// logon_type, mailbox_owner).
func copyWithoutRawCopies(t *testing.T, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "v3", "tenant="+tenant.Default)
	copyAsVersion(t, from, to, 3, "modified_properties, aws_region, logon_type, mailbox_owner").Close()
	return filepath.Dir(to)
}

// copyAsVersion copies every Parquet file of tenant default under from to the same day folders
// under to, without the columns drop and marked as schema version; it returns the DuckDB it
// copied with, for checks (the caller closes it).
func copyAsVersion(t *testing.T, from, to string, version int, drop string) *sql.DB {
	t.Helper()
	from = filepath.Join(from, "tenant="+tenant.Default)
	files, _ := filepath.Glob(filepath.Join(from, "day=*", "*.parquet"))
	if len(files) == 0 {
		t.Fatal("no parquet files to copy")
	}
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	for _, f := range files {
		rel, _ := filepath.Rel(from, f)
		dst := filepath.Join(to, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf(`COPY (SELECT * EXCLUDE (%s) FROM read_parquet('%s', hive_partitioning = false)) TO '%s'
			(FORMAT PARQUET, KV_METADATA {'mcasload.schema_version': '%d'})`, drop, f, dst, version)
		if _, err := db.Exec(q); err != nil {
			db.Close()
			t.Fatal(err)
		}
	}
	return db
}

// TestV3ParquetFolderGivesTheSameResults: a Parquet folder written before schema version 4 (no
// narrow copies of raw, nobody upgraded it) gives the investigations that read those copies the
// same answers as the current data: the reader computes them from raw.
func TestV3ParquetFolderGivesTheSameResults(t *testing.T) {
	v4, _ := parquetWarehouse(t, synth.Config{Seed: 1, Users: 40, Days: 21, End: synthEnd, Incidents: true})
	v3 := copyWithoutRawCopies(t, v4)
	s4, s3 := parquetSession(t, v4), parquetSession(t, v3)
	for _, name := range []string{"impersonation-review", "impersonation-list", "activity-spike", "cloud-resource-abuse",
		"mfa-change-after-risky-sign-in", "oauth-consent", "federation-changes", "privileged-role-assignment", "mailbox-permission-grants"} {
		t.Run(name, func(t *testing.T) {
			got4, got3 := runResult(t, s4, name, nil), runResult(t, s3, name, nil)
			if len(got4.rows) == 0 {
				t.Fatalf("no rows on the current data: the comparison would prove nothing")
			}
			if !reflect.DeepEqual(got3.rows, got4.rows) {
				t.Errorf("v3 folder:\n%s\ncurrent folder:\n%s", got3.table, got4.table)
			}
		})
	}
}
