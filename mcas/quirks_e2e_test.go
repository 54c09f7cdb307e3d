package mcas_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator"
)

// TestScanSurvivesQuirks scans the simulator with each reported quirk of the service switched
// on, and all of them together with faults, over tie bursts larger than a page and than the
// deep-offset ceiling: every visible record arrives exactly once.
func TestScanSurvivesQuirks(t *testing.T) {
	ten := simTenant()
	all := simulator.Quirks()
	tests := []struct {
		quirks []simulator.Quirk
		faults bool
	}{
		{quirks: []simulator.Quirk{simulator.QuirkEmptyOnTie}},
		{quirks: []simulator.Quirk{simulator.QuirkIgnoreDirection}},
		{quirks: []simulator.Quirk{simulator.QuirkApproximateTotal}},
		{quirks: all, faults: true},
	}
	for _, tt := range tests {
		for _, q := range []mcas.Query{
			{SortField: mcas.SortCreated, SortDirection: mcas.Asc, Limit: 500},
			{SortField: mcas.SortDate, SortDirection: mcas.Asc, Limit: 5000},
		} {
			t.Run(fmt.Sprintf("%v faults=%v %s limit %d", tt.quirks, tt.faults, q.SortField, q.Limit), func(t *testing.T) {
				clk := clock.NewVirtual(simEnd.Add(7*24*time.Hour), true)
				cfg := simulator.Config{Tenant: ten, Clock: clk, FaultSeed: 3, Quirks: tt.quirks, RateLimit: simulator.NoRateLimit}
				if tt.faults {
					cfg.FaultRates = map[simulator.Fault]float64{simulator.FaultInternalError: 0.03, simulator.FaultReset: 0.03, simulator.FaultTruncated: 0.03}
				}
				srv := simulator.NewServer(cfg)
				t.Cleanup(srv.Close)
				var logs strings.Builder
				c, err := mcas.NewClient(mcas.Config{URL: srv.URL, Auth: mcas.TokenAuth{Token: mcas.NewSecret(srv.Token)}, Clock: clk,
					Jitter: func() float64 { return 0.5 }, Logger: testLogger(&logs)})
				if err != nil {
					t.Fatal(err)
				}
				got, _, positions := scanAll(t, c, q)
				checkOnce(t, got, visibleIDs(ten, clk.Now()))
				st := c.Stats()
				reversed := len(tt.quirks) > 1 || tt.quirks[0] == simulator.QuirkIgnoreDirection
				if reversed && (positions > 0 || !strings.Contains(logs.String(), "other order")) {
					t.Errorf("descending answers to an ascending scan: %d pages carried a position; log:\n%s", positions, logs.String())
				}
				if tt.quirks[0] == simulator.QuirkEmptyOnTie && len(tt.quirks) == 1 && st.EmptyEnds == 0 {
					t.Error("the empty last pages of the quirk were never seen")
				}
				if st.Requests > 1500 {
					t.Errorf("%d requests for %d records: looping", st.Requests, len(got))
				}
				t.Logf("%d records in %d requests, %d stalls, %d empty last pages that were not the end", len(got), st.Requests, st.Stalls, st.EmptyEnds)
			})
		}
	}
}

// testLogger writes the client's log as text to w.
func testLogger(w *strings.Builder) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type lockedWriter struct {
	mu sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
