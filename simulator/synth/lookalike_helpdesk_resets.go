package synth

import "math/rand/v2"

// planHelpdeskResets plants helpdesk-resets: a helpdesk agent resets 3 to 10 colleagues'
// passwords every working day, from the office or the VPN.
func planHelpdeskResets(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.routineUser(r, l, "a helpdesk agent's routine \"Reset user password.\" for 3 to 10 colleagues every working day",
		func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
			if day.weekend {
				return
			}
			u := &t.users[ui]
			for k := 3 + r.IntN(8); k > 0; k-- {
				ip := u.corp
				if r.IntN(5) == 0 {
					ip = u.vpn
				}
				who := &t.users[r.IntN(t.cfg.Users)]
				s := t.addSpecial(special{objects: []string{who.upn, who.display}})
				t.emitIn(ui, day.at(8.5+r.Float64()*8.5), opResetPassword, ip, u.desktopUA, s, flagAdmin, r)
			}
		})
	if ui < 0 {
		return false
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == ui && e.op == opResetPassword })
	}
	return true
}
