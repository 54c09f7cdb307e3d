package warehouse

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"
)

// testFirsts is a first-times spec of the tests' own: an id ending in 9 does not count.
var testFirsts = FirstsSpec{
	Rule:    "test-1",
	Setup:   []string{`CREATE OR REPLACE TEMP MACRO counts_as_history(id) AS NOT ends_with(id, '9')`},
	Where:   `counts_as_history(id)`,
	Columns: []string{"id"},
}

// firstsListed returns the (tenant, day) pairs listed as current under rule, and fails the test
// when a listed day's first times (the least of each key's) differ from those computed from its
// activities now.
func firstsListed(t *testing.T, dir, rule string) []string {
	t.Helper()
	ctx := context.Background()
	s, err := openSession(ctx, sessionConfig{}, filepath.Join(dir, DatabaseFile), true)
	if err != nil {
		t.Fatal(err)
	}
	defer s.detachClose(ctx)
	listed, err := queryStrings(ctx, s.conn, `SELECT tenant || ' ' || strftime(day, '%Y-%m-%d') FROM wh.activity_firsts_days WHERE rule = ? ORDER BY 1`, rule)
	if err != nil {
		t.Fatal(err)
	}
	diff, err := queryStrings(ctx, s.conn, `WITH want AS (
		  SELECT tenant, day, user_name, country, user_agent, isp, min(ts) AS first_ts FROM wh.activities
		  WHERE user_name IS NOT NULL AND NOT ends_with(id, '9') GROUP BY ALL),
		got AS (SELECT tenant, day, user_name, country, user_agent, isp, min(first_ts) FROM wh.activity_firsts GROUP BY ALL),
		listed AS (SELECT tenant, day FROM wh.activity_firsts_days WHERE rule = ?),
		d AS ((SELECT * FROM want EXCEPT SELECT * FROM got) UNION ALL (SELECT * FROM got EXCEPT SELECT * FROM want))
		SELECT DISTINCT d.tenant || ' ' || strftime(d.day, '%Y-%m-%d') FROM d SEMI JOIN listed l ON l.tenant = d.tenant AND l.day = d.day`, rule)
	if err != nil {
		t.Fatal(err)
	}
	if len(diff) > 0 {
		t.Errorf("listed days whose first times differ from their activities: %v", diff)
	}
	return listed
}

