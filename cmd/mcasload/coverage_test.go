package main

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/warehouse"
)

// TestCoverageCounts: the coverage of a window counts exactly the activities of the tenants read
// whose time lies in the window, whichever way it reads them (one tenant in view: counted by
// day, the time tested on the first and last days only; several: by tenant, day and time).
// Each answer is checked against a count of the same rows by their times alone, over the DuckDB
// file and over the Parquet dataset.
func TestCoverageCounts(t *testing.T) {
	dir, _ := loadedWarehouse(t)
	// a second tenant, so that some readers see two
	file := writeLines(t, testRecords(2, 150))
	if code, _, stderr := runMcasload(t, nil, "load", "--warehouse", dir, "--tenant-label", "other", file); code != 0 {
		t.Fatalf("load the second tenant: exit %d: %s", code, stderr)
	}
	at := func(h float64) time.Time { return loadTestStart.Add(time.Duration(h * float64(time.Hour))) }
	windows := []struct {
		name string
		w    *output.Window
	}{
		{"no window", nil},
		{"within one day", &output.Window{Since: at(3.5), Until: at(9.25)}},
		{"two days, both cut", &output.Window{Since: at(1.5), Until: at(27.75)}},
		{"first day cut, last whole", &output.Window{Since: at(-0.5), Until: at(49.999)}},
		{"days holding nothing", &output.Window{Since: at(-100), Until: at(-50)}},
	}
	open := map[string]func(context.Context, warehouse.ReaderOptions) (*warehouse.Reader, error){
		"duckdb": warehouse.OpenReader, "parquet": warehouse.OpenParquet}
	for _, from := range []string{"duckdb", "parquet"} {
		for _, sel := range [][]string{nil, {"default"}, {"other"}} {
			for _, tc := range windows {
				t.Run(fmt.Sprintf("%s/%v/%s", from, sel, tc.name), func(t *testing.T) {
					ctx := context.Background()
					r, err := open[from](ctx, warehouse.ReaderOptions{Dir: dir, Tenants: sel})
					if err != nil {
						t.Fatal(err)
					}
					want := len(sel)
					if sel == nil {
						want = 2
					}
					if len(r.Tenants) != want {
						t.Fatalf("the reader shows tenants %v, want %v (nil: both)", r.Tenants, sel)
					}
					defer r.Close()
					cov, err := coverageOf(ctx, r, tc.w)
					if err != nil {
						t.Fatal(err)
					}
					q := `SELECT count(*), count(DISTINCT day), min(ts), max(ts), count(DISTINCT tenant) FROM memory.main.activities`
					if tc.w != nil {
						q += fmt.Sprintf(` WHERE ts >= %s AND ts <= %s`, sqlTime(tc.w.Since), sqlTime(tc.w.Until))
					}
					var n, days, tenants int64
					var first, last sql.NullTime
					if err := r.Conn().QueryRowContext(ctx, q).Scan(&n, &days, &first, &last, &tenants); err != nil {
						t.Fatal(err)
					}
					if cov.Activities != n || int64(cov.DaysWithData) != days || int64(len(cov.Tenants)-len(cov.TenantsWithout)) != tenants {
						t.Errorf("coverage %d activities on %d days of %d tenants (without: %v); the rows' times say %d on %d days of %d",
							cov.Activities, cov.DaysWithData, len(cov.Tenants), cov.TenantsWithout, n, days, tenants)
					}
					if n > 0 && (cov.FirstActivity == nil || !cov.FirstActivity.Equal(first.Time) || !cov.LastActivity.Equal(last.Time)) {
						t.Errorf("coverage from %v to %v, want %v to %v", cov.FirstActivity, cov.LastActivity, first.Time, last.Time)
					}
				})
			}
		}
	}
}
