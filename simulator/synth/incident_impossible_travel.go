package synth

import (
	"math"
	"math/rand/v2"
)

// planImpossibleTravel plants impossible-travel: New York, then London 50 minutes later (London
// visited on an earlier trip, so the country and network are not new). Decoy: Frankfurt → Madrid at
// 870 km/h.
func planImpossibleTravel(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicated(r, offNewYork, p.at)
	lon := t.fixTrip(r, u, 6, 9, plLondon)
	p.users = []int{u}
	km := haversineKM(places[plNewYork], places[plLondon])
	p.detail["note"] = "sign-in from New York, then from London 50 minutes later"
	p.detail["km"], p.detail["kmh"] = math.Round(km), math.Round(km/(50.0/60))
	p.emit = func(p *plan) {
		us := &t.users[u]
		ts := p.rec(u, p.at, opUserLoggedIn, us.home, us.desktopUA, -1, 0)
		p.rec(u, ts+90*secMS, opFileAccessed, us.home, us.desktopUA, -1, 0)
		ts = p.rec(u, ts+50*minMS, opUserLoggedIn, lon, us.desktopUA, -1, 0)
		p.rec(u, ts+60*secMS, opMailItemsAccessed, lon, us.desktopUA, -1, 0)
	}
	v := t.dedicated(r, offFrankfurt, d.at)
	mad := t.fixTrip(r, v, 8, 11, plMadrid)
	d.users = []int{v}
	km = haversineKM(places[plFrankfurt], places[plMadrid])
	gap := int64(math.Ceil(km/870*3600)) * secMS
	d.detail["note"] = "sign-in from Frankfurt, then from Madrid (visited before) at 870 km/h, under max_kmh=900"
	d.detail["km"], d.detail["kmh"] = math.Round(km), math.Round(km/(float64(gap)/float64(hourMS)))
	d.emit = func(p *plan) {
		us := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, us.home, us.desktopUA, -1, 0)
		p.rec(v, ts+gap, opUserLoggedIn, mad, us.desktopUA, -1, 0)
		p.rec(v, ts+gap+2*minMS, opFileAccessed, mad, us.desktopUA, -1, 0)
	}
}
