package warehouse

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
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
			// two commits: two runs in the id set (the second under a quarter of the first, so
			// they stay apart)
			commitRows(t, w, mem, first[:25])
			commitRows(t, w, mem, first[25:])
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

// TestCommitRawSums commits the same rows with the raw hashes handed in (RawSums, as the
// loader's workers compute them) and computed by the commit: the counts are the same, and
// verify, which recomputes every stored row's hash in SQL (md5_number_lower), finds the index
// right, also for a record that is a slice of a larger one. Sums that are not RawSums' are
// caught by verify; a list that does not match its record is refused.
func TestCommitRawSums(t *testing.T) {
	tests := []struct {
		name    string
		sums    func(t *testing.T, recs []arrow.RecordBatch) [][]uint64
		wantErr string
		broken  bool // verify must find the index wrong
	}{
		{"computed by the commit", func(*testing.T, []arrow.RecordBatch) [][]uint64 { return nil }, "", false},
		{"handed in", rawSumsOf, "", false},
		{"handed in, off by one", func(t *testing.T, recs []arrow.RecordBatch) [][]uint64 {
			s := rawSumsOf(t, recs)
			s[1][0]++
			return s
		}, "", true},
		{"a list too short", func(t *testing.T, recs []arrow.RecordBatch) [][]uint64 {
			s := rawSumsOf(t, recs)
			s[0] = s[0][1:]
			return s
		}, "record 0 has 20 rows and 19 sums", false},
		{"a list missing", func(t *testing.T, recs []arrow.RecordBatch) [][]uint64 {
			return rawSumsOf(t, recs)[:1]
		}, "1 lists for 2 records", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMem(t)
			w := openTest(t, t.TempDir(), SinkBoth)
			defer w.Close(context.Background())
			rs := rows("a", 40, day0, time.Hour)
			// an id delivered twice in the commit, with another raw: a duplicate and a conflict
			again := mkRow(rs[3].id, rs[3].ts.Add(time.Minute))
			first := batch(mem, rs[:20])
			defer first.Release()
			whole := batch(mem, append(append([]row{}, rs[15:]...), again))
			defer whole.Release()
			second := whole.NewSlice(5, whole.NumRows()) // rs[20:] and again, at an offset
			defer second.Release()
			records := recs(first, second)
			res, err := w.Commit(context.Background(), Commit{Records: records, RawSums: tt.sums(t, records)})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("commit: %v, want an error saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if res.Inserted != 40 || res.Duplicates != 1 || res.Conflicts != 1 {
				t.Fatalf("inserted %d duplicates %d conflicts %d, want 40, 1 and 1", res.Inserted, res.Duplicates, res.Conflicts)
			}
			rep, err := w.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if rep.OK() == tt.broken {
				t.Fatalf("verify OK = %v with %s sums: %v", rep.OK(), tt.name, rep.Problems())
			}
		})
	}
}

