package simulator

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/simulator/synth"
)

// TestScanEveryRecordOnce runs the documentation's loop in both directions on both sort fields
// over a window that excludes the 600-record tie burst, and checks every visible record arrives
// exactly once, each page in sort order.
func TestScanEveryRecordOnce(t *testing.T) {
	s, vc := newTestServer(t, Config{})
	tn := s.Tenant()
	// Hold back the last hours so some records are not yet visible (late arrivals included).
	vc.Set(testEnd.Add(-2 * time.Hour))
	now := vc.Now()
	burst := burstAt.UnixMilli()
	start, end := testEnd.Add(-120*time.Hour).UnixMilli(), burst-1
	for _, field := range []string{"date", "created"} {
		for _, dir := range []string{"desc", "asc"} {
			for _, limit := range []int{500, 1700} {
				t.Run(field+"/"+dir+"/"+itoa(limit), func(t *testing.T) {
					filters := map[string]any{field: map[string]any{"range": map[string]any{"start": start, "end": end}}}
					got, pages, err := scanLikeTheDocs(t, s, filters, map[string]any{"sortField": field, "sortDirection": dir, "limit": limit})
					if err != nil {
						t.Fatal(err)
					}
					want := expected(tn, now, func(a *synth.Activity) bool {
						v := a.Timestamp
						if field == "created" {
							v = a.Created
						}
						return v >= start && v <= end
					})
					if len(want) < 3*limit {
						t.Fatalf("test tenant too small: %d records for limit %d", len(want), limit)
					}
					testkit.IDsExactlyOnce(t, recordIDs(got), want)
					if pages < len(want)/limit {
						t.Errorf("%d pages for %d records at limit %d", pages, len(want), limit)
					}
					assertOrdered(t, got, field == "created", dir == "desc")
				})
			}
		}
	}
}

// TestScanWholeTenantWithOversizedTies reads the whole tenant, tie burst included, with the option
// that returns an oversized tie group instead of stalling.
func TestScanWholeTenantWithOversizedTies(t *testing.T) {
	s, vc := newTestServer(t, Config{ReturnOversizedTies: true})
	for _, field := range []string{"date", "created"} {
		for _, dir := range []string{"desc", "asc"} {
			t.Run(field+"/"+dir, func(t *testing.T) {
				got, _, err := scanLikeTheDocs(t, s, nil, map[string]any{"sortField": field, "sortDirection": dir})
				if err != nil {
					t.Fatal(err)
				}
				testkit.IDsExactlyOnce(t, recordIDs(got), expected(s.Tenant(), vc.Now(), func(*synth.Activity) bool { return true }))
			})
		}
	}
}

// TestScanStallsOnTieBurst shows the documentation's loop stalls on a tie group >= limit: an empty
// page with hasNext and the same nextQueryFilters as the request.
func TestScanStallsOnTieBurst(t *testing.T) {
	s, _ := newTestServer(t, Config{})
	for _, field := range []string{"date", "created"} {
		for _, dir := range []string{"desc", "asc"} {
			t.Run(field+"/"+dir, func(t *testing.T) {
				got, _, err := scanLikeTheDocs(t, s, nil, map[string]any{"sortField": field, "sortDirection": dir, "limit": 500})
				if !errors.Is(err, errStall) {
					t.Fatalf("err = %v, want the stall", err)
				}
				burst := burstIDs(t, s.Tenant())
				for _, r := range got {
					if burst[r.ID] {
						t.Fatalf("a burst record was served before the stall: %s", r.ID)
					}
				}
				// The burst shares one timestamp and one created millisecond (the latter a few
				// minutes later, as the service stores it).
				at := burstAt.UnixMilli()
				if field == "created" {
					at = burstCreated(t, s.Tenant())
				}
				// The stalled request itself: the response's filters equal the request's.
				op := "lte"
				if dir == "asc" {
					op = "gte"
				}
				filters := map[string]any{field: map[string]any{op: at}}
				r := postJSON(t, s, map[string]any{"filters": filters, "isScan": true, "sortField": field, "sortDirection": dir})
				if len(r.Data) != 0 || !r.HasNext || !sameJSON(r.NextQueryFilters, mustJSON(t, filters)) {
					t.Fatalf("stall page: %d records, hasNext %v, nextQueryFilters %s", len(r.Data), r.HasNext, r.NextQueryFilters)
				}
			})
		}
	}
	// A limit above the group size gets through it.
	got, _, err := scanLikeTheDocs(t, s, map[string]any{"date": map[string]any{"gte": burstAt.UnixMilli() - 1000}},
		map[string]any{"limit": 1000})
	if err != nil {
		t.Fatalf("limit 1000 over a 600-record group: %v", err)
	}
	n := 0
	for _, r := range got {
		if r.Timestamp == burstAt.UnixMilli() {
			n++
		}
	}
	if n != 600 {
		t.Fatalf("%d burst records, want 600", n)
	}
}

