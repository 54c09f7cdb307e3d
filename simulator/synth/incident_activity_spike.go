package synth

import "math/rand/v2"

// planActivitySpike plants activity-spike: 32 shares in a day by a user who never shares. Decoy: 19
// (min_count=20).
func planActivitySpike(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offChicago, p, d)
	p.detail["note"] = "32 internal shares spread over 6 hours of one UTC day (z far above 3, n >= 20)"
	p.detail["metric"], p.detail["n"] = "share", 32
	d.detail["note"] = "19 internal shares spread over 6 hours of one UTC day (below min_count=20)"
	d.detail["metric"], d.detail["n"] = "share", 19
	shares := func(ui, n int) func(p *plan) {
		return func(p *plan) {
			us := &t.users[ui]
			day := p.at - p.at%dayMS + 8*hourMS
			if day+7*hourMS > p.t.end {
				day -= dayMS
			}
			p.rec(ui, day, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
			for i := 0; i < n; i++ {
				s := p.t.addSpecial(special{objects: []string{p.t.users[(ui+i+1)%p.t.cfg.Users].upn}})
				p.rec(ui, day+2*minMS+int64(i)*6*hourMS/int64(n), opSharingSet, us.corp, us.desktopUA, s, 0)
			}
		}
	}
	p.emit, d.emit = shares(u, 32), shares(v, 19)
}
