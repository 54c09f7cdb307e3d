package mcas_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

var (
	simEnd   = time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	simTies  = []synth.TieBurst{{At: simEnd.Add(-50 * time.Hour), Size: 600, Field: "both"}, {At: simEnd.Add(-26 * time.Hour), Size: 5200, Field: "both"}}
	tenantMu sync.Mutex
	tenant   *synth.Tenant
)

// simTenant is a small tenant with tie bursts of 600 and 5200 records in one millisecond, built
// once for all end-to-end tests.
func simTenant() *synth.Tenant {
	tenantMu.Lock()
	defer tenantMu.Unlock()
	if tenant == nil {
		tenant = synth.New(synth.Config{Seed: 11, Users: 40, Days: 4, End: simEnd, Total: 6000, TieBursts: simTies})
	}
	return tenant
}

// visibleIDs is every record the simulator serves at now: those already stored (created <= now).
func visibleIDs(t *synth.Tenant, now time.Time) map[string]bool {
	ids := map[string]bool{}
	for i := range t.Len() {
		if a := t.Activity(i); a.Created <= now.UnixMilli() {
			ids[a.ID] = true
		}
	}
	return ids
}

func TestScanAgainstSimulator(t *testing.T) {
	ten := simTenant()
	tests := []struct {
		field, dir string
		limit      int
		entra      bool
		faults     bool
		rate       int // the simulator's budget per minute; our limiter assumes 30
	}{
		{mcas.SortCreated, mcas.Asc, 5000, false, false, 0},
		{mcas.SortDate, mcas.Asc, 500, false, false, 0},
		{mcas.SortDate, mcas.Desc, 5000, true, false, 0},
		{mcas.SortCreated, mcas.Desc, 1000, false, true, 0},
		{mcas.SortDate, mcas.Asc, 5000, true, true, 0},
		{mcas.SortCreated, mcas.Asc, 2000, false, false, 12},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s %s limit %d entra=%v faults=%v rate=%d", tt.field, tt.dir, tt.limit, tt.entra, tt.faults, tt.rate)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && tt.faults {
				t.Skip("fault runs in -short")
			}
			clk := clock.NewVirtual(simEnd.Add(7*24*time.Hour), true)
			cfg := simulator.Config{Tenant: ten, Clock: clk, FaultSeed: 5, RateLimit: tt.rate}
			if tt.faults {
				cfg.FaultRates = map[simulator.Fault]float64{
					simulator.FaultInternalError: 0.03, simulator.FaultBadGateway: 0.02, simulator.FaultGatewayTimeout: 0.02,
					simulator.FaultThrottle: 0.03, simulator.FaultReset: 0.03, simulator.FaultTruncated: 0.03,
				}
			}
			newServer := simulator.NewServer
			if tt.entra {
				newServer = simulator.NewTLSServer // Microsoft's sign-in library wants an HTTPS authority
			}
			srv := newServer(cfg)
			t.Cleanup(srv.Close)
			want := visibleIDs(ten, clk.Now())

			mc := mcas.Config{URL: srv.URL, Auth: mcas.TokenAuth{Token: mcas.NewSecret(srv.Token)}, Clock: clk, Jitter: func() float64 { return 0.5 }}
			if tt.entra {
				mc.Auth = mcas.EntraAuth{TenantID: srv.TenantID(), ClientID: srv.ClientID(), Secret: mcas.NewSecret(srv.ClientSecret()), AuthorityURL: srv.URL}
				mc.Transport = srv.CA.Client().Transport
			}
			c, err := mcas.NewClient(mc)
			if err != nil {
				t.Fatal(err)
			}
			got, ties, _ := scanAll(t, c, mcas.Query{SortField: tt.field, SortDirection: tt.dir, Limit: tt.limit})
			checkOnce(t, got, want)
			// The 5200 group fits no page: it is fetched outside scan mode exactly once. The 600
			// group stalls a 500-record page too, and a 5000-record re-ask gets past it.
			st, sst := c.Stats(), srv.Stats()
			wantStalls := int64(1)
			if tt.limit < 600 {
				wantStalls = 2
			}
			if ties != 1 || st.Stalls != wantStalls {
				t.Errorf("%d tie pages and %d stalls, want 1 and %d", ties, st.Stalls, wantStalls)
			}
			if sst.Requests > 250 {
				t.Errorf("%d requests to the simulator for %d records: looping", sst.Requests, len(want))
			}
			if tt.rate > 0 && (st.Throttled == 0 || st.Throttled != sst.Throttled) {
				t.Errorf("a %d/min tenant throttled %d times, the client counted %d", tt.rate, sst.Throttled, st.Throttled)
			}
			if tt.faults && (st.Retries == 0 || sst.Faults == 0) {
				t.Errorf("fault run saw %d faults and %d retries", sst.Faults, st.Retries)
			}
			t.Logf("%d records, %d requests (%d retries, %d throttled, %d faults served), %d bytes, throttle wait %v",
				len(got), st.Requests, st.Retries, st.Throttled, sst.Faults, st.Bytes, st.ThrottleWait)
		})
	}
}

