package warehouse

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
)

// pruneHorizon is the "prune" child's horizon: the load child's first two days go.
var pruneHorizon = day0.Add(48 * time.Hour).Truncate(24 * time.Hour)

// behind keeps the days of c on or after horizon.
func behind(c contents, horizon time.Time) contents {
	out := contents{}
	for day, ids := range c {
		if day >= horizon.Format(time.DateOnly) {
			out[day] = ids
		}
	}
	return out
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	w := openTest(t, dir, SinkBoth)
	defer func() { w.Close(context.Background()) }()
	stored := rows("a", 100, day0, 2*time.Hour) // 200 hours: days 0 to 8
	commitRows(t, w, mem, stored)
	horizon := day0.Add(4 * 24 * time.Hour).Truncate(24 * time.Hour)

	res, err := w.Prune(t.Context(), horizon, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := behind(expected(stored), horizon)
	var removed int64
	for day, ids := range expected(stored) {
		if _, kept := want[day]; !kept {
			removed += int64(len(ids))
		}
	}
	if len(res) != 1 || res[0].Tenant != testTenant || len(res[0].Days) != 4 || res[0].Rows != removed || res[0].IDs != removed ||
		res[0].ParquetFiles != 4 || res[0].Horizon != horizon.Format(time.DateOnly) {
		t.Fatalf("prune = %+v, want 4 days, %d rows, ids and 4 files removed from %s", res, removed, testTenant)
	}
	for _, from := range []string{FromDuckDB, FromParquet} {
		if got := readSink(t, dir, from); !equalContents(got, want) {
			t.Errorf("%s after prune holds\n%v\nwant\n%v", from, got, want)
		}
	}
	mustVerify(t, w)
	st, err := w.Status(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if tt := st.Tenants[0]; tt.OldestDay != horizon.Format(time.DateOnly) || tt.Horizon != tt.OldestDay {
		t.Errorf("status: oldest day %q horizon %q, want both %s", tt.OldestDay, tt.Horizon, horizon.Format(time.DateOnly))
	}

	// A later load: nothing older than the horizon is stored, whether new or a pruned id; a
	// pruned id delivered again with a time after the horizon is new (it left the dedupe).
	again := []row{mkRow("old-new", day0), mkRow(stored[0].id, stored[0].ts), mkRow(stored[1].id, horizon.Add(time.Hour))}
	res2 := commitRows(t, w, mem, again)
	if res2.Old != 2 || res2.Inserted != 1 || res2.Duplicates != 0 || res2.Horizon != horizon.Format(time.DateOnly) {
		t.Errorf("commit behind the horizon: %+v, want 2 old and the pruned id stored again after it", res2)
	}
	want = behind(expected(append(append([]row{}, stored...), again[2])), horizon)
	if got := readSink(t, dir, FromParquet); !equalContents(got, want) {
		t.Errorf("parquet after a load behind the horizon holds\n%v\nwant\n%v", got, want)
	}

	// The horizon never moves back.
	res, err = w.Prune(t.Context(), day0, nil)
	if err != nil || len(res) != 1 || res[0].Horizon != horizon.Format(time.DateOnly) || len(res[0].Days) != 0 {
		t.Errorf("prune to an earlier day = %+v, %v; want the horizon kept at %s and nothing removed", res, err, horizon.Format(time.DateOnly))
	}
	if _, err := w.Prune(t.Context(), horizon, []string{"nobody"}); err == nil || !strings.Contains(err.Error(), testTenant) {
		t.Errorf("prune of an unknown tenant: %v, want an error naming %s", err, testTenant)
	}
}

// TestPruneKilledAtRandom kills a prune process at a failpoint picked at random (the seed is
// logged), reruns it, and expects both sinks to hold exactly the days on or after the horizon,
// the id set to hold exactly the stored ids, and verify to pass.
func TestPruneKilledAtRandom(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 21))
	points := failpoint.PruneNames
	want := behind(loadExpected(), pruneHorizon)
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		fp := points[rng.IntN(len(points))]
		if fp == "prune-parquet" {
			fp += "@" + strconv.Itoa(1+rng.IntN(2)) // the load child leaves a file a day
		}
		dir := t.TempDir()
		runLoadChild(t, dir, SinkBoth, "")
		t.Logf("round %d: kill prune at %s", round, fp)
		runCrashChild(t, "prune", dir, SinkBoth, fp)
		testkit.CheckModes(t, dir)
		runCrashChild(t, "prune", dir, SinkBoth, "")
		for _, from := range []string{FromDuckDB, FromParquet} {
			if got := readSink(t, dir, from); !equalContents(got, want) {
				t.Errorf("round %d (%s): %s holds\n%v\nwant\n%v", round, fp, from, got, want)
			}
		}
		w := openTest(t, dir, SinkBoth)
		mustVerify(t, w)
		// Every stored id is in the id set, and only those: a commit of them all again stores none.
		var all []row
		for _, b := range loadBatches() {
			all = append(all, b...)
		}
		res := commitRows(t, w, newMem(t), all)
		if res.Inserted != 0 || res.Old == 0 {
			t.Errorf("round %d (%s): reloading after the prune: %+v, want nothing stored", round, fp, res)
		}
		if x := w.ids[knownKey{&activitiesTable, testTenant}]; x == nil || x.OldestDay() < int32(arrow.Date32FromTime(pruneHorizon)) {
			t.Errorf("round %d (%s): the id set still holds days before the horizon", round, fp)
		}
		w.Close(context.Background())
		days, _ := filepath.Glob(filepath.Join(dir, ParquetDir, "*", "day=*"))
		if slices.ContainsFunc(days, func(d string) bool { return strings.HasSuffix(d, day0.Format(time.DateOnly)) }) {
			t.Errorf("round %d (%s): the day folder of a pruned day is left: %v", round, fp, days)
		}
	}
}
