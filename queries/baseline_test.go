package queries

import (
	"testing"

	"github.com/mcasload/mcasload/simulator/synth"
)

// baselineAllowed are the investigations that may return a few rows on a clean tenant: they
// report novelty (a new client, a new admin operation, a new country) or volume against the
// user's own past, which ordinary life produces now and then. Every other one must be silent.
var baselineAllowed = map[string]int{
	"activity-spike":         5,
	"new-client-fingerprint": 5,
	"unusual-admin-activity": 5,
	"new-country":            5,
}

// baselineParams are the lookups' inputs on the clean tenant: ip-pivot and user-timeline report
// whatever they are pointed at, so they are pointed at nothing that exists (a documentation
// address and an unknown user), which checks that they add nothing of their own.
var baselineParams = map[string]map[string]string{
	"ip-pivot":      {"ip": "192.0.2.1"},
	"user-timeline": {"user": "nobody@contoso.com"},
}

func TestCleanBaselineIsQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("the clean baseline is 500 users over 37 days; skipped with -short")
	}
	s, truth := tenantSession(t, synth.Config{Seed: 7, Users: 500, Days: 37, End: synthEnd})
	if len(truth.Incidents) != 0 {
		t.Fatalf("the clean tenant has %d planted incidents", len(truth.Incidents))
	}
	for _, inv := range All() {
		t.Run(inv.Name, func(t *testing.T) {
			res := runResult(t, s, inv.Name, baselineParams[inv.Name])
			if limit := baselineAllowed[inv.Name]; len(res.rows) > limit {
				t.Errorf("%d rows on the clean baseline, want at most %d:\n%s", len(res.rows), limit, res.table)
			} else if len(res.rows) > 0 {
				t.Logf("%d rows (at most %d allowed):\n%s", len(res.rows), limit, res.table)
			}
		})
	}
}
