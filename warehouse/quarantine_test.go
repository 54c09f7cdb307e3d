package warehouse

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
)

func TestDamagedParquet(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, mem, rows("a", 10, day0, time.Minute))
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, ParquetDir, testkit.Files(t, filepath.Join(dir, ParquetDir))[0])
	body, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		content []byte
		damaged bool
	}{
		{"written by the warehouse", body, false},
		{"empty", nil, true},
		{"shorter than the magic bytes", []byte("PAR1PAR1"), true},
		{"truncated", body[:len(body)/2], true},
		{"overwritten start", append([]byte("XXXX"), body[4:]...), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f.parquet")
			if err := os.WriteFile(p, tc.content, 0o600); err != nil {
				t.Fatal(err)
			}
			got, err := damagedParquet(p)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.damaged {
				t.Errorf("damagedParquet = %v, want %v", got, tc.damaged)
			}
		})
	}
}

// TestRepairQuarantines damages the Parquet dataset with a truncated part and a copy under an
// unknown name: Verify names both (and still compares the rest), Repair from DuckDB moves both
// to the quarantine folder and rewrites the days, and Status answers meanwhile.
func TestRepairQuarantines(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	defer w.Close(t.Context())
	rs := rows("a", 150, day0, 30*time.Minute)
	commitRows(t, w, mem, rs)
	mustVerify(t, w)
	files := testkit.Files(t, filepath.Join(dir, ParquetDir))
	if len(files) < 2 {
		t.Fatalf("want parts on several days: %v", files)
	}
	truncated := filepath.Join(dir, ParquetDir, files[0])
	copied := filepath.Join(dir, ParquetDir, strings.TrimSuffix(files[1], ".parquet")+"-copy.parquet")
	testkit.CopyFile(t, filepath.Join(dir, ParquetDir, files[1]), copied)
	if err := os.Truncate(truncated, 100); err != nil {
		t.Fatal(err)
	}
	rep, err := w.Verify(t.Context())
	if err != nil {
		t.Fatalf("verify with a damaged file: %v", err)
	}
	if rep.OK() || !slices.Equal(rep.DamagedFiles, []string{truncated}) || !slices.Equal(rep.UnknownFiles, []string{copied}) {
		t.Fatalf("verify: damaged %v unknown %v problems %v", rep.DamagedFiles, rep.UnknownFiles, rep.Problems())
	}
	if _, err := w.Status(t.Context()); err != nil {
		t.Errorf("status with a damaged file: %v", err)
	}
	if err := w.Repair(t.Context(), SinkDuckDB); err != nil {
		t.Fatal(err)
	}
	mustVerify(t, w)
	if got, want := readSink(t, dir, FromParquet), expected(rs); !equalContents(got, want) {
		t.Errorf("parquet after repair:\n%v\nwant\n%v", got, want)
	}
	moved, _ := filepath.Glob(filepath.Join(dir, QuarantineDir, "*", ParquetDir, "tenant=*", "day=*", "*.parquet"))
	var names []string
	for _, m := range moved {
		names = append(names, filepath.Base(m))
	}
	slices.Sort(names)
	want := []string{filepath.Base(copied), filepath.Base(truncated)}
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Errorf("quarantine holds %v, want %v", names, want)
	}
}

// TestRebuildDatabase deletes, then truncates, the DuckDB file and rebuilds it from Parquet: the
// rows come back, every part is kept, the damaged file is quarantined, and a second commit of the
// same rows adds nothing.
func TestRebuildDatabase(t *testing.T) {
	for _, damage := range []string{"deleted", "truncated"} {
		t.Run(damage, func(t *testing.T) {
			mem := newMem(t)
			dir := t.TempDir()
			w := openTest(t, dir, SinkBoth)
			rs := rows("a", 150, day0, 30*time.Minute)
			commitRows(t, w, mem, rs)
			if err := w.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			before := testkit.Files(t, filepath.Join(dir, ParquetDir))
			file := filepath.Join(dir, DatabaseFile)
			if damage == "deleted" {
				if err := os.Remove(file); err != nil {
					t.Fatal(err)
				}
			} else if err := os.Truncate(file, 4096); err != nil {
				t.Fatal(err)
			}
			opts := Options{Dir: dir, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(nil), LockWait: 5 * time.Second}
			if err := RebuildDatabase(t.Context(), opts); err != nil {
				t.Fatal(err)
			}
			if got := testkit.Files(t, filepath.Join(dir, ParquetDir)); !slices.Equal(got, before) {
				t.Errorf("parquet files after rebuild %v, before %v", got, before)
			}
			if got, want := readSink(t, dir, FromDuckDB), expected(rs); !equalContents(got, want) {
				t.Errorf("duckdb after rebuild:\n%v\nwant\n%v", got, want)
			}
			quarantined, _ := filepath.Glob(filepath.Join(dir, QuarantineDir, "*", DatabaseFile))
			if (damage == "truncated") != (len(quarantined) == 1) {
				t.Errorf("quarantined duckdb files: %v", quarantined)
			}
			w = openTest(t, dir, SinkBoth)
			defer w.Close(t.Context())
			mustVerify(t, w)
			if res := commitRows(t, w, mem, rs); res.Inserted != 0 {
				t.Errorf("recommitting the rows inserted %d", res.Inserted)
			}
			mustVerify(t, w)
		})
	}
}
