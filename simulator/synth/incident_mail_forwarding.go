package synth

import "math/rand/v2"

// planMailForwarding plants mail-forwarding: two mailboxes forward to one external address (a rule
// and Set-Mailbox). Decoy: a rule forwarding to a colleague (internal; the SQL lists it with
// external = false).
func planMailForwarding(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicated(r, offNewYork, p.at)
	u2 := t.dedicated(r, offNewYork, p.at)
	v := t.dedicated(r, offNewYork, d.at)
	p.users, d.users = []int{u, u2}, []int{v}
	const dest = "j.collector@proton.me"
	colleague := t.users[0].upn
	p.detail["note"] = "two mailboxes forward to one external address: a forwarding inbox rule and Set-Mailbox ForwardingSmtpAddress"
	p.detail["destination"] = dest
	d.detail["note"] = "an inbox rule forwarding to an internal colleague"
	d.detail["destination"] = colleague
	p.emit = func(p *plan) {
		a, b := &t.users[u], &t.users[u2]
		ts := p.rec(u, p.at, opUserLoggedIn, a.home, a.desktopUA, -1, 0)
		p.rec(u, ts+2*minMS, opNewInboxRule, a.home, a.desktopUA, p.t.addSpecial(special{params: [][2]string{
			{"Name", "Sync"}, {"ForwardTo", dest}, {"StopProcessingRules", "False"}}}), 0)
		ts = p.rec(u2, p.at+40*minMS, opUserLoggedIn, b.home, b.desktopUA, -1, 0)
		p.rec(u2, ts+3*minMS, opSetMailbox, b.home, b.desktopUA, p.t.addSpecial(special{params: [][2]string{
			{"Identity", b.upn}, {"ForwardingSmtpAddress", "smtp:" + dest}, {"DeliverToMailboxAndForward", "True"}}}), 0)
	}
	d.emit = func(p *plan) {
		c := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
		p.rec(v, ts+2*minMS, opNewInboxRule, c.corp, c.desktopUA, p.t.addSpecial(special{params: [][2]string{
			{"Name", "Vacation cover"}, {"ForwardTo", colleague}, {"StopProcessingRules", "False"}}}), 0)
	}
}
