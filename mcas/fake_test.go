package mcas

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
)

// fakeAPI is a small Activities endpoint for precise fault sequences: the scan algorithm of
// research/mcas-api.md §4.5 (drop the boundary tie group, move the bound, stall on a group of
// at least a page), skip/limit paging with a deep-offset ceiling, and a queue of faults served
// before normal answers.
type fakeAPI struct {
	t       testing.TB
	clock   clock.Clock
	ceiling int
	auth    func(string) int // status for an Authorization header; nil accepts "Token good-token-0123"

	mu       sync.Mutex
	records  []fakeRecord
	byField  map[string][]fakeRecord // records sorted by (field, ID), built on first use
	faults   []http.HandlerFunc
	requests []fakeRequest
}

type fakeRecord struct {
	ID      string
	TS      int64
	Created int64
	Admin   bool  // activity.type
	App     int64 // appId, filtered by service
}

type fakeRequest struct {
	At   time.Time
	Body requestBody
	Auth string
}

const goodToken = "good-token-0123456789abcdef"

func newFakeAPI(t testing.TB, clk clock.Clock, records []fakeRecord) (*fakeAPI, *httptest.Server) {
	f := &fakeAPI{t: t, clock: clk, ceiling: 5000, records: records}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

// fault queues handlers that answer the next requests, one each, before normal service resumes.
func (f *fakeAPI) fault(h ...http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.faults = append(f.faults, h...)
}

func (f *fakeAPI) log() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.requests...)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body requestBody
	_ = json.NewDecoder(r.Body).Decode(&body)
	f.mu.Lock()
	f.requests = append(f.requests, fakeRequest{At: f.clock.Now(), Body: body, Auth: r.Header.Get("Authorization")})
	var fault http.HandlerFunc
	if len(f.faults) > 0 {
		fault, f.faults = f.faults[0], f.faults[1:]
	}
	f.mu.Unlock()
	if fault != nil {
		fault(w, r)
		return
	}
	status := http.StatusOK
	if f.auth != nil {
		status = f.auth(r.Header.Get("Authorization"))
	} else if r.Header.Get("Authorization") != "Token "+goodToken {
		status = http.StatusForbidden
	}
	if status != http.StatusOK {
		http.Error(w, `{"error":{"message":"Invalid token"}}`, status)
		return
	}
	resp, status := f.answer(body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(resp)
}

// sorted returns the records ordered by (key, ID), sorting once per field.
func (f *fakeAPI) sorted(field string, key func(fakeRecord) int64) []fakeRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	if rs, ok := f.byField[field]; ok {
		return rs
	}
	rs := slices.Clone(f.records)
	sort.Slice(rs, func(i, j int) bool {
		a, c := rs[i], rs[j]
		if key(a) != key(c) {
			return key(a) < key(c)
		}
		return a.ID < c.ID
	})
	if f.byField == nil {
		f.byField = map[string][]fakeRecord{}
	}
	f.byField[field] = rs
	return rs
}

