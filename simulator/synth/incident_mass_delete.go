package synth

import (
	"fmt"
	"math/rand/v2"
)

// planMassDelete plants mass-delete: four 5-minute buckets of 60 deletes. Decoy: two such buckets
// (min_buckets=3).
func planMassDelete(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offFrankfurt, p, d)
	p.detail["note"] = "4 five-minute buckets of 60 SharePoint deletes (per_bucket=50, min_buckets=3)"
	p.detail["hotBuckets"] = 4
	d.detail["note"] = "2 five-minute buckets of 60 SharePoint deletes: a one-off cleanup (min_buckets=3)"
	d.detail["hotBuckets"] = 2
	del := func(ui, buckets int) func(p *plan) {
		return func(p *plan) {
			us := &t.users[ui]
			p.rec(ui, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
			for b := 0; b < buckets; b++ {
				for i := 0; i < 60; i++ {
					f := p.t.addSpecial(special{file: fmt.Sprintf("Archive %d-%02d.%s", b, i, fileExts[i%3])})
					p.rec(ui, p.at+int64(b)*5*minMS+5*secMS+int64(i)*4500, opFileDeleted, us.corp, us.desktopUA, f, 0)
				}
			}
		}
	}
	p.emit, d.emit = del(u, 4), del(v, 2)
	// The decoy cleans up every day, so 120 deletes are no activity-spike either.
	t.users[v].heavyOp, t.users[v].heavyN = opFileDeleted, 70
}
