package simulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/simulator/synth"
)

// testEnd is where the test tenants' data ends; tests run the virtual clock around it.
var testEnd = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// burstAt is the millisecond of the test tenant's 600-record tie burst (stall tests).
var burstAt = testEnd.Add(-30 * time.Hour).Add(123 * time.Millisecond)

var (
	tenantOnce sync.Once
	tenantData *synth.Tenant
)

// testTenant is one shared small tenant with a tie burst of 600 (≥ the default scan limit of 500),
// generated once because tests only read it.
func testTenant(t testing.TB) *synth.Tenant {
	t.Helper()
	tenantOnce.Do(func() {
		tenantData = synth.New(synth.Config{Seed: 7, Users: 40, Days: 5, End: testEnd, Total: 8000,
			TieBursts: []synth.TieBurst{{At: burstAt, Size: 600, Field: "both"}}})
	})
	return tenantData
}

// newTestServer starts a simulator over the shared tenant with a virtual clock at testEnd and
// throttling off unless cfg says otherwise.
func newTestServer(t testing.TB, cfg Config) (*Server, *clock.Virtual) {
	t.Helper()
	vc := clock.NewVirtual(testEnd, false)
	if cfg.Tenant == nil {
		cfg.Tenant = testTenant(t)
	}
	if cfg.Clock == nil {
		cfg.Clock = vc
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = NoRateLimit
	}
	s := NewServer(cfg)
	t.Cleanup(s.Close)
	return s, vc
}

// apiResponse is the envelope as a client sees it.
type apiResponse struct {
	Total            int               `json:"total"`
	HasNext          bool              `json:"hasNext"`
	Data             []json.RawMessage `json:"data"`
	NextQueryFilters json.RawMessage   `json:"nextQueryFilters"`
}

// call sends one request and returns status, headers and body.
func call(t testing.TB, method, url, token, contentType string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return resp.StatusCode, resp.Header, b
}

// postJSON posts v as JSON to the activities endpoint and decodes a 200 answer.
func postJSON(t testing.TB, s *Server, v any) apiResponse {
	t.Helper()
	body, _ := json.Marshal(v)
	status, _, b := call(t, http.MethodPost, s.URL+"/api/v1/activities/", s.Token, "application/json", body)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, b)
	}
	var r apiResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return r
}

// record is what tests read from a served record.
type record struct {
	ID        string `json:"_id"`
	Timestamp int64  `json:"timestamp"`
	Created   int64  `json:"created"`
}

// decodeRecords reads _id, timestamp and created from each record. Records are a few KB each, so
// rather than decode them whole it reads the top-level keys the generator writes first, and falls
// back to a full decode when they are not where expected.
func decodeRecords(t testing.TB, data []json.RawMessage) []record {
	t.Helper()
	out := make([]record, len(data))
	for i, d := range data {
		if r, ok := quickRecord(d); ok && i > 0 {
			out[i] = r
			continue
		}
		if err := json.Unmarshal(d, &out[i]); err != nil {
			t.Fatalf("decode record: %v", err)
		}
		if r, ok := quickRecord(d); ok && r != out[i] {
			t.Fatalf("quick decode %+v differs from full decode %+v", r, out[i])
		}
	}
	return out
}

func quickRecord(d []byte) (record, bool) {
	const idKey = `{"_id":"`
	if !bytes.HasPrefix(d, []byte(idKey)) || len(d) < len(idKey)+65 || d[len(idKey)+64] != '"' {
		return record{}, false
	}
	r := record{ID: string(d[len(idKey) : len(idKey)+64])}
	num := func(key string) (int64, bool) {
		j := bytes.Index(d, []byte(`,"`+key+`":`))
		if j < 0 {
			return 0, false
		}
		rest := d[j+len(key)+4:]
		k := bytes.IndexAny(rest, ",}")
		if k < 0 {
			return 0, false
		}
		v, err := strconv.ParseInt(string(rest[:k]), 10, 64)
		return v, err == nil
	}
	var ok1, ok2 bool
	r.Timestamp, ok1 = num("timestamp")
	r.Created, ok2 = num("created")
	return r, ok1 && ok2
}

// errStall is what the documentation's loop runs into on a tie group >= limit.
var errStall = fmt.Errorf("stall: empty page with unchanged nextQueryFilters")

// scanLikeTheDocs is the Python example of the API documentation in Go: post the filters with
// isScan, then replace the filters by nextQueryFilters until hasNext is false. It returns the ids in
// the order received, and errStall when a page makes no progress.
func scanLikeTheDocs(t testing.TB, s *Server, filters map[string]any, extra map[string]any) ([]record, int, error) {
	t.Helper()
	req := map[string]any{"filters": filters, "isScan": true}
	for k, v := range extra {
		req[k] = v
	}
	var got []record
	pages := 0
	var prev json.RawMessage
	for {
		r := postJSON(t, s, req)
		pages++
		got = append(got, decodeRecords(t, r.Data)...)
		if !r.HasNext {
			if r.NextQueryFilters != nil {
				t.Fatalf("nextQueryFilters present with hasNext false: %s", r.NextQueryFilters)
			}
			return got, pages, nil
		}
		if len(r.Data) == 0 && bytes.Equal(prev, r.NextQueryFilters) {
			return got, pages, errStall
		}
		if pages > 10000 {
			t.Fatal("scan does not end")
		}
		prev = r.NextQueryFilters
		req["filters"] = json.RawMessage(r.NextQueryFilters)
	}
}

// expected computes, by brute force over the generator's output, the ids visible at now that
// satisfy keep.
func expected(tn *synth.Tenant, now time.Time, keep func(a *synth.Activity) bool) map[string]bool {
	out := map[string]bool{}
	for i := range tn.Len() {
		a := tn.Activity(i)
		if a.Created <= now.UnixMilli() && keep(a) {
			out[a.ID] = true
		}
	}
	return out
}

// recordIDs are the ids of records, in order.
func recordIDs(records []record) []string {
	ids := make([]string, len(records))
	for i, r := range records {
		ids[i] = r.ID
	}
	return ids
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func errorMessage(t testing.TB, body []byte) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body is not the JSON error shape: %v: %s", err, body)
	}
	return e.Error.Message
}

func sameJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

func lower(s string) string { return strings.ToLower(s) }
