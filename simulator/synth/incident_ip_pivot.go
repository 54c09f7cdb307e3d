package synth

import (
	"math/rand/v2"
	"time"
)

// planIPPivot plants ip-pivot: one hosting address used by three accounts. Decoy: an address used
// by one only.
func planIPPivot(t *Tenant, r *rand.Rand, p, d *plan) {
	for i := 0; i < 3; i++ {
		p.users = append(p.users, t.dedicated(r, offNewYork, p.at))
	}
	v := t.dedicated(r, offNewYork, d.at)
	d.users = []int{v}
	pv := t.fixedIP("45.77.152.9", plNewark, "Choopa, LLC", "the constant company%2C llc", catOther, false)
	solo := t.fixedIP("45.77.152.200", plNewark, "Choopa, LLC", "the constant company%2C llc", catOther, false)
	p.detail["note"] = "three accounts sign in and read files from one hosting address; pivot on it finds all three"
	p.detail["seedIP"], p.detail["usersOnIP"] = "45.77.152.9", 3
	d.detail["note"] = "one account alone on a hosting address; pivot on it finds no one else"
	d.detail["seedIP"], d.detail["usersOnIP"] = "45.77.152.200", 1
	p.emit = func(p *plan) {
		for i, ui := range p.users {
			c := &t.users[ui]
			ts := p.rec(ui, p.at+int64(i)*40*minMS, opUserLoggedIn, pv, c.desktopUA, -1, 0)
			p.rec(ui, ts+time.Minute.Milliseconds(), opFileAccessed, pv, c.desktopUA, -1, 0)
			p.rec(ui, ts+2*minMS, opFileDownloaded, pv, c.desktopUA, -1, 0)
		}
	}
	d.emit = func(p *plan) {
		c := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, solo, c.desktopUA, -1, 0)
		p.rec(v, ts+time.Minute.Milliseconds(), opFileAccessed, solo, c.desktopUA, -1, 0)
	}
}
