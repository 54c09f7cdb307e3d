package synth

import "math/rand/v2"

// planRiskyIPActivity plants risky-ip-activity: a Tor exit (anonymous proxy, Risky). Decoy: a
// cloud-provider address.
func planRiskyIPActivity(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offFrankfurt, p, d)
	tor := t.fixedIP("185.220.101.47", plBerlin, "Tor exit node", "zwiebelfreunde e.v.", catRisky, true)
	aws := t.addIP(ipInfo{addr: "3.64.118.23", place: plFrankfurt, isp: "Amazon Web Services", carrier: "amazon.com%2C inc",
		category: catCloud, tag: "000000290000000000000000"})
	p.detail["note"] = "sign-in and downloads through a Tor exit node (anonymousProxy, category 3 Risky)"
	d.detail["note"] = "sign-in from an AWS address (category 5 Cloud provider, not anonymous)"
	p.emit = func(p *plan) {
		us := &t.users[u]
		ts := p.rec(u, p.at, opUserLoggedIn, tor, us.desktopUA, -1, 0)
		p.rec(u, ts+45*secMS, opFileDownloaded, tor, us.desktopUA, -1, 0)
		p.rec(u, ts+2*minMS, opFileDownloaded, tor, us.desktopUA, -1, 0)
	}
	d.emit = func(p *plan) {
		us := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, aws, us.desktopUA, -1, 0)
		p.rec(v, ts+45*secMS, opFileAccessed, aws, us.desktopUA, -1, 0)
	}
}
