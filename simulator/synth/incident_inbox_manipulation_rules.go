package synth

import "math/rand/v2"

// planInboxManipulationRules plants inbox-manipulation-rules: rule "." hiding invoice/payment mail
// in RSS Feeds, marked read. Decoy: a newsletter filing rule (score 1, min_score=2).
func planInboxManipulationRules(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offLondon, p, d)
	p.detail["note"] = "New-InboxRule named \".\" moving mail with invoice/payment words to RSS Feeds and marking it read (score 7)"
	p.detail["ruleName"] = "."
	d.detail["note"] = "New-InboxRule \"Newsletters\" moving vendor mail to a folder (score 1, min_score=2)"
	d.detail["ruleName"] = "Newsletters"
	p.emit = func(p *plan) {
		c := &t.users[u]
		ts := p.rec(u, p.at, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
		p.rec(u, ts+90*secMS, opNewInboxRule, c.home, c.desktopUA, p.t.addSpecial(special{params: [][2]string{
			{"Name", "."}, {"SubjectOrBodyContainsWords", "invoice;payment;wire transfer"}, {"MoveToFolder", "RSS Feeds"},
			{"MarkAsRead", "True"}, {"StopProcessingRules", "True"}}}), 0)
	}
	d.emit = func(p *plan) {
		c := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
		p.rec(v, ts+90*secMS, opNewInboxRule, c.corp, c.desktopUA, p.t.addSpecial(special{params: [][2]string{
			{"Name", "Newsletters"}, {"From", "news@vendor.example"}, {"MoveToFolder", "Newsletters"}}}), 0)
	}
}
