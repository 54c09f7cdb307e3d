package synth

import "math/rand/v2"

// planHostingProviderSignIn plants hosting-provider-sign-in: a user's session is replayed from a
// rented server at OVH (a hosting provider nobody in the tenant uses): a sign-in with the user's
// own browser, then mail and files read. Decoy: another user signs in from the Hetzner server
// their team rents, which their sync jobs have used all along.
func planHostingProviderSignIn(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offParis, p, d)
	ovh := t.fixedIP("51.178.64.93", plParis, "OVH SAS", "ovh sas", catOther, false)
	hetzner := t.addIP(ipInfo{addr: "88.99.141.70", place: plFrankfurt, isp: "Hetzner Online GmbH", carrier: "hetzner online gmbh",
		category: catCloud})
	t.users[v].cloud = hetzner
	p.detail["note"] = "sign-in from an OVH server (a hosting provider new for the user and the tenant), then mail and files read"
	p.detail["isp"] = "OVH SAS"
	d.detail["note"] = "sign-in from the team's Hetzner server, which the user's sync jobs have used since the data starts"
	d.detail["isp"] = "Hetzner Online GmbH"
	session := func(ui int, ip int32) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.at, opUserLoggedIn, ip, c.desktopUA, -1, 0)
			ts = p.rec(ui, ts+40*secMS, opMailItemsAccessed, ip, c.desktopUA, -1, 0)
			ts = p.rec(ui, ts+70*secMS, opMailItemsAccessed, ip, c.desktopUA, -1, 0)
			p.rec(ui, ts+2*minMS, opFileAccessed, ip, c.desktopUA, -1, 0)
		}
	}
	p.emit, d.emit = session(u, ovh), session(v, hetzner)
}
