package audit

import (
	"context"
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/timearg"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/tenant"
	"github.com/mcasload/mcasload/warehouse"
)

const token = "auditTestToken0123456789abcdef0123456789abcdef0123456789abcdef01"

var end = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

// scanned scans a small tenant into a DuckDB-only warehouse and returns it with its client.
func scanned(t *testing.T) (dir string, tn *synth.Tenant, client *mcas.Client, url string) {
	t.Helper()
	tn = synth.New(synth.Config{Seed: 4, Users: 30, Days: 3, End: end, Total: 3000, LateArrivals: -1})
	clk := clock.NewVirtual(end.Add(time.Hour), true)
	srv := simulator.NewServer(simulator.Config{Tenant: tn, Clock: clk, Token: token, RateLimit: simulator.NoRateLimit})
	t.Cleanup(srv.Close)
	client, err := mcas.NewClient(mcas.Config{URL: srv.URL, Auth: mcas.TokenAuth{Token: mcas.NewSecret(token)}, Clock: clk,
		Limiter: mcas.NewLimiter(clk, 100000, time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	dir = filepath.Join(t.TempDir(), "wh")
	w, err := warehouse.Open(t.Context(), warehouse.Options{Dir: dir, Sinks: warehouse.SinkDuckDB, Source: "simulator", Threads: 1, Tenant: tenant.Simulator})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := loader.Scan(t.Context(), client, w, loader.ScanOptions{URL: srv.URL, Clock: clk}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	return dir, tn, client, srv.URL
}

// TestAuditChecksLargeDaysHourByHour: a short day with more records than FineRecords is
// checked per hour, and only the short hours are listed.
func TestAuditChecksLargeDaysHourByHour(t *testing.T) {
	dir, tn, client, url := scanned(t)
	day := end.Add(-24 * time.Hour).Truncate(24 * time.Hour)
	var gone []string
	for i := range tn.Len() {
		a := tn.Activity(i)
		if ts := time.UnixMilli(a.Timestamp).UTC(); ts.Truncate(time.Hour).Equal(day.Add(14*time.Hour)) && len(gone) < 8 {
			gone = append(gone, a.ID)
		}
	}
	if len(gone) < 8 {
		t.Fatalf("only %d records in the hour", len(gone))
	}
	db, err := sql.Open("duckdb", filepath.Join(dir, warehouse.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range []string{"activities", "activity_ids"} {
		if _, err := db.Exec(`DELETE FROM ` + table + ` WHERE id IN ('` + strings.Join(gone, "','") + `')`); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	before := client.Stats().Requests
	rep, err := Run(context.Background(), client, Options{Dir: dir, URL: url, Since: timearg.At(end.Add(-72 * time.Hour)),
		Tolerance: Tolerance{Records: 2}, FineRecords: 100})
	if err != nil {
		t.Fatal(err)
	}
	var hours, listed int
	for _, w := range rep.Windows {
		if w.To.Sub(w.From) <= time.Hour {
			hours++
		}
		if w.Exact {
			listed++
			if !w.From.Equal(day.Add(14*time.Hour)) || len(w.Missing) != len(gone) {
				t.Errorf("window %s..%s listed with %d missing", w.From, w.To, len(w.Missing))
			}
		}
	}
	if hours < 24 || listed != 1 || rep.Incomplete != 1 {
		t.Fatalf("%d hour windows, %d listed, %d incomplete; want the short day in hours and one hour listed", hours, listed, rep.Incomplete)
	}
	if rep.Requests-before < int64(len(rep.Windows)) {
		t.Errorf("%d requests counted for %d windows", rep.Requests-before, len(rep.Windows))
	}
}

// TestScopeSQL: the shortcut filters (eq lists of service, user, event type) become conditions
// on the warehouse's columns; any other filter is ErrUncountableScope, naming the filter.
func TestScopeSQL(t *testing.T) {
	ok, err := loader.CanonicalFilters(mcas.Filters{}.Service(20893).User("A@contoso.com").EventType("EVENT_CATEGORY_LOGIN"))
	if err != nil {
		t.Fatal(err)
	}
	cond, args, err := scopeSQL(ok)
	if err != nil || !strings.Contains(cond, "app_id IN (?)") || len(args) != 3 {
		t.Fatalf("scopeSQL(%v) = %q %v %v", ok, cond, args, err)
	}
	for _, f := range []mcas.Filters{
		mcas.Filters{}.Set("ip.category", "eq", []any{3}),
		mcas.Filters{}.Set("service", "neq", []any{20893}),
	} {
		canon, err := loader.CanonicalFilters(f)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = scopeSQL(canon)
		if !errors.Is(err, ErrUncountableScope) || !strings.Contains(err.Error(), "cannot be counted") {
			t.Errorf("scopeSQL(%v) = %v, want ErrUncountableScope", f, err)
		}
	}
}

func TestParseTolerance(t *testing.T) {
	for in, want := range map[string]Tolerance{"5%": {Percent: 5}, "0.5%": {Percent: 0.5}, "20": {Records: 20}, "0": {}} {
		if got, err := ParseTolerance(in); err != nil || got != want {
			t.Errorf("ParseTolerance(%q) = %+v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "x", "-1", "150%", "5 %x", "1.5"} {
		if _, err := ParseTolerance(in); err == nil {
			t.Errorf("ParseTolerance(%q) accepted", in)
		}
	}
}

// FuzzParseTolerance: never panics; what parses is a percentage in [0, 100] or a count >= 0.
func FuzzParseTolerance(f *testing.F) {
	for _, s := range []string{"5%", "0.5%", "20", "", "x%", "1e2%", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tol, err := ParseTolerance(s)
		if err == nil && (tol.Percent < 0 || tol.Percent > 100 || tol.Records < 0) {
			t.Fatalf("ParseTolerance(%q) = %+v", s, tol)
		}
	})
}