func TestRefreshFirsts(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	twoTenants(t, dir, mem)
	all := []string{"acme 2026-03-01", "acme 2026-03-02", "acme 2026-03-03", "other 2026-03-01", "other 2026-03-02", "other 2026-03-03"}
	if got := firstsListed(t, dir, testFirsts.Rule); len(got) != 0 {
		t.Fatalf("listed before any refresh: %v", got)
	}

	w := openTest(t, dir, SinkBoth)
	res, err := w.RefreshFirsts(t.Context(), testFirsts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Days != 6 || res.Stale != 6 || res.Rows == 0 {
		t.Errorf("first refresh: %+v, want 6 days built", res)
	}
	if got := firstsListed(t, dir, testFirsts.Rule); !slices.Equal(got, all) {
		t.Errorf("listed %v, want %v", got, all)
	}
	if res, err = w.RefreshFirsts(t.Context(), testFirsts); err != nil || res.Stale != 0 || res.Days != 0 {
		t.Errorf("second refresh: %+v, %v; want nothing to do", res, err)
	}

	// A commit without the rule unlists the days it adds to, in its own transaction.
	commitRows(t, w, mem, rows("late", 5, day0.Add(24*time.Hour), time.Minute))
	if got := firstsListed(t, dir, testFirsts.Rule); slices.Contains(got, "acme 2026-03-02") || len(got) != 5 {
		t.Errorf("after a commit to acme's 2026-03-02: listed %v", got)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	// A commit with the rule keeps a listed day listed and exact (rows earlier than the day's
	// first times, and new users); Close builds the unlisted days it committed to.
	w, err = Open(t.Context(), Options{Dir: dir, MemoryLimit: "300MB", Logger: testLogger(nil), Source: "simulator", Tenant: testTenant, Firsts: &testFirsts})
	if err != nil {
		t.Fatal(err)
	}
	commitRows(t, w, mem, rows("early", 12, day0.Add(48*time.Hour-30*time.Minute), time.Second))
	if got := firstsListed(t, dir, testFirsts.Rule); !slices.Contains(got, "acme 2026-03-03") || len(got) != 5 {
		t.Errorf("after a commit with the rule to acme's 2026-03-03: listed %v", got)
	}
	commitRows(t, w, mem, rows("again", 3, day0.Add(25*time.Hour), time.Minute))
	if n := countWhere(t, dir, `SELECT count(*) - count(DISTINCT (user_name, country, user_agent, isp)) FROM wh.activity_firsts WHERE tenant = 'acme' AND day = DATE '2026-03-03'`); n == 0 {
		t.Error("the commit with the rule added no first time to acme's 2026-03-03")
	}
	defer func(n int64) { firstsFoldSlack = n }(firstsFoldSlack)
	firstsFoldSlack = 0
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := countWhere(t, dir, `SELECT count(*) - count(DISTINCT (user_name, country, user_agent, isp)) FROM wh.activity_firsts WHERE tenant = 'acme' AND day = DATE '2026-03-03'`); n != 0 {
		t.Errorf("Close left %d first times of acme's 2026-03-03 unfolded", n)
	}
	if got := firstsListed(t, dir, testFirsts.Rule); !slices.Equal(got, all) {
		t.Errorf("after Close with Firsts: listed %v, want %v", got, all)
	}

	// Another rule: every day is built again.
	w = openTest(t, dir, SinkBoth)
	other := testFirsts
	other.Rule = "test-2"
	if res, err := w.RefreshFirsts(t.Context(), other); err != nil || res.Days != 6 {
		t.Errorf("refresh under another rule: %+v, %v; want 6 days", res, err)
	}
	if got := firstsListed(t, dir, testFirsts.Rule); len(got) != 0 {
		t.Errorf("listed under the first rule after the second's refresh: %v", got)
	}

	// Prune takes the days it removes off the list, with their first times.
	if _, err := w.Prune(t.Context(), day0.Add(24*time.Hour), []string{testTenant}); err != nil {
		t.Fatal(err)
	}
	if got := firstsListed(t, dir, other.Rule); !slices.Equal(got, all[1:]) {
		t.Errorf("after prune: listed %v, want %v", got, all[1:])
	}
	if n := countWhere(t, dir, `SELECT count(*) FROM wh.activity_firsts WHERE tenant = 'acme' AND day < DATE '2026-03-02'`); n != 0 {
		t.Errorf("after prune: %d first times left of the pruned day", n)
	}

	// A repair from Parquet replaces every row: nothing stays listed, the next refresh builds all.
	if err := w.Repair(t.Context(), SinkParquet); err != nil {
		t.Fatal(err)
	}
	if got := firstsListed(t, dir, other.Rule); len(got) != 0 {
		t.Errorf("after repair: listed %v", got)
	}
	if res, err := w.RefreshFirsts(t.Context(), testFirsts); err != nil || res.Days != 5 {
		t.Errorf("refresh after repair: %+v, %v; want 5 days", res, err)
	}
	if got := firstsListed(t, dir, testFirsts.Rule); !slices.Equal(got, all[1:]) {
		t.Errorf("after repair and refresh: listed %v, want %v", got, all[1:])
	}
	mustVerify(t, w)
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestRefreshFirstsKilled kills a real refresh inside its second tenant's transaction: the
// first tenant's days stay listed and right, the second's are not listed, and the next refresh
// builds them.
func TestRefreshFirstsKilled(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	twoTenants(t, dir, mem)
	runCrashChild(t, "firsts", dir, SinkBoth, "firsts-before-commit@2")
	if got := firstsListed(t, dir, testFirsts.Rule); !slices.Equal(got, []string{"acme 2026-03-01", "acme 2026-03-02", "acme 2026-03-03"}) {
		t.Errorf("after the kill: listed %v, want the first tenant's days alone", got)
	}
	runCrashChild(t, "firsts", dir, SinkBoth, "")
	if got := firstsListed(t, dir, testFirsts.Rule); len(got) != 6 {
		t.Errorf("after the rerun: listed %v, want six days", got)
	}
}

// runFirstsChild is the "firsts" child role: RefreshFirsts with testFirsts.
func runFirstsChild(ctx context.Context, opts Options) error {
	w, err := Open(ctx, opts)
	if err != nil {
		return err
	}
	if _, err := w.RefreshFirsts(ctx, testFirsts); err != nil {
		return err
	}
	return w.Close(ctx)
}

// twoTenants stores 60 rows over three days for each of testTenant and "other", a writer each
// (without the first times' rule).
func twoTenants(t *testing.T, dir string, mem memory.Allocator) {
	t.Helper()
	for _, label := range []string{testTenant, "other"} {
		w, err := Open(t.Context(), Options{Dir: dir, MemoryLimit: "300MB", Logger: testLogger(nil), Source: "simulator", Tenant: label})
		if err != nil {
			t.Fatal(err)
		}
		rec := tenantBatch(mem, label, rows(label, 60, day0, time.Hour))
		_, err = w.Commit(t.Context(), Commit{Records: recs(rec)})
		rec.Release()
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}
