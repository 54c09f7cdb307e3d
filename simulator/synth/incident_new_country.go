package synth

import "math/rand/v2"

// planNewCountry plants new-country: activity from Lagos, a country nobody in the tenant ever used.
// Decoy: Lisbon, visited 3 weeks before the window.
func planNewCountry(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicated(r, offNewYork, p.at)
	p.users = []int{u}
	lagos := t.fixedIP("102.89.34.117", plLagos, "MTN Nigeria", "mtn nigeria communication limited", catNone, false)
	p.detail["note"] = "sign-in and reads from Nigeria (NG), never seen in the tenant"
	p.detail["country"] = "NG"
	p.emit = func(p *plan) {
		us := &t.users[u]
		ts := p.rec(u, p.at, opUserLoggedIn, lagos, us.desktopUA, -1, 0)
		p.rec(u, ts+40*secMS, opFileAccessed, lagos, us.desktopUA, -1, 0)
		p.rec(u, ts+3*minMS, opMailItemsAccessed, lagos, us.desktopUA, -1, 0)
	}
	v := t.dedicated(r, offLondon, d.at)
	lis := t.fixTrip(r, v, 9, 12, plLisbon)
	d.users = []int{v}
	d.detail["note"] = "activity from Portugal (PT), in the user's 30-day history"
	d.detail["country"] = "PT"
	d.emit = func(p *plan) {
		us := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, lis, us.desktopUA, -1, 0)
		p.rec(v, ts+30*secMS, opFileAccessed, lis, us.desktopUA, -1, 0)
	}
}
