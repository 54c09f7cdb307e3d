package synth

import (
	"math"
	"math/rand/v2"
)

// planTerminatedUserActivity plants terminated-user-activity: an account is deleted, then signs in
// and downloads. Decoy: a deleted account that only fails to sign in afterwards.
func planTerminatedUserActivity(t *Tenant, r *rand.Rand, p, d *plan) {
	adm := t.dedicatedAdmin(r, offSanFrancisco, math.MaxInt64/2, opUpdateUser, opDeleteUser)
	t.users[adm].offboarder = true
	t.users[adm].adminOps = []uint16{opUpdateUser}
	u := t.dedicated(r, offSanFrancisco, p.at)
	v := t.dedicated(r, offSanFrancisco, d.at)
	p.users, d.users = []int{u, adm}, []int{v, adm}
	p.detail["note"] = "\"Delete user.\" of the account, then a sign-in and downloads by it 2 hours later"
	p.detail["deletedBy"] = t.users[adm].upn
	d.detail["note"] = "\"Delete user.\" of the account, then only failed sign-ins by it (excluded: login_fail)"
	d.detail["deletedBy"] = t.users[adm].upn
	del := func(ui int, after func(p *plan, ts int64)) func(p *plan) {
		return func(p *plan) {
			a, c := &t.users[adm], &t.users[ui]
			s := p.t.addSpecial(special{objects: []string{c.upn, c.display}})
			p.rec(adm, p.at, opDeleteUser, a.corp, a.desktopUA, s, flagAdmin)
			after(p, p.at+2*hourMS)
		}
	}
	p.emit = del(u, func(p *plan, ts int64) {
		c := &t.users[u]
		ts = p.rec(u, ts, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
		for i := 0; i < 3; i++ {
			p.rec(u, ts+int64(i+1)*minMS, opFileDownloaded, c.home, c.desktopUA, -1, 0)
		}
	})
	d.emit = del(v, func(p *plan, ts int64) {
		c := &t.users[v]
		for i := 0; i < 3; i++ {
			p.rec(v, ts+int64(i)*2*minMS, opUserLoginFailed, c.home, c.desktopUA, p.t.addSpecial(special{failReason: 50034}), 0)
		}
	})
}
