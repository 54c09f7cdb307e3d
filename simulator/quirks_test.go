package simulator

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/simulator/synth"
)

// TestServiceClock: the Date header, visibility and a generated tenant's end follow the
// simulator's clock, not the machine's.
func TestServiceClock(t *testing.T) {
	for _, offset := range []time.Duration{-365 * 24 * time.Hour, 2 * time.Hour} {
		clk := clock.NewOffset(clock.Real{}, offset)
		s := NewServer(Config{Clock: clk, RateLimit: NoRateLimit, Synth: synth.Config{Seed: 3, Users: 5, Days: 2, Total: 200}})
		_, hdr, _ := call(t, http.MethodGet, s.URL+"/api/v1/activities/?limit=1", s.Token, "", nil)
		date, err := http.ParseTime(hdr.Get("Date"))
		if err != nil {
			t.Fatalf("Date header %q: %v", hdr.Get("Date"), err)
		}
		want := time.Now().Add(offset)
		if d := date.Sub(want); d < -2*time.Second || d > 2*time.Second {
			t.Errorf("offset %s: Date %s, want about %s", offset, date, want)
		}
		if end := s.Tenant().End(); end.Sub(want).Abs() > 5*time.Second {
			t.Errorf("offset %s: generated data ends %s, want about the service's now %s", offset, end, want)
		}
		// What is visible is what the service's clock has reached, whatever the local clock: every
		// record but the late arrivals whose created is still ahead of the service's now (how many
		// depends on the time of day the test runs at).
		r := postJSON(t, s, map[string]any{"limit": 100})
		if want := len(expected(s.Tenant(), clk.Now(), func(*synth.Activity) bool { return true })); r.Total != want {
			t.Errorf("offset %s: total %d visible, want %d (created up to the service's now)", offset, r.Total, want)
		}
		s.Close()
	}
}

func TestVisibilityLag(t *testing.T) {
	s, vc := newTestServer(t, Config{VisibilityLag: time.Hour})
	tn := s.Tenant()
	var newest int64
	for i := range tn.Len() {
		newest = max(newest, tn.Activity(i).Created)
	}
	now := time.UnixMilli(newest).Add(30 * time.Minute)
	vc.Set(now)
	want := len(expected(tn, now.Add(-time.Hour), func(*synth.Activity) bool { return true }))
	all := len(expected(tn, now, func(*synth.Activity) bool { return true }))
	if r := postJSON(t, s, map[string]any{"limit": 1}); r.Total != want || want == all {
		t.Fatalf("total %d with a 1 h lag, want %d (of %d without the lag)", r.Total, want, all)
	}
}

func TestQuirkIgnoreDirection(t *testing.T) {
	s, _ := newTestServer(t, Config{Quirks: []Quirk{QuirkIgnoreDirection}})
	for _, scan := range []bool{false, true} {
		r := postJSON(t, s, map[string]any{"limit": 500, "sortField": "created", "sortDirection": "asc", "isScan": scan})
		recs := decodeRecords(t, r.Data)
		if len(recs) < 2 || recs[0].Created < recs[len(recs)-1].Created {
			t.Fatalf("scan=%v: pages not descending despite asc: first %d last %d", scan, recs[0].Created, recs[len(recs)-1].Created)
		}
		if scan && !strings.Contains(string(r.NextQueryFilters), `"lte"`) {
			t.Errorf("nextQueryFilters %s does not move the lte bound", r.NextQueryFilters)
		}
	}
}

func TestQuirkEmptyOnTie(t *testing.T) {
	s, _ := newTestServer(t, Config{Quirks: []Quirk{QuirkEmptyOnTie}})
	first := postJSON(t, s, map[string]any{"limit": 500, "sortField": "created", "sortDirection": "asc", "isScan": true})
	if len(first.Data) == 0 || !first.HasNext {
		t.Fatalf("first page: %d records, hasNext %v", len(first.Data), first.HasNext)
	}
	// The service's own next filters start on an existing millisecond: the quirk answers empty.
	next := postJSON(t, s, map[string]any{"filters": first.NextQueryFilters, "limit": 500, "sortField": "created", "sortDirection": "asc", "isScan": true})
	if len(next.Data) != 0 || next.HasNext || next.Total == 0 {
		t.Fatalf("scan on an existing millisecond: %d records, hasNext %v, total %d; want the empty last page with records remaining", len(next.Data), next.HasNext, next.Total)
	}
	// Outside scan mode the same filters answer.
	list := postJSON(t, s, map[string]any{"filters": first.NextQueryFilters, "limit": 100, "sortField": "created", "sortDirection": "asc"})
	if len(list.Data) == 0 {
		t.Fatal("list mode lost the records too")
	}
}

func TestQuirkApproximateTotal(t *testing.T) {
	s, vc := newTestServer(t, Config{Quirks: []Quirk{QuirkApproximateTotal}})
	n := len(expected(s.Tenant(), vc.Now(), func(*synth.Activity) bool { return true }))
	differs := false
	for range 20 {
		r := postJSON(t, s, map[string]any{"limit": 100})
		if r.Total < n*95/100 || r.Total > n*105/100+1 {
			t.Fatalf("total %d, want within 5 %% of %d", r.Total, n)
		}
		differs = differs || r.Total != n
	}
	// hasNext follows the true count: a scan reads every record once.
	got, _, err := scanLikeTheDocs(t, s, map[string]any{}, map[string]any{"limit": 5000})
	if err != nil {
		t.Fatal(err)
	}
	testkit.IDsExactlyOnce(t, recordIDs(got), expected(s.Tenant(), vc.Now(), func(*synth.Activity) bool { return true }))
	if !differs {
		t.Error("the total was exact 20 times out of 20")
	}
	if _, err := ParseQuirk("nope"); err == nil {
		t.Error("ParseQuirk accepted an unknown quirk")
	}
}