// scanAll scans q with c and counts each delivered _id, the tie pages, and the pages that
// carried a position.
func scanAll(t *testing.T, c *mcas.Client, q mcas.Query) (got map[string]int, ties, positioned int) {
	t.Helper()
	got = map[string]int{}
	err := c.Scan(t.Context(), q, func(_ context.Context, p *mcas.Page) error {
		if p.Tie {
			ties++
		}
		if p.HasPosition {
			positioned++
		}
		for _, r := range p.Records {
			var v struct {
				ID string `json:"_id"`
			}
			if err := json.Unmarshal(r, &v); err != nil {
				return err
			}
			got[v.ID]++
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan: %v", err)
	}
	return got, ties, positioned
}

// checkOnce fails unless got holds every id of want exactly once and nothing else.
func checkOnce(t *testing.T, got map[string]int, want map[string]bool) {
	t.Helper()
	dups, missing, extra := 0, 0, 0
	for id, n := range got {
		if n > 1 {
			dups++
		}
		if !want[id] {
			extra++
		}
	}
	for id := range want {
		if got[id] == 0 {
			missing++
		}
	}
	if dups+missing+extra > 0 {
		t.Fatalf("%d records delivered for %d visible: %d duplicated, %d missing, %d unexpected", len(got), len(want), dups, missing, extra)
	}
}

func TestCheckAgainstSimulator(t *testing.T) {
	clk := clock.NewVirtual(simEnd.Add(7*24*time.Hour), true)
	srv := simulator.NewTLSServer(simulator.Config{Tenant: simTenant(), Clock: clk})
	t.Cleanup(srv.Close)
	for name, auth := range map[string]mcas.Auth{
		"token": mcas.TokenAuth{Token: mcas.NewSecret(srv.Token)},
		"entra": mcas.EntraAuth{TenantID: srv.TenantID(), ClientID: srv.ClientID(), Secret: mcas.NewSecret(srv.ClientSecret()), AuthorityURL: srv.URL},
	} {
		c, err := mcas.NewClient(mcas.Config{URL: srv.URL, Auth: auth, Clock: clk, Transport: srv.CA.Client().Transport})
		if err != nil {
			t.Fatal(err)
		}
		res := c.Check(t.Context())
		if res.Err != nil || !res.Authorized || res.Total != simTenant().Len() || res.Remaining != 29 {
			t.Errorf("%s: %+v", name, res)
		}
	}
	bad, _ := mcas.NewClient(mcas.Config{URL: srv.URL, Auth: mcas.TokenAuth{Token: mcas.NewSecret("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")}, Clock: clk,
		Transport: srv.CA.Client().Transport})
	if res := bad.Check(t.Context()); res.Authorized || res.Err == nil {
		t.Errorf("a wrong token passed the check: %+v", res)
	}
}
