package synth

import "math/rand/v2"

// planImpersonationReview plants impersonation-review: a delegate reads another mailbox (LogonType
// 2) for the first time. Decoy: delegate-type access to one's own mailbox (actor = owner).
func planImpersonationReview(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicated(r, offNewYork, p.at)
	owner := t.dedicated(r, offNewYork, p.at)
	v := t.dedicated(r, offNewYork, d.at)
	p.users, d.users = []int{u, owner}, []int{v}
	p.detail["note"] = "12 MailItemsAccessed on another user's mailbox as delegate (LogonType 2), a new actor→target pair"
	p.detail["target"] = t.users[owner].upn
	d.detail["note"] = "MailItemsAccessed with LogonType 2 on the actor's own mailbox (actor = target)"
	d.detail["target"] = t.users[v].upn
	imp := func(ui, n int, target *int) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			tgt := t.users[*target].upn
			ts := p.rec(ui, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
			for i := 0; i < n; i++ {
				s := p.t.addSpecial(special{owner: tgt, logonType: 2})
				p.rec(ui, ts+int64(i+1)*4*minMS, opMailItemsAccessed, c.corp, c.desktopUA, s, 0)
			}
		}
	}
	p.emit, d.emit = imp(u, 12, &owner), imp(v, 6, &v)
}
