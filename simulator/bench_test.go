package simulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/simulator/synth"
)

var (
	bigOnce   sync.Once
	bigTenant *synth.Tenant
)

// benchTenant is a 1M-record tenant (37 days, 2000 users), generated once per benchmark binary.
func benchTenant(b *testing.B) *synth.Tenant {
	b.Helper()
	bigOnce.Do(func() {
		start := time.Now()
		bigTenant = synth.New(synth.Config{Seed: 1, Users: 2000, Days: 37, End: testEnd, Total: 1_000_000})
		b.Logf("generated %d records in %v", bigTenant.Len(), time.Since(start))
	})
	return bigTenant
}

// discardWriter is a ResponseWriter that counts and drops the body.
type discardWriter struct {
	h http.Header
	n int64
}

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { d.n += int64(len(p)); return len(p), nil }

// BenchmarkScanPage5000 serves scan pages of 5000 records from a 1M-record tenant through the
// handler alone (no network), walking the tenant with nextQueryFilters the way a client does.
func BenchmarkScanPage5000(b *testing.B) {
	for _, field := range []string{"date", "created"} {
		b.Run(field, func(b *testing.B) {
			h := NewHandler(Config{Tenant: benchTenant(b), RateLimit: NoRateLimit, Clock: clock.NewVirtual(testEnd, false)})
			var bytesOut, records int64
			filters := json.RawMessage(`{}`)
			b.ResetTimer()
			for b.Loop() {
				body := []byte(`{"isScan":true,"limit":5000,"sortField":"` + field + `","sortDirection":"asc","filters":` + string(filters) + `}`)
				req, _ := http.NewRequest(http.MethodPost, "/api/v1/activities/", bytes.NewReader(body))
				req.Header.Set("Authorization", "Token "+h.Token())
				w := &discardWriter{h: http.Header{}}
				// Capture nextQueryFilters cheaply: render into the counting writer and ask the
				// handler's planner for the next bound directly.
				h.ServeHTTP(w, req)
				bytesOut += w.n
				next, n := nextFilters(b, h, body)
				records += int64(n)
				if next == nil {
					filters = json.RawMessage(`{}`)
				} else {
					filters = next
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
			b.ReportMetric(float64(bytesOut)/float64(records), "B/record")
			b.ReportMetric(float64(bytesOut)/b.Elapsed().Seconds()/1e6, "MB/s")
		})
	}
}

// nextFilters replays the page's planning (without rendering) to learn nextQueryFilters.
func nextFilters(b *testing.B, h *Handler, body []byte) (json.RawMessage, int) {
	params := map[string]json.RawMessage{}
	if err := parseBody(params, "application/json", body); err != nil {
		b.Fatal(err)
	}
	q, err := parseListQuery(params)
	if err != nil {
		b.Fatal(err)
	}
	now := h.clk.Now()
	m, err := compileFilters(q.filters, now)
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	p := h.idx.plan(m, q.sortField == "created", q.desc, now.UnixMilli())
	res := h.scanPage(q, p, &buf, nil)
	if res.nextQueryFilters == nil {
		return nil, len(res.ids)
	}
	out, _ := json.Marshal(res.nextQueryFilters)
	return out, len(res.ids)
}

// BenchmarkScanLoopback runs the documentation's loop over loopback HTTP against a 1M-record
// tenant: the figure the loader's benchmarks depend on.
func BenchmarkScanLoopback(b *testing.B) {
	s := NewServer(Config{Tenant: benchTenant(b), RateLimit: NoRateLimit, Clock: clock.NewVirtual(testEnd, false)})
	defer s.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	filters := json.RawMessage(`{}`)
	var bytesIn int64
	var body bytes.Buffer
	b.ResetTimer()
	for b.Loop() {
		q := []byte(`{"isScan":true,"limit":5000,"sortField":"created","sortDirection":"asc","filters":` + string(filters) + `}`)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/api/v1/activities/", bytes.NewReader(q))
		req.Header.Set("Authorization", "Token "+s.Token)
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body.Reset() // reuse one buffer: a 17 MB io.ReadAll per page costs more than the server
		_, err = body.ReadFrom(resp.Body)
		resp.Body.Close()
		raw := body.Bytes()
		if err != nil || resp.StatusCode != 200 {
			b.Fatalf("%v %d", err, resp.StatusCode)
		}
		bytesIn += int64(len(raw))
		var env struct {
			HasNext          bool            `json:"hasNext"`
			NextQueryFilters json.RawMessage `json:"nextQueryFilters"`
		}
		// Find the tail without decoding 10 MB of records: nextQueryFilters is the last key.
		if i := bytes.LastIndex(raw, []byte(`],"nextQueryFilters":`)); i >= 0 {
			_ = json.Unmarshal(append([]byte(`{"hasNext":true,`), raw[i+2:]...), &env)
		}
		if env.NextQueryFilters == nil {
			filters = json.RawMessage(`{}`)
		} else {
			filters = env.NextQueryFilters
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pages/s")
	b.ReportMetric(float64(bytesIn)/b.Elapsed().Seconds()/1e6, "MB/s")
}
