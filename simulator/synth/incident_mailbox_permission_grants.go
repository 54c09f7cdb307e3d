package synth

import "math/rand/v2"

// planMailboxPermissionGrants plants mailbox-permission-grants: an Exchange administrator who never
// granted anyone a person's mailbox gives themself full access to the finance director's mailbox
// and the right to send as her, the business-email-compromise set-up. Decoy: another administrator,
// who grants shared-mailbox access routinely, gives a colleague full access to the shared finance
// mailbox (which no one signs in to).
func planMailboxPermissionGrants(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offNewYork, p.at, opSetMailbox, opUpdateUser)
	boss := t.dedicated(r, offNewYork, p.at)
	v := t.dedicatedAdmin(r, offNewYork, d.at, opAddMailboxPermission, opAddRecipientPermission, opUpdateUser)
	mate := t.dedicated(r, offNewYork, d.at)
	p.users, d.users = []int{u, boss}, []int{v, mate}
	p.detail["note"] = "Add-MailboxPermission FullAccess and Add-RecipientPermission SendAs on a director's mailbox, to the granting administrator, who never granted a person's mailbox before"
	p.detail["mailbox"] = t.users[boss].upn
	d.detail["note"] = "Add-MailboxPermission FullAccess on the shared mailbox shared-finance@contoso.com for a colleague, by an administrator who grants shared-mailbox access routinely"
	d.detail["mailbox"] = "shared-finance@" + t.cfg.Domain
	p.emit = func(p *plan) {
		c, b := &t.users[u], &t.users[boss]
		ts := p.rec(u, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
		ts = p.rec(u, ts+5*minMS, opAddMailboxPermission, c.corp, uaPowerShell, cmdletSpecial(p.t,
			"Identity", b.upn, "User", c.upn, "AccessRights", "FullAccess", "InheritanceType", "All", "AutoMapping", "False"), flagAdmin)
		p.rec(u, ts+50*secMS, opAddRecipientPermission, c.corp, uaPowerShell, cmdletSpecial(p.t,
			"Identity", b.upn, "Trustee", c.upn, "AccessRights", "SendAs", "Confirm", "False"), flagAdmin)
	}
	d.emit = func(p *plan) {
		c, m := &t.users[v], &t.users[mate]
		ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
		p.rec(v, ts+5*minMS, opAddMailboxPermission, c.corp, uaPowerShell, cmdletSpecial(p.t,
			"Identity", "shared-finance@"+t.cfg.Domain, "User", m.upn, "AccessRights", "FullAccess", "InheritanceType", "All"), flagAdmin)
	}
}
