package synth

import "math/rand/v2"

// planSharedMailboxGrants plants shared-mailbox-grants: the Exchange administrator gives team
// members full access to, and send-as on, their team's shared mailbox every other working day.
// Shared mailboxes are nobody's: no one signs in to them.
func planSharedMailboxGrants(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterAdmin(r, offNewYork, opUpdateUser, opSetMailbox)
	l.users = []int{ui}
	l.detail["note"] = "FullAccess and SendAs on team shared mailboxes (shared-<team>@contoso.com) for team members, every other working day"
	t.users[ui].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if day.weekend || day.index%2 == 1 {
			return
		}
		u := &t.users[ui]
		who := &t.users[r.IntN(t.cfg.Users)]
		box := "shared-" + lowerASCII(sites[r.IntN(len(sites))]) + "@" + t.cfg.Domain
		ts := day.at(11 + r.Float64()*5)
		t.emitIn(ui, ts, opAddMailboxPermission, u.corp, uaPowerShell, cmdletSpecial(t,
			"Identity", box, "User", who.upn, "AccessRights", "FullAccess", "InheritanceType", "All"), flagAdmin, r)
		t.emitIn(ui, ts+30*secMS, opAddRecipientPermission, u.corp, uaPowerShell, cmdletSpecial(t,
			"Identity", box, "Trustee", who.upn, "AccessRights", "SendAs", "Confirm", "False"), flagAdmin, r)
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool {
			return int(e.user) == ui && (e.op == opAddMailboxPermission || e.op == opAddRecipientPermission)
		})
	}
	return true
}
