package synth

import "math/rand/v2"

// planAssistantDelegation plants assistant-delegation: the messaging administrator gives an
// executive's new assistant full access to the executive's mailbox and the right to send on
// their behalf, as asked: once three weeks before the window, once in it.
func planAssistantDelegation(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterAdmin(r, offLondon, opUpdateUser, opSetMailbox)
	days := t.workdaysBefore(r, ui, 1)
	recent, ok := t.recentWorkday(r, ui)
	if len(days) == 0 || !ok {
		return false
	}
	type grant struct {
		at         int64
		exec, asst int
	}
	var gs []grant
	for _, d := range append(days, recent) {
		exec := r.IntN(t.cfg.Users)
		asst := (exec + 1 + r.IntN(t.cfg.Users-1)) % t.cfg.Users
		gs = append(gs, grant{d.at(11 + r.Float64()*5), exec, asst})
	}
	l.users = []int{ui}
	l.detail["note"] = "FullAccess and GrantSendOnBehalfTo on an executive's mailbox for their assistant, once three weeks before the window and once in it"
	l.emit = func(l *plan) {
		u := &t.users[ui]
		for _, g := range gs {
			exec, asst := t.users[g.exec].upn, t.users[g.asst].upn
			ts := l.rec(ui, g.at, opAddMailboxPermission, u.corp, uaPowerShell, cmdletSpecial(t,
				"Identity", exec, "User", asst, "AccessRights", "FullAccess", "InheritanceType", "All", "AutoMapping", "True"), flagAdmin)
			l.rec(ui, ts+40*secMS, opSetMailbox, u.corp, uaPowerShell, cmdletSpecial(t,
				"Identity", exec, "GrantSendOnBehalfTo", asst), flagAdmin)
		}
	}
	return true
}