// TestScanNextQueryFilters checks the shape of nextQueryFilters: the original filters kept as sent,
// the boundary added as lte (desc) or gte (asc), replacing a user bound with the same operator, and
// the boundary's tie group dropped from the page.
func TestScanNextQueryFilters(t *testing.T) {
	s, vc := newTestServer(t, Config{})
	tn := s.Tenant()
	userLte := burstAt.UnixMilli() - 1
	filters := map[string]any{
		"date":          map[string]any{"range": map[string]any{"start": 0, "end": userLte}, "lte": userLte},
		"activity.type": map[string]any{"eq": false},
	}
	r := postJSON(t, s, map[string]any{"filters": filters, "isScan": true})
	if !r.HasNext || len(r.Data) == 0 || len(r.Data) > 500 {
		t.Fatalf("first page: hasNext %v, %d records", r.HasNext, len(r.Data))
	}
	recs := decodeRecords(t, r.Data)
	var nq map[string]map[string]json.RawMessage
	if err := json.Unmarshal(r.NextQueryFilters, &nq); err != nil {
		t.Fatal(err)
	}
	if string(nq["activity.type"]["eq"]) != "false" || !sameJSON(nq["date"]["range"], mustJSON(t, filters["date"].(map[string]any)["range"])) {
		t.Fatalf("original filters not kept: %s", r.NextQueryFilters)
	}
	var b int64
	if err := json.Unmarshal(nq["date"]["lte"], &b); err != nil {
		t.Fatal(err)
	}
	last := recs[len(recs)-1].Timestamp
	if b >= last {
		t.Fatalf("boundary %d not below the last served timestamp %d", b, last)
	}
	// The records the page would have held with the boundary's ties: 500 minus the served ones
	// are exactly the matches at the boundary, all of which come back next page.
	matchesAtBoundary := 0
	for i := range tn.Len() {
		a := tn.Activity(i)
		if !a.Admin && a.Timestamp == b && a.Created <= vc.Now().UnixMilli() {
			matchesAtBoundary++
		}
	}
	if matchesAtBoundary == 0 || len(recs)+matchesAtBoundary < 500 {
		t.Fatalf("boundary %d: %d served + %d ties < 500", b, len(recs), matchesAtBoundary)
	}
	// hasNext false: no key at all.
	resp := postJSON(t, s, map[string]any{"filters": map[string]any{"activity.id": map[string]any{"eq": recs[0].ID}}, "isScan": true})
	if resp.HasNext || resp.NextQueryFilters != nil || len(resp.Data) != 1 {
		t.Fatalf("single-record scan: %+v", resp)
	}
}

