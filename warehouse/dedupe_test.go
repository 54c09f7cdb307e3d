package warehouse

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestSameIDAnotherTimestamp re-delivers stored ids with other timestamps (another day, before
// or after the stored one): each id stays stored once, on its first day, in both sinks, whether
// the id set is the one the commits wrote, read by a new writer, or rebuilt from DuckDB.
func TestSameIDAnotherTimestamp(t *testing.T) {
	tests := []struct {
		name   string
		shift  time.Duration
		before func(t *testing.T, dir string) // between the first run and the second
	}{
		{"a day later, same writer", 24 * time.Hour, nil},
		{"three days earlier, new writer", -72 * time.Hour, func(*testing.T, string) {}},
		{"a week later, id set removed", 7 * 24 * time.Hour, func(t *testing.T, dir string) {
			if err := os.RemoveAll(filepath.Join(dir, IDIndexDir)); err != nil {
				t.Fatal(err)
			}
		}},
		{"a day earlier, the id set's oldest run lost", -24 * time.Hour, func(t *testing.T, dir string) {
			// The set still covers the last commit; only its count shows the lost pairs.
			runs, _ := filepath.Glob(filepath.Join(dir, IDIndexDir, "*", "run-*.ids"))
			if len(runs) != 2 {
				t.Fatalf("%d id set runs, want the two commits' runs", len(runs))
			}
			slices.Sort(runs)
			if err := os.Remove(runs[0]); err != nil {
				t.Fatal(err)
			}
		}},
		{"an hour later, id set damaged", time.Hour, func(t *testing.T, dir string) {
			runs, _ := filepath.Glob(filepath.Join(dir, IDIndexDir, "*", "run-*.ids"))
			if len(runs) == 0 {
				t.Fatal("no id set run written")
			}
			if err := os.WriteFile(runs[0], []byte("damaged"), 0o600); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			mem := newMem(t)
			w := openTest(t, dir, SinkBoth)
			first := rows("a", 30, day0, time.Hour)
			// two commits: two runs in the id set (the second is smaller, so they stay apart)
			commitRows(t, w, mem, first[:20])
			commitRows(t, w, mem, first[20:])
			if tt.before != nil {
				if err := w.Close(context.Background()); err != nil {
					t.Fatal(err)
				}
				tt.before(t, dir)
				w = openTest(t, dir, SinkBoth)
			}
			defer w.Close(context.Background())
			var again []row
			for _, r := range first[:10] {
				again = append(again, mkRow(r.id, r.ts.Add(tt.shift)))
			}
			again = append(again, rows("b", 5, day0, time.Hour)...)
			res := commitRows(t, w, mem, again)
			if res.Inserted != 5 || res.Duplicates != 10 || res.Conflicts != 10 {
				t.Fatalf("re-delivery %s: inserted %d duplicates %d conflicts %d, want 5, 10 and 10 (raw holds the new time)",
					tt.shift, res.Inserted, res.Duplicates, res.Conflicts)
			}
			want := expected(append(first, rows("b", 5, day0, time.Hour)...))
			for _, from := range []string{FromDuckDB, FromParquet} {
				if got := readSink(t, dir, from); !equalContents(got, want) {
					t.Errorf("%s holds\n%v\nwant\n%v", from, got, want)
				}
			}
			mustVerify(t, w)
		})
	}
}
