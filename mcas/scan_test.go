package mcas

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
)

// scanResult is what a scan delivered.
type scanResult struct {
	ids   []string
	pages []*Page
}

func collect(t *testing.T, c *Client, q Query) (scanResult, error) {
	t.Helper()
	var res scanResult
	err := c.Scan(t.Context(), q, func(_ context.Context, p *Page) error {
		res.pages = append(res.pages, p)
		for _, r := range p.Records {
			id, err := recordID(r)
			if err != nil {
				return err
			}
			res.ids = append(res.ids, id)
		}
		return nil
	})
	return res, err
}

// fakeIDs is the set of ids of records.
func fakeIDs(records []fakeRecord) map[string]bool {
	ids := make(map[string]bool, len(records))
	for _, r := range records {
		ids[r.ID] = true
	}
	return ids
}

func TestScanExactlyOnce(t *testing.T) {
	base := epoch.UnixMilli()
	tests := []struct {
		name    string
		records []fakeRecord
		q       Query
		ceiling int // fake and client deep-offset ceiling; 0 = 5000
		stalls  int64
		tie     bool // a page fetched outside scan mode is expected
		both    bool // paged from both ends
	}{
		{"no ties asc", genRecords(2000, base, nil), Query{SortField: SortDate, SortDirection: Asc, Limit: 500}, 0, 0, false, false},
		{"no ties desc", genRecords(2000, base, nil), Query{SortField: SortDate, SortDirection: Desc, Limit: 500}, 0, 0, false, false},
		{"ties below a page", genRecords(1500, base, map[int64]int{300_500: 120, 900_500: 499}), Query{SortField: SortCreated, SortDirection: Asc, Limit: 500}, 0, 0, false, false},
		{"600 tie, limit 500: bigger page", genRecords(1500, base, map[int64]int{700_500: 600}), Query{SortField: SortDate, SortDirection: Asc, Limit: 500}, 0, 1, false, false},
		{"600 tie, limit 5000", genRecords(6000, base, map[int64]int{4_000_500: 600}), Query{SortField: SortCreated, SortDirection: Asc, Limit: 5000}, 0, 0, false, false},
		{"5200 tie asc from both ends", genRecords(800, base, map[int64]int{400_500: 5200}), Query{SortField: SortDate, SortDirection: Asc, Limit: 5000}, 0, 1, true, true},
		{"5200 tie desc from both ends", genRecords(800, base, map[int64]int{400_500: 5200}), Query{SortField: SortCreated, SortDirection: Desc, Limit: 5000}, 0, 1, true, true},
		{"5200 tie first in window", genRecords(800, base+1000, map[int64]int{-1000: 5200}), Query{SortField: SortDate, SortDirection: Asc, Limit: 5000}, 0, 1, true, true},
		{"5200 tie within a high ceiling", genRecords(800, base, map[int64]int{400_500: 5200}), Query{SortField: SortDate, SortDirection: Asc, Limit: 5000}, 10_000, 1, true, false},
		{"two big ties", genRecords(300, base, map[int64]int{100_500: 5001, 200_500: 7000}), Query{SortField: SortDate, SortDirection: Asc, Limit: 5000}, 0, 2, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() && len(tt.records) > 10_000 {
				t.Skip("large tie groups in -short")
			}
			clk := clock.NewVirtual(epoch, true)
			api, srv := newFakeAPI(t, clk, tt.records)
			if tt.ceiling > 0 {
				api.ceiling = tt.ceiling
			}
			c, logs := testClient(t, srv.URL, clk, func(cfg *Config) { cfg.DeepOffsetCeiling = tt.ceiling })
			res, err := collect(t, c, tt.q)
			if err != nil {
				t.Fatalf("Scan: %v", err)
			}
			testkit.IDsExactlyOnce(t, res.ids, fakeIDs(tt.records))
			if s := c.Stats(); s.Stalls != tt.stalls {
				t.Errorf("%d stalls, want %d", s.Stalls, tt.stalls)
			}
			ties := 0
			for _, p := range res.pages {
				if p.Tie {
					ties++
				}
			}
			if (ties > 0) != tt.tie {
				t.Errorf("%d tie pages, want tie=%v", ties, tt.tie)
			}
			if got := strings.Contains(logs.String(), "from_both_ends=true"); got != tt.both {
				t.Errorf("paged from both ends = %v, want %v", got, tt.both)
			}
			if tt.stalls > 0 && !strings.Contains(logs.String(), "scan stalled") {
				t.Error("the stall was not logged")
			}
			// Positions only move forward in the scan's direction, and no request went past the
			// deep-offset ceiling (the fake answers 400 there, so the scan would have failed).
			var prev int64
			have := false
			for _, p := range res.pages {
				if !p.HasPosition {
					continue
				}
				if have && !beyond(p.Position, prev, tt.q.SortDirection) {
					t.Fatalf("position %d after %d does not move %s", p.Position, prev, tt.q.SortDirection)
				}
				prev, have = p.Position, true
			}
			// Bounded request count: no loop.
			if n, limit := len(api.log()), 2*len(tt.records)/100+20; n > limit {
				t.Errorf("%d requests for %d records, more than %d", n, len(tt.records), limit)
			}
		})
	}
}

