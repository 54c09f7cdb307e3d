package reliability

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/progress"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/loader"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// hostileEnd is the newest activity time of the in-process hostile tenants (virtual clocks).
var hostileEnd = time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)

const (
	hostileToken  = "hostileToken3c5e7a9b1d3f5e7c9a1b3d5f7e9c1a3b5d7f9e1c3a5b7d9f1e3c5a7b9d1f3e5c7a9b"
	hostileSecret = "hostileClientSecret~9f8e7d6c5b4a3f2e1d0c"
)

// hostileRates spreads a 20 % fault rate over every kind the simulator injects.
func hostileRates(kinds []simulator.Fault) map[simulator.Fault]float64 {
	rates := map[simulator.Fault]float64{}
	for _, k := range kinds {
		rates[k] = 0.20 / float64(len(kinds))
	}
	return rates
}

// hostileTenant has a tie burst bigger than a 500-record page (and, in the long run, one bigger
// than a 5000-record page and the deep-offset ceiling) and 5 % late arrivals.
func hostileTenant(seed int64) *synth.Tenant {
	bursts := []synth.TieBurst{{At: hostileEnd.Add(-50 * time.Hour), Size: 600, Field: "both"}}
	total := 600 + 8000
	if long {
		bursts = append(bursts, synth.TieBurst{At: hostileEnd.Add(-26 * time.Hour), Size: 5200, Field: "both"})
		total += 5200 + 12000
	}
	return synth.New(synth.Config{Seed: seed, Users: 30, Days: 4, End: hostileEnd, Total: total, TieBursts: bursts, LateArrivals: 0.05})
}

// statusCounter counts the statuses the simulator answered, by code.
type statusCounter struct {
	next http.Handler
	mu   sync.Mutex
	n    map[int]int
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets the simulator reach the connection (it hijacks it for upper-case 429 reasons).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (c *statusCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &statusRecorder{ResponseWriter: w}
	defer func() {
		c.mu.Lock()
		c.n[rec.status]++
		c.mu.Unlock()
	}()
	c.next.ServeHTTP(rec, r)
}

// snapshot copies the counts; a handler may still be finishing a request the client gave up on.
func (c *statusCounter) snapshot() map[int]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[int]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

func (c *statusCounter) get(code int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[code]
}

// hostileWarehouse acts on the simulator between commits, mid-scan: after the first commit it
// forces one fault of every kind in a row; with jump set, after the second it moves the
// simulator's clock past the bearer token's lifetime without the client's clock knowing, so the
// next request meets an expired token.
type hostileWarehouse struct {
	*warehouse.Writer
	sim     *simulator.Handler
	server  *clock.Virtual
	jump    time.Duration
	commits atomic.Int64
}

func (e *hostileWarehouse) Commit(ctx context.Context, c warehouse.Commit) (warehouse.CommitResult, error) {
	res, err := e.Writer.Commit(ctx, c)
	switch e.commits.Add(1) {
	case 1:
		forceEveryFault(e.sim)
	case 2:
		if e.jump > 0 {
			e.server.Advance(e.jump)
		}
	}
	return res, err
}

// forceEveryFault makes the next requests fail once with each fault kind, so every kind is met
// whatever the random draw.
func forceEveryFault(h *simulator.Handler) {
	for _, f := range simulator.Faults() {
		h.FailNext(1, f)
	}
}

type hostileVariant struct {
	name         string
	noRetryAfter bool
	entra        bool
}

// TestReliabilityHostileAPI scans an in-process simulator that fails 20 % of API requests (every
// fault kind: 429 with and without Retry-After, 500 HTML, 502, 504, resets, truncated bodies, and
// slow answers past the client's timeout), has tie bursts bigger than a page, and late arrivals
// that appear between two runs; with Entra auth the simulator's clock jumps past the token's
// lifetime mid-scan. Both runs must end exact against the generator's records.
func TestReliabilityHostileAPI(t *testing.T) {
	row := record(t, "hostile API (library)", "in-process scans through mcas + loader + warehouse: 20 % faults over 429 (with and without Retry-After), 500 HTML, 502, 504, reset, truncated body, slow past the 3 s client timeout; bearer token expired mid-scan; 600-record tie burst (long run: also 5200); 5 % late arrivals picked up by a second run")
	variants := []hostileVariant{
		{name: "legacy token, 429 with Retry-After"},
		{name: "entra token expiring mid-scan, 429 without Retry-After", noRetryAfter: true, entra: true},
	}
	seeds := pick([]int64{1}, []int64{1, 2, 3, 4})
	var scans, requests, faults, retries atomic.Int64
	for _, v := range variants {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("%s seed %d", v.name, seed), func(t *testing.T) {
				st := hostileScan(t, v, seed)
				scans.Add(2)
				requests.Add(st.requests)
				faults.Add(st.faults)
				retries.Add(st.retries)
			})
		}
	}
	row.set(int(scans.Load()), "every run exact (ids, both sinks, days, raw) after %d requests of which %d injected faults, %d client retries", requests.Load(), faults.Load(), retries.Load())
}