func rawSumsOf(t *testing.T, recs []arrow.RecordBatch) [][]uint64 {
	t.Helper()
	var out [][]uint64
	for _, r := range recs {
		s, err := RawSums(r)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestCommitIDProbes: a commit handed probes taken before earlier commits (as the loader's
// workers take them) finds the same duplicates as one that looks up itself: ids stored
// before the probe, ids stored after it (completed from the set's last adds), and, when the
// probe can no longer be completed (too many commits since, or the set opened again), by its
// own lookup.
func TestCommitIDProbes(t *testing.T) {
	tests := []struct {
		name       string
		between    func(t *testing.T, w *Writer, mem *memory.CheckedAllocator) // after the probe, before its commit
		wantProbed bool                                                        // the probe answers for the commit
	}{
		{"completed with the ids stored since", func(*testing.T, *Writer, *memory.CheckedAllocator) {}, true},
		{"more commits since than the set remembers", func(t *testing.T, w *Writer, mem *memory.CheckedAllocator) {
			for i := range 9 {
				commitRows(t, w, mem, rows(fmt.Sprintf("x%d-", i), 3, day0, time.Hour))
			}
		}, false},
		{"the set opened again", func(t *testing.T, w *Writer, _ *memory.CheckedAllocator) {
			if _, err := w.Status(context.Background()); err != nil { // a session of its own: the next commit checks the set again
				t.Fatal(err)
			}
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := newMem(t)
			w := openTest(t, t.TempDir(), SinkBoth)
			defer w.Close(context.Background())
			a, c := rows("a", 20, day0, time.Hour), rows("c", 5, day0, time.Hour)
			b := append(rows("b", 10, day0, time.Hour),
				mkRow(a[5].id, a[5].ts.Add(48*time.Hour)), // stored before the probe, now on another day
				mkRow(c[0].id, c[0].ts.Add(24*time.Hour))) // stored after the probe
			rb := batch(mem, b)
			defer rb.Release()
			if p := w.ProbeIDs("", "", rb); p != nil {
				t.Fatal("a probe before the writer's first commit: the set is not open yet")
			}
			commitRows(t, w, mem, a)
			p := w.ProbeIDs("", "", rb)
			if p == nil {
				t.Fatal("no probe after the first commit")
			}
			commitRows(t, w, mem, c)
			tt.between(t, w, mem)
			if x := w.ids[knownKey{&activitiesTable, w.tenant}]; x != nil {
				hs := make([]uint64, len(b))
				for i, r := range b {
					hs[i] = md5Lower(r.id)
				}
				slices.Sort(hs)
				hits := map[uint64]bool{}
				got := probed(x, []*IDProbe{p}, hs, func(i int, _ int32) { hits[hs[i]] = true })
				if got != tt.wantProbed {
					t.Fatalf("the probe answers: %v, want %v", got, tt.wantProbed)
				}
				if got && (!hits[md5Lower(a[5].id)] || !hits[md5Lower(c[0].id)] || len(hits) != 2) {
					t.Fatalf("the probe completed found %d stored ids, want the 2 re-delivered", len(hits))
				}
			} else if tt.wantProbed {
				t.Fatal("the set was closed")
			}
			res, err := w.Commit(context.Background(), Commit{Records: recs(rb), IDProbes: []*IDProbe{p}})
			if err != nil {
				t.Fatal(err)
			}
			if res.Inserted != 10 || res.Duplicates != 2 || res.Conflicts != 2 {
				t.Fatalf("inserted %d duplicates %d conflicts %d, want 10, 2 and 2", res.Inserted, res.Duplicates, res.Conflicts)
			}
		})
	}
	t.Run("a list too short", func(t *testing.T) {
		mem := newMem(t)
		w := openTest(t, t.TempDir(), SinkBoth)
		defer w.Close(context.Background())
		r := batch(mem, rows("a", 3, day0, time.Hour))
		defer r.Release()
		_, err := w.Commit(context.Background(), Commit{Records: recs(r, r), IDProbes: []*IDProbe{nil}})
		if err == nil || !strings.Contains(err.Error(), "1 probes for 2 records") {
			t.Fatalf("commit: %v, want an error saying 1 probes for 2 records", err)
		}
	})
}

// TestPrepareIDs: a writer that opens its id set before its first commit answers probes from
// the start, with the ids stored by earlier runs, and its first commit uses them.
func TestPrepareIDs(t *testing.T) {
	ctx := context.Background()
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	a := rows("a", 20, day0, time.Hour)
	commitRows(t, w, mem, a)
	if err := w.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.PrepareIDs(ctx, "", ""); err == nil {
		t.Error("PrepareIDs on a closed writer did not fail")
	}
	w = openTest(t, dir, SinkBoth)
	defer w.Close(ctx)
	rb := batch(mem, append(rows("b", 5, day0, time.Hour), mkRow(a[7].id, a[7].ts.Add(time.Minute))))
	defer rb.Release()
	if p := w.ProbeIDs("", "", rb); p != nil {
		t.Fatal("a probe before the set is open")
	}
	if err := w.PrepareIDs(ctx, "", "../x"); err == nil {
		t.Error("PrepareIDs accepted a tenant label that is a path")
	}
	if err := w.PrepareIDs(ctx, "", ""); err != nil {
		t.Fatal(err)
	}
	p := w.ProbeIDs("", "", rb)
	if p == nil || len(p.hits) != 1 || p.hits[0].H != md5Lower(a[7].id) {
		t.Fatalf("probe after PrepareIDs: %+v, want the one re-delivered id's pair", p)
	}
	res, err := w.Commit(ctx, Commit{Records: recs(rb), IDProbes: []*IDProbe{p}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 5 || res.Duplicates != 1 || res.Conflicts != 1 {
		t.Fatalf("inserted %d duplicates %d conflicts %d, want 5, 1 and 1", res.Inserted, res.Duplicates, res.Conflicts)
	}
	mustVerify(t, w)
}
