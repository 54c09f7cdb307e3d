package synth

import "math/rand/v2"

// planMailboxActivitySpike plants mailbox-activity-spike: in one evening a user's mailbox has 320
// items read one by one (MailItemsAccessed, Bind) within 50 minutes and 90 messages hard-deleted,
// far above their everyday reading and their no deletions at all: a mailbox being harvested and
// its traces removed. Decoy: another user reads 170 and deletes 40 in a day (min_accessed 200,
// min_deleted 50).
func planMailboxActivitySpike(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offToronto, p, d)
	p.detail["note"] = "320 MailItemsAccessed within 50 minutes and 90 HardDelete, far above the user's own days"
	p.detail["accessed"], p.detail["deleted"] = 320, 90
	d.detail["note"] = "170 MailItemsAccessed and 40 SoftDelete in a day (min_accessed 200, min_deleted 50)"
	d.detail["accessed"], d.detail["deleted"] = 170, 40
	spike := func(ui, reads, deletes int, del uint16, span int64) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.at, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
			for i := 0; i < reads; i++ {
				p.rec(ui, ts+secMS+int64(i)*span/int64(reads), opMailItemsAccessed, c.home, c.desktopUA, -1, 0)
			}
			ts += span + 2*minMS
			for i := 0; i < deletes; i++ {
				p.rec(ui, ts+int64(i)*6*secMS, del, c.home, c.desktopUA, -1, 0)
			}
		}
	}
	p.emit = spike(u, 320, 90, opMailHardDelete, 50*minMS)
	d.emit = spike(v, 170, 40, opMailSoftDelete, 6*hourMS)
}