// TestLateArrivalsAppearWhenTheClockAdvances: records appear when their created time passes, also
// those whose timestamp is long before: a window on date closed earlier misses them.
func TestLateArrivalsAppearWhenTheClockAdvances(t *testing.T) {
	s, vc := newTestServer(t, Config{})
	tn := s.Tenant()
	// t1 falls between the timestamp and created of a late arrival the generator made.
	var t1 time.Time
	for i := range tn.Len() {
		if a := tn.Activity(i); a.Created-a.Timestamp > int64(time.Hour/time.Millisecond) {
			t1 = time.UnixMilli((a.Timestamp + a.Created) / 2)
			break
		}
	}
	if t1.IsZero() {
		t.Fatal("the test tenant has no late arrivals")
	}
	vc.Set(t1)
	before, _, err := scanLikeTheDocs(t, s, map[string]any{"date": map[string]any{"lte": t1.UnixMilli()}}, map[string]any{"limit": 5000})
	if err != nil && !errors.Is(err, errStall) {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range before {
		seen[r.ID] = true
		if r.Created > t1.UnixMilli() {
			t.Fatalf("record %s served before its created time", r.ID)
		}
	}
	vc.Set(testEnd)
	// Late arrivals: timestamp <= t1, created > t1, computed from the generator.
	late := expected(tn, testEnd, func(a *synth.Activity) bool {
		return a.Timestamp <= t1.UnixMilli() && a.Created > t1.UnixMilli()
	})
	if len(late) == 0 {
		t.Fatal("the test tenant has no late arrivals across t1")
	}
	start := t1.UnixMilli() + 1
	got, _, err := scanLikeTheDocs(t, s, map[string]any{"created": map[string]any{"gte": start}},
		map[string]any{"sortField": "created", "sortDirection": "asc", "limit": 5000, "isScan": true})
	if err != nil && !errors.Is(err, errStall) {
		t.Fatal(err)
	}
	n := 0
	for _, r := range got {
		if late[r.ID] {
			n++
			if seen[r.ID] {
				t.Fatalf("late arrival %s was already visible", r.ID)
			}
		}
	}
	if n != len(late) {
		t.Fatalf("%d of %d late arrivals seen on created after advancing the clock", n, len(late))
	}
}

// assertOrdered checks records come in the requested order of (sort key, id).
func assertOrdered(t testing.TB, recs []record, created, desc bool) {
	t.Helper()
	for i := 1; i < len(recs); i++ {
		a, b := recs[i-1], recs[i]
		ka, kb := a.Timestamp, b.Timestamp
		if created {
			ka, kb = a.Created, b.Created
		}
		less := ka < kb || (ka == kb && a.ID < b.ID)
		if less == desc {
			t.Fatalf("records %d and %d out of order (%d %s, %d %s)", i-1, i, ka, a.ID, kb, b.ID)
		}
	}
}

// TestScanLimitClamp: scan pages hold 500–5000 records whatever limit says, 500 by default.
func TestScanLimitClamp(t *testing.T) {
	s, _ := newTestServer(t, Config{ReturnOversizedTies: true})
	// A window without the tie burst, holding more than 5000 records.
	filters := map[string]any{"date": map[string]any{"lt": burstAt.UnixMilli()}}
	cases := []struct {
		limit    any
		min, max int
	}{
		{nil, 400, 500}, {10, 400, 500}, {"2000", 1900, 2000}, {9000, 4900, 5000},
	}
	for _, c := range cases {
		req := map[string]any{"filters": filters, "isScan": true}
		if c.limit != nil {
			req["limit"] = c.limit
		}
		r := postJSON(t, s, req)
		// The page loses the boundary tie group, which is small in ordinary data.
		if len(r.Data) < c.min || len(r.Data) > c.max || !r.HasNext {
			t.Errorf("limit %v: %d records, hasNext %v", c.limit, len(r.Data), r.HasNext)
		}
	}
}

// burstIDs returns the ids of the test tenant's tie burst, from the generator's ground truth.
func burstIDs(t testing.TB, tn *synth.Tenant) map[string]bool {
	t.Helper()
	g := tn.GroundTruth()
	if len(g.TieBursts) != 1 || g.TieBursts[0].Size != 600 || len(g.TieBursts[0].IDs) != 600 {
		t.Fatalf("ground truth tie bursts: %+v", g.TieBursts)
	}
	ids := map[string]bool{}
	for _, id := range g.TieBursts[0].IDs {
		ids[id] = true
	}
	return ids
}

// burstCreated is the created millisecond the burst's records share.
func burstCreated(t testing.TB, tn *synth.Tenant) int64 {
	t.Helper()
	ids := burstIDs(t, tn)
	created := map[int64]int{}
	for i := range tn.Len() {
		if a := tn.Activity(i); ids[a.ID] {
			created[a.Created]++
			if a.Timestamp != burstAt.UnixMilli() {
				t.Fatalf("burst record %s has timestamp %d, want %d", a.ID, a.Timestamp, burstAt.UnixMilli())
			}
		}
	}
	if len(created) != 1 {
		t.Fatalf("burst records have %d created values, want one", len(created))
	}
	for c := range created {
		return c
	}
	return 0
}
