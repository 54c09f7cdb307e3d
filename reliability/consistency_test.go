package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/warehouse"
)

// parquetFiles lists the Parquet parts of the warehouse, sorted.
func parquetFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, warehouse.ParquetDir, "tenant=*", "day=*", "*.parquet"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Parquet files in %s (%v)", dir, err)
	}
	slices.Sort(files)
	return files
}

// duckExec runs statements on the warehouse's DuckDB file directly, as a damaging tool would.
func duckExec(t *testing.T, dir string, stmts ...string) {
	t.Helper()
	db := openDuck(t)
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("ATTACH '%s' AS wh", filepath.Join(dir, warehouse.DatabaseFile))); err != nil {
		t.Fatal(err)
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// TestReliabilityVerifyRepair damages one sink in every way verify claims to see, checks that
// `mcasload verify` reports it (exit 1), repairs from the other sink with `mcasload repair`, and
// checks that the warehouse is exact again and that a reload adds nothing.
func TestReliabilityVerifyRepair(t *testing.T) {
	binary(t)
	row := record(t, "consistency (verify/repair)", "damage one sink (Parquet file deleted, truncated, duplicated, moved to another day; DuckDB rows deleted, changed, duplicated; DuckDB file deleted), `mcasload verify`, `mcasload repair --from` the other sink, verify, reload")
	_, all, want := diskData(t)
	type damage struct {
		name   string
		from   string // the sink to repair from
		damage func(t *testing.T, dir string)
		// healed: the writer's reconciliation at open (which verify runs first) undoes the damage,
		// logging what it removed, so verify finds nothing.
		healed bool
	}
	damages := []damage{
		{"parquet file deleted", "duckdb", func(t *testing.T, dir string) {
			if err := os.Remove(parquetFiles(t, dir)[0]); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"parquet file truncated", "duckdb", func(t *testing.T, dir string) {
			f := parquetFiles(t, dir)[1]
			if err := os.Truncate(f, 100); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"parquet file duplicated in its day", "duckdb", func(t *testing.T, dir string) {
			f := parquetFiles(t, dir)[0]
			testkit.CopyFile(t, f, strings.TrimSuffix(f, ".parquet")+"-copy.parquet")
		}, false},
		{"parquet file duplicated under a part name", "duckdb", func(t *testing.T, dir string) {
			f := parquetFiles(t, dir)[0]
			testkit.CopyFile(t, f, filepath.Join(filepath.Dir(f), "part-999999999990-999999999990.parquet"))
		}, true},
		{"parquet file moved to another day", "duckdb", func(t *testing.T, dir string) {
			files := parquetFiles(t, dir)
			first, last := files[0], files[len(files)-1]
			if filepath.Dir(first) == filepath.Dir(last) {
				t.Fatal("the test data spans one day only")
			}
			if err := os.Rename(first, filepath.Join(filepath.Dir(last), "moved-"+filepath.Base(first))); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"duckdb rows deleted", "parquet", func(t *testing.T, dir string) {
			duckExec(t, dir, `DELETE FROM wh.activities WHERE id IN (SELECT id FROM wh.activities ORDER BY id LIMIT 7)`)
		}, false},
		{"duckdb row duplicated", "parquet", func(t *testing.T, dir string) {
			duckExec(t, dir, `INSERT INTO wh.activities SELECT * FROM wh.activities ORDER BY id LIMIT 1`)
		}, false},
		{"duckdb row moved to another day", "parquet", func(t *testing.T, dir string) {
			duckExec(t, dir, `UPDATE wh.activities SET day = day + 1 WHERE id = (SELECT min(id) FROM wh.activities)`)
		}, false},
		{"duckdb file truncated", "parquet", func(t *testing.T, dir string) {
			if err := os.Truncate(filepath.Join(dir, warehouse.DatabaseFile), 4096); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"duckdb file deleted", "parquet", func(t *testing.T, dir string) {
			for _, f := range []string{warehouse.DatabaseFile, warehouse.DatabaseFile + ".wal"} {
				if err := os.Remove(filepath.Join(dir, f)); err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
			}
		}, false},
	}
	repaired := 0
	for _, d := range damages {
		t.Run(d.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wh")
			if r := run(t, nil, "load", "-w", dir, "--progress=false", "--batch-rows", "700", "--compact-over", "0", all); r.Code != 0 {
				t.Fatalf("load: %s", r)
			}
			if r := run(t, nil, "verify", "-w", dir); r.Code != 0 || !strings.Contains(r.Stdout, "verify: ok") {
				t.Fatalf("verify of an intact warehouse: %s", r)
			}
			d.damage(t, dir)
			if d.healed {
				r := run(t, nil, "verify", "-w", dir)
				if r.Code != 0 || !strings.Contains(r.Stderr, "removing parquet file") {
					t.Errorf("verify after %s: want reconciliation to remove the file, saying so, and verify ok: %s", d.name, r)
				}
				if sinks.ExactlyOnce(t, dir, want) {
					repaired++
				}
				return
			}
			if r := run(t, nil, "verify", "-w", dir); r.Code != 1 || !strings.Contains(r.Stdout+r.Stderr, "problem") && !strings.Contains(r.Stdout+r.Stderr, "disagree") {
				t.Errorf("verify after %s: want exit 1 naming the problems: %s", d.name, r)
			} else {
				t.Logf("verify after %s:\n%s%s", d.name, r.Stdout, r.Stderr)
			}
			if r := run(t, nil, "repair", "-w", dir, "--from", d.from); r.Code != 0 {
				t.Fatalf("repair --from %s: %s", d.from, r)
			}
			if r := run(t, nil, "verify", "-w", dir); r.Code != 0 {
				t.Errorf("verify after repair: %s", r)
			}
			// What the repair could not bring back (rows lost from both sinks), a reload does.
			r := run(t, nil, "load", "-w", dir, "--progress=false", all)
			if r.Code != 0 {
				t.Fatalf("reload after repair: %s", r)
			}
			if sinks.ExactlyOnce(t, dir, want) {
				repaired++
			}
		})
	}
	row.set(len(damages), "%d of %d damages reported by verify (exit 1), repaired, verify ok and exact after reload (see log for each)", repaired, len(damages))
}