// Groups beyond both ends are split by admin flag and app, and fetched exactly; a group that no
// split can bring under the ceiling is an error that says what to do, not a loop.
func TestScanTieGroupSplit(t *testing.T) {
	if testing.Short() {
		t.Skip("12000-record tie groups")
	}
	// 3000 admin records and 12000 others, the latter spread over four apps: the split needs
	// both the admin flag and the apps.
	mixed := genRecords(100, epoch.UnixMilli(), map[int64]int{50_500: 15_000})
	apps := []int64{11161, 20893, 15600, 28375, 12260}
	for i := range mixed {
		mixed[i].Admin = i%5 == 0
		mixed[i].App = apps[i%len(apps)]
	}
	uniform := genRecords(100, epoch.UnixMilli(), map[int64]int{50_500: 12_000})
	tests := []struct {
		name     string
		records  []fakeRecord
		filters  Filters
		wantErr  bool
		maxCalls int
	}{
		{"mixed admin and apps", mixed, nil, false, 600},
		{"user filter on service leaves only the admin split", mixed, Filters{}.Set("service", "neq", []any{int64(1)}), true, 400},
		{"one app, no admin", uniform, nil, true, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clock.NewVirtual(epoch, true)
			api, srv := newFakeAPI(t, clk, tt.records)
			c, logs := testClient(t, srv.URL, clk, nil)
			res, err := collect(t, c, Query{Filters: tt.filters, SortField: SortDate, SortDirection: Asc})
			if tt.wantErr {
				if err == nil {
					t.Fatal("Scan returned no error for a tie group no split can reach")
				}
				if !errors.Is(err, ErrTieGroupTooLarge) || !strings.Contains(err.Error(), "sharing that millisecond") {
					t.Errorf("error %q is not ErrTieGroupTooLarge saying why", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Scan: %v", err)
				}
				testkit.IDsExactlyOnce(t, res.ids, fakeIDs(tt.records))
				if !strings.Contains(logs.String(), "split=true") {
					t.Error("the split was not logged")
				}
			}
			if n := len(api.log()); n > tt.maxCalls {
				t.Errorf("%d requests, more than %d", n, tt.maxCalls)
			}
		})
	}
}

// A scan stopped by its callback and resumed from the last page's position delivers every
// record exactly once across the two runs, tie pages included.
func TestScanResume(t *testing.T) {
	records := genRecords(3000, epoch.UnixMilli(), map[int64]int{1_000_500: 700, 2_000_500: 5100})
	for _, dir := range []string{Asc, Desc} {
		for stopAfter := 1; stopAfter <= 6; stopAfter++ {
			t.Run(fmt.Sprintf("%s stop after %d", dir, stopAfter), func(t *testing.T) {
				clk := clock.NewVirtual(epoch, true)
				_, srv := newFakeAPI(t, clk, records)
				c, _ := testClient(t, srv.URL, clk, nil)
				q := Query{SortField: SortCreated, SortDirection: dir, Limit: 500}
				stop := errors.New("stop")
				var ids []string
				var last *Page
				pages := 0
				err := c.Scan(t.Context(), q, func(_ context.Context, p *Page) error {
					for _, r := range p.Records {
						id, _ := recordID(r)
						ids = append(ids, id)
					}
					last = p
					if pages++; pages == stopAfter {
						return stop
					}
					return nil
				})
				if err == nil {
					testkit.IDsExactlyOnce(t, ids, fakeIDs(records)) // finished before stopping
					return
				}
				if !errors.Is(err, stop) {
					t.Fatalf("Scan: %v", err)
				}
				if !last.HasPosition {
					t.Fatal("a page before the last has no position")
				}
				res, err := collect(t, c, q.ResumeAt(last.Position))
				if err != nil {
					t.Fatalf("resumed Scan: %v", err)
				}
				testkit.IDsExactlyOnce(t, append(ids, res.ids...), fakeIDs(records))
			})
		}
	}
}

// Faults in the middle of a scan with a tie group change nothing in the result.
func TestScanThroughFaults(t *testing.T) {
	records := genRecords(1200, epoch.UnixMilli(), map[int64]int{600_500: 5200})
	clk := clock.NewVirtual(epoch, true)
	api, srv := newFakeAPI(t, clk, records)
	c, _ := testClient(t, srv.URL, clk, nil)
	// The first page fails twice; the tie group's paging meets a 504 and a reset.
	api.fault(statusFault(502, "bad gateway"), truncatedFault)
	seen := 0
	api.auth = func(h string) int {
		if seen++; seen == 8 {
			api.fault(statusFault(504, "gateway timeout"), resetFault)
		}
		if h != "Token "+goodToken {
			return http.StatusForbidden
		}
		return http.StatusOK
	}
	res, err := collect(t, c, Query{SortField: SortDate, SortDirection: Asc, Limit: 1000})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	testkit.IDsExactlyOnce(t, res.ids, fakeIDs(records))
	if s := c.Stats(); s.Retries != 4 {
		t.Errorf("%d retries, want 4", s.Retries)
	}
}