type hostileStats struct{ requests, faults, retries int64 }

func hostileScan(t *testing.T, v hostileVariant, seed int64) hostileStats {
	tn := hostileTenant(seed)
	serverClock := clock.NewVirtual(hostileEnd, false)
	clientClock := clock.NewVirtual(hostileEnd, true)
	h := simulator.NewHandler(simulator.Config{
		Tenant: tn, Token: hostileToken, ClientSecret: hostileSecret, Clock: serverClock,
		RateLimit: simulator.NoRateLimit, NoRetryAfter: v.noRetryAfter, TokenLifetime: time.Hour,
		FaultRates: hostileRates(simulator.Faults()), FaultSeed: uint64(seed), SlowDelay: 5 * time.Second,
	})
	counter := &statusCounter{next: h, n: map[int]int{}}
	srv := httptest.NewServer(counter)
	var transport http.RoundTripper
	var auth mcas.Auth = mcas.TokenAuth{Token: mcas.NewSecret(hostileToken)}
	if v.entra {
		srv.Close()
		srv = httptest.NewTLSServer(counter) // Microsoft's sign-in library wants an HTTPS authority
		transport = srv.Client().Transport
		auth = mcas.EntraAuth{TenantID: h.TenantID(), ClientID: h.ClientID(), Secret: mcas.NewSecret(hostileSecret), AuthorityURL: srv.URL}
	}
	t.Cleanup(srv.Close)
	client, err := mcas.NewClient(mcas.Config{
		URL: srv.URL, Auth: auth, Clock: clientClock, Transport: transport,
		Limiter: mcas.NewLimiter(clientClock, 1000, mcas.DefaultWindow),
		Retry:   mcas.RetryPolicy{MaxAttempts: 12},
		// Long enough for a 5000-record page on a loaded 2-core machine, shorter than SlowDelay.
		RequestTimeout: 3 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "wh")
	scanOnce := func(parallel int) (*loader.Summary, loader.ScanPlan) {
		ctx := t.Context()
		w, err := warehouse.Open(ctx, warehouse.Options{Dir: dir, Source: "simulator", MemoryLimit: "256MB", Threads: 1, CompactOver: 1,
			Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
		defer mem.AssertSize(t, 0)
		var plan loader.ScanPlan
		sw := &hostileWarehouse{Writer: w, sim: h, server: serverClock}
		if v.entra {
			sw.jump = 2 * time.Hour
		}
		sum, err := loader.Scan(ctx, client, sw, loader.ScanOptions{
			URL: srv.URL, Limit: 500, Parallel: parallel, Clock: clientClock, Logger: slog.New(slog.DiscardHandler),
			Pipeline: loader.Options{Workers: 2, Allocator: mem, BatchRows: 700},
			OnStart:  func(p loader.ScanPlan, _ func() progress.Snapshot) { plan = p },
		})
		if cerr := w.Close(context.WithoutCancel(ctx)); cerr != nil {
			t.Fatalf("close warehouse: %v", cerr)
		}
		if err != nil {
			t.Fatalf("scan under faults: %v", err)
		}
		return sum, plan
	}

	forceEveryFault(h)
	tokensBefore := h.Stats().Tokens
	_, plan1 := scanOnce(2)
	want1 := sinks.WantTenant(tn, plan1.To)
	sinks.ExactlyOnce(t, dir, want1)
	late := 0
	for i := range tn.Len() {
		if a := tn.Activity(i); a.Created >= plan1.To.UnixMilli() && a.Timestamp < plan1.To.UnixMilli() {
			late++
		}
	}
	if late == 0 {
		t.Fatal("no late arrival is hidden from the first run; the second run would prove nothing")
	}
	if v.entra {
		if got := h.Stats().Tokens - tokensBefore; got < 2 || counter.get(http.StatusUnauthorized) == 0 {
			t.Errorf("token endpoint served %d tokens and the API %d 401s: the token never expired mid-scan", got, counter.get(http.StatusUnauthorized))
		}
	}

	// Half a day later the late arrivals are visible; the next incremental run must find them.
	next := serverClock.Now()
	if c := clientClock.Now(); c.After(next) {
		next = c
	}
	next = next.Add(14 * time.Hour)
	serverClock.Set(next)
	clientClock.Set(next)
	sum2, plan2 := scanOnce(3)
	if plan2.Mode != "incremental" {
		t.Errorf("second run mode %q, want incremental", plan2.Mode)
	}
	want2 := sinks.WantTenant(tn, plan2.To)
	sinks.ExactlyOnce(t, dir, want2)
	if int(sum2.New) != len(want2)-len(want1) {
		t.Errorf("second run stored %d new rows, want %d (%d late arrivals among them)", sum2.New, len(want2)-len(want1), late)
	}

	st := h.Stats()
	cs := client.Stats()
	// 429s go out on a hijacked connection (upper-case reason phrase): counted by the simulator.
	if st.Throttled == 0 || cs.Throttled == 0 {
		t.Errorf("429s served %d, seen by the client %d: the run did not meet throttling", st.Throttled, cs.Throttled)
	}
	for _, code := range []int{http.StatusInternalServerError, http.StatusBadGateway, http.StatusGatewayTimeout} {
		if counter.get(code) == 0 {
			t.Errorf("the simulator never answered %d: the run did not meet every fault", code)
		}
	}
	if st.Faults == 0 || cs.Retries == 0 || cs.Stalls == 0 {
		t.Errorf("faults %d, client retries %d, tie groups %d: the run did not exercise them", st.Faults, cs.Retries, cs.Stalls)
	}
	t.Logf("%d requests, %d faults (statuses %v), %d client retries, %d tie groups, %d late arrivals", st.Requests, st.Faults, counter.snapshot(), cs.Retries, cs.Stalls, late)
	return hostileStats{requests: st.Requests, faults: st.Faults, retries: cs.Retries}
}

// TestReliabilityHostileAPICLI runs the real `mcasload scan` against a simulator failing 20 % of
// requests (429 with Retry-After, 500, 502, 504, resets, truncated bodies, slow answers) on the
// real clock, with a tie burst bigger than the page: the result is exact.
func TestReliabilityHostileAPICLI(t *testing.T) {
	binary(t)
	row := record(t, "hostile API (CLI)", "real `mcasload scan` against a loopback simulator failing 20 % of requests (429, 500 HTML, 502, 504, reset, truncated, slow), 600-record tie burst over 500-record pages")
	tn := crashTenant()
	runs := pick(1, 3)
	var faults int64
	for i := range runs {
		srv := simulator.NewServer(simulator.Config{
			Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit, RateWindow: time.Second,
			FaultRates: hostileRates(simulator.Faults()), FaultSeed: uint64(100 + i), SlowDelay: 300 * time.Millisecond,
		})
		t.Cleanup(srv.Close)
		// Three forced faults first, so a short run meets faults whatever the random draw.
		srv.FailNext(1, simulator.FaultThrottle)
		srv.FailNext(1, simulator.FaultInternalError)
		srv.FailNext(1, simulator.FaultReset)
		dir := filepath.Join(t.TempDir(), "wh")
		r := run(t, []string{"MCAS_TOKEN=" + crashToken}, "scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--progress=false",
			"--rate-limit", "60000", "--parallel", "2", "--threads", "2")
		if r.Code != 0 {
			t.Fatalf("scan under faults: %s", r)
		}
		sinks.ExactlyOnce(t, dir, sinks.WantTenant(tn, time.Time{}))
		st := srv.Stats()
		if st.Faults < 3 || st.Throttled == 0 {
			t.Errorf("%d faults and %d 429s served: the forced ones are missing", st.Faults, st.Throttled)
		}
		faults += st.Faults
		t.Logf("run %d: %d requests, %d faults; %s", i, st.Requests, st.Faults, r.Stdout)
	}
	row.set(runs, "every scan exit 0 and exact (%d ids in both sinks) after %d injected faults", tn.Len(), faults)
}
