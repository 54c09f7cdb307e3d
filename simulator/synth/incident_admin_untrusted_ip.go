package synth

import "math/rand/v2"

// planAdminUntrustedIP plants admin-untrusted-ip: an admin's routine operations from a home
// broadband address. Decoy: the same from the corporate VPN.
func planAdminUntrustedIP(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offNewYork, p.at, opUpdateUser, opResetPassword, opUpdateGroup)
	v := t.dedicatedAdmin(r, offNewYork, d.at, opUpdateUser, opResetPassword, opUpdateGroup)
	p.users, d.users = []int{u}, []int{v}
	p.detail["note"] = "routine admin operations from a home broadband address (no IP category, not a trusted prefix)"
	d.detail["note"] = "the same operations from the corporate VPN (category 4, trusted)"
	adm := func(ui int, vpn bool) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ip := c.home
			if vpn {
				ip = c.vpn
			}
			ts := p.rec(ui, p.at, opUserLoggedIn, ip, c.desktopUA, -1, 0)
			for i, op := range []uint16{opUpdateUser, opResetPassword, opUpdateUser} {
				tgt := p.t.users[(ui*7+i)%p.t.cfg.Users]
				s := p.t.addSpecial(special{objects: []string{tgt.upn, tgt.display}})
				p.rec(ui, ts+int64(i+1)*3*minMS, op, ip, c.desktopUA, s, flagAdmin)
			}
		}
	}
	p.emit, d.emit = adm(u, false), adm(v, true)
}