// A service that repeats nextQueryFilters while still sending records is treated as a stall:
// those records come again with the group or past it, never twice.
func TestScanSameNextTwice(t *testing.T) {
	base := epoch.UnixMilli()
	records := genRecords(1000, base, map[int64]int{500_500: 50})
	clk := clock.NewVirtual(epoch, true)
	api, srv := newFakeAPI(t, clk, records)
	c, logs := testClient(t, srv.URL, clk, nil)
	first := true
	api.fault(func(w http.ResponseWriter, r *http.Request) {
		// A page of ten records whose nextQueryFilters equals the request's filters.
		var data []json.RawMessage
		for _, rec := range records[:10] {
			data = append(data, json.RawMessage(fmt.Sprintf(`{"_id":%q,"timestamp":%d,"created":%d}`, rec.ID, rec.TS, rec.Created)))
		}
		next := Filters{}.Set("date", "gte", base)
		_ = json.NewEncoder(w).Encode(map[string]any{"total": 1050, "hasNext": true, "data": data, "nextQueryFilters": next})
		first = false
	})
	q := Query{Filters: Filters{}.Set("date", "gte", base), SortField: SortDate, SortDirection: Asc, Limit: 500}
	res, err := collect(t, c, q)
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	if first {
		t.Fatal("the fault was not served")
	}
	testkit.IDsExactlyOnce(t, res.ids, fakeIDs(records))
	if !strings.Contains(logs.String(), "scan stalled") {
		t.Error("the repeated nextQueryFilters was not logged as a stall")
	}
}

func TestScanCallbackErrorStops(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	api, srv := newFakeAPI(t, clk, genRecords(3000, epoch.UnixMilli(), nil))
	c, _ := testClient(t, srv.URL, clk, nil)
	boom := errors.New("warehouse full")
	err := c.Scan(t.Context(), Query{Limit: 500}, func(context.Context, *Page) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("Scan = %v, want the callback's error", err)
	}
	if n := len(api.log()); n != 1 {
		t.Errorf("%d requests after the callback failed on the first page, want 1", n)
	}
}

func TestScanSendsNextQueryFiltersVerbatim(t *testing.T) {
	clk := clock.NewVirtual(epoch, true)
	records := genRecords(1200, epoch.UnixMilli(), nil)
	api, srv := newFakeAPI(t, clk, records)
	c, _ := testClient(t, srv.URL, clk, nil)
	q := Query{Filters: Filters{}.Set("date", "range", []any{map[string]any{"start": epoch.UnixMilli(), "end": epoch.UnixMilli() + 10_000_000}}).Service(11161), SortDirection: Asc, Limit: 500}
	// The fake ignores service; the point is that it comes back in every request.
	res, err := collect(t, c, q)
	if err != nil {
		t.Fatal(err)
	}
	testkit.IDsExactlyOnce(t, res.ids, fakeIDs(records))
	reqs := api.log()
	for i, r := range reqs {
		if !r.Body.IsScan {
			t.Errorf("request %d not in scan mode", i)
		}
		f, _ := DecodeFilters(r.Body.Filters)
		if _, ok := f["service"]["eq"]; !ok || f["date"]["range"] == nil {
			t.Errorf("request %d lost the user's filters: %s", i, r.Body.Filters)
		}
		if i > 0 {
			want := res.pages[i-1].Next.Canonical()
			if got := f.Canonical(); got != want {
				t.Errorf("request %d sent %s, want the previous nextQueryFilters %s", i, got, want)
			}
		}
	}
	if !slices.ContainsFunc(res.pages, func(p *Page) bool { return p.HasNext && p.HasPosition }) {
		t.Error("no page exposed a position")
	}
}

func TestListRejectsBadQueries(t *testing.T) {
	c, _ := testClient(t, "http://127.0.0.1:1", clock.NewVirtual(epoch, true), nil)
	for _, q := range []Query{{Limit: 101}, {SortField: "timestamp"}, {SortDirection: "up"}} {
		if _, err := c.List(t.Context(), q, 0); err == nil {
			t.Errorf("List(%+v) accepted", q)
		}
	}
	if err := c.Scan(t.Context(), Query{Limit: 100}, nil); err == nil || !strings.Contains(err.Error(), "500 to 5000") {
		t.Errorf("Scan with limit 100: %v", err)
	}
}
