package synth

import "math/rand/v2"

// planDefenseEvasionChanges plants defense-evasion-changes: admin audit logging switched off.
// Decoy: the same cmdlet keeping it on.
func planDefenseEvasionChanges(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offNewYork, p.at, opSetAdminAuditLogConfig, opUpdateUser, opSetMailbox)
	v := t.dedicatedAdmin(r, offNewYork, d.at, opSetAdminAuditLogConfig, opUpdateUser, opSetMailbox)
	p.users, d.users = []int{u}, []int{v}
	p.detail["note"] = "Set-AdminAuditLogConfig -AdminAuditLogEnabled False"
	d.detail["note"] = "Set-AdminAuditLogConfig -AdminAuditLogEnabled True (and a longer age limit)"
	audit := func(ui int, val string) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
			s := p.t.addSpecial(special{params: [][2]string{{"AdminAuditLogEnabled", val}, {"AdminAuditLogAgeLimit", "365.00:00:00"}}})
			p.rec(ui, ts+5*minMS, opSetAdminAuditLogConfig, c.corp, uaPowerShell, s, flagAdmin)
		}
	}
	p.emit, d.emit = audit(u, "False"), audit(v, "True")
}
