package synth

import "math/rand/v2"

// planDelegateAccess plants delegate-access: an assistant works in a manager's mailbox every
// working day as a delegate (LogonType 2): reads mail and sends some on the manager's behalf. The
// pair is as old as the data.
func planDelegateAccess(t *Tenant, r *rand.Rand, l *plan) bool {
	boss := t.pick(r, homebody)
	if boss < 0 {
		return false
	}
	asst := t.pick(r, func(u *user) bool { return homebody(u) && u.office == t.users[boss].office })
	if asst < 0 {
		return false
	}
	s := t.addSpecial(special{owner: t.users[boss].upn, logonType: 2})
	l.users = []int{asst, boss}
	l.detail["note"] = "an assistant reads and sends mail in a manager's mailbox as delegate (LogonType 2) every working day"
	l.detail["target"] = t.users[boss].upn
	t.users[asst].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if day.weekend {
			return
		}
		u := &t.users[ui]
		for k := 3 + r.IntN(6); k > 0; k-- {
			op := uint16(opMailItemsAccessed)
			if r.IntN(4) == 0 {
				op = opSend
			}
			t.emitIn(ui, day.at(8.5+r.Float64()*8), op, u.corp, u.desktopUA, s, 0, r)
		}
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == asst && e.special == s })
	}
	return true
}
