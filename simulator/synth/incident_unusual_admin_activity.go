package synth

import "math/rand/v2"

// planUnusualAdminActivity plants unusual-admin-activity: a user who never administered adds
// themself to a role. Decoy: an admin's routine operation.
func planUnusualAdminActivity(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicated(r, offChicago, p.at)
	v := t.dedicatedAdmin(r, offChicago, d.at, opUpdateUser, opUpdateGroup)
	p.users, d.users = []int{u}, []int{v}
	p.detail["note"] = "first-time admin: \"Add member to role.\" (Global Administrator) by a user with no admin history"
	p.detail["operation"] = "Add member to role."
	d.detail["note"] = "an admin's routine \"Update user.\", done throughout the baseline"
	d.detail["operation"] = "Update user."
	p.emit = func(p *plan) {
		c := &t.users[u]
		ts := p.rec(u, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
		s := p.t.addSpecial(special{objects: []string{c.upn, "Global Administrator"}})
		p.rec(u, ts+4*minMS, opAddMemberToRole, c.corp, c.desktopUA, s, flagAdmin)
	}
	d.emit = func(p *plan) {
		c := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
		tgt := p.t.users[5]
		p.rec(v, ts+4*minMS, opUpdateUser, c.corp, c.desktopUA, p.t.addSpecial(special{objects: []string{tgt.upn, tgt.display}}), flagAdmin)
	}
}