func (f *fakeAPI) answer(b requestBody) (map[string]any, int) {
	filters, err := DecodeFilters(b.Filters)
	if err != nil {
		return map[string]any{"error": map[string]any{"message": "bad filters: " + err.Error()}}, http.StatusBadRequest
	}
	key := func(r fakeRecord) int64 { return r.TS }
	if b.SortField == SortCreated {
		key = func(r fakeRecord) int64 { return r.Created }
	}
	date, created := compileRange(filters["date"]), compileRange(filters["created"])
	all := f.sorted(b.SortField, key)
	rs := make([]fakeRecord, 0, len(all))
	for _, r := range all {
		if date(r.TS) && created(r.Created) && matchAdmin(filters["activity.type"], r.Admin) && matchApp(filters["service"], r.App) {
			rs = append(rs, r)
		}
	}
	if b.SortDirection == Desc {
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
	}
	render := func(p []fakeRecord) []json.RawMessage {
		out := make([]json.RawMessage, 0, len(p))
		for _, r := range p {
			out = append(out, json.RawMessage(fmt.Sprintf(`{"_id":%q,"timestamp":%d,"created":%d,"appId":%d,"eventRouting":{"adminEvent":%t}}`, r.ID, r.TS, r.Created, r.App, r.Admin)))
		}
		return out
	}
	if !b.IsScan {
		if b.Skip+b.Limit > f.ceiling {
			return map[string]any{"error": map[string]any{"message": "skip+limit beyond the deep-offset ceiling"}}, http.StatusBadRequest
		}
		lo, hi := min(b.Skip, len(rs)), min(b.Skip+b.Limit, len(rs))
		return map[string]any{"total": len(rs), "hasNext": hi < len(rs), "data": render(rs[lo:hi])}, http.StatusOK
	}
	if len(rs) <= b.Limit {
		return map[string]any{"total": len(rs), "hasNext": false, "data": render(rs)}, http.StatusOK
	}
	page := rs[:b.Limit]
	boundary := key(page[len(page)-1])
	kept := page[:0:0]
	for _, r := range page {
		if key(r) != boundary {
			kept = append(kept, r)
		}
	}
	next := filters.Clone()
	op := "lte"
	if b.SortDirection == Asc {
		op = "gte"
	}
	next = next.Set(b.SortField, op, boundary)
	return map[string]any{"total": len(rs), "hasNext": true, "data": render(kept), "nextQueryFilters": next}, http.StatusOK
}

// compileRange turns gte/lte/gt/lt/range of one filter key into an inclusive [lo, hi] test.
func compileRange(ops map[string]any) func(int64) bool {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	for op, x := range ops {
		if op == "range" {
			list, ok := x.([]any)
			if !ok {
				list = []any{x}
			}
			for _, r := range list {
				m := r.(map[string]any)
				s, _ := toInt64(m["start"])
				e, _ := toInt64(m["end"])
				lo, hi = max(lo, s), min(hi, e)
			}
			continue
		}
		n, _ := toInt64(x)
		switch op {
		case "gte":
			lo = max(lo, n)
		case "lte":
			hi = min(hi, n)
		case "gt":
			lo = max(lo, n+1)
		case "lt":
			hi = min(hi, n-1)
		}
	}
	return func(v int64) bool { return v >= lo && v <= hi }
}

func matchAdmin(ops map[string]any, admin bool) bool {
	v, ok := ops["eq"]
	return !ok || v == admin
}

// matchApp applies service eq/neq (a list or a scalar).
func matchApp(ops map[string]any, app int64) bool {
	in := func(v any) bool {
		list, ok := v.([]any)
		if !ok {
			list = []any{v}
		}
		for _, x := range list {
			if n, _ := toInt64(x); n == app {
				return true
			}
		}
		return false
	}
	if v, ok := ops["eq"]; ok && !in(v) {
		return false
	}
	if v, ok := ops["neq"]; ok && in(v) {
		return false
	}
	return true
}

// genRecords makes n records one second apart from base, plus tie groups of the given sizes at
// the given offsets (all records of a group share one millisecond on both fields).
func genRecords(n int, base int64, ties map[int64]int) []fakeRecord {
	var out []fakeRecord
	for i := range n {
		ts := base + int64(i)*1000
		out = append(out, fakeRecord{ID: fmt.Sprintf("r%06d", i), TS: ts, Created: ts + 200, App: 11161})
	}
	for at, size := range ties {
		for j := range size {
			out = append(out, fakeRecord{ID: fmt.Sprintf("t%d-%05d", at, j), TS: base + at, Created: base + at + 200, App: 11161})
		}
	}
	return out
}

// statusFault answers with status and body once.
func statusFault(status int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

// resetFault closes the connection without an answer.
func resetFault(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// truncatedFault promises a long body and sends half of a JSON envelope.
func truncatedFault(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Length", "1000")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`{"total":3,"hasNext":false,"data":[{"_id":"x"`))
}

// invalidJSONFault answers 200 with the portal's HTML shell.
func invalidJSONFault(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(`<html><body>` + strings.Repeat("portal ", 3) + `</body></html>`))
}
