package synth

import "math/rand/v2"

// planPasswordSpray plants password-spray: one address fails against 8 accounts within 12 minutes.
// Decoy: 4 accounts.
func planPasswordSpray(t *Tenant, r *rand.Rand, p, d *plan) {
	for i := 0; i < 8; i++ {
		p.users = append(p.users, t.dedicated(r, i%4, p.at))
	}
	for i := 0; i < 4; i++ {
		d.users = append(d.users, t.dedicated(r, i%4, d.at))
	}
	sp := t.fixedIP("185.81.68.102", plBucharest, "M247 Europe", "m247 europe srl", catOther, false)
	sd := t.fixedIP("185.81.68.231", plBucharest, "M247 Europe", "m247 europe srl", catOther, false)
	p.detail["note"] = "one address fails sign-ins for 8 accounts inside one 20-minute bucket (min_users=5)"
	p.detail["accounts"] = 8
	d.detail["note"] = "one address fails sign-ins for 4 accounts inside one 20-minute bucket (min_users=5)"
	d.detail["accounts"] = 4
	spray := func(ip int32) func(p *plan) {
		return func(p *plan) {
			ts := p.at + 2*minMS
			for _, u := range p.users {
				p.rec(u, ts, opUserLoginFailed, ip, uaPythonRequests, p.t.addSpecial(special{failReason: 50126}), 0)
				ts += 90 * secMS
			}
		}
	}
	p.emit, d.emit = spray(sp), spray(sd)
}
