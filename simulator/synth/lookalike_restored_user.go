package synth

import "math/rand/v2"

// planRestoredUser plants restored-user: the offboarding admin deletes an active account by
// mistake and restores it within the hour ("Restore user."); the person works on. It happened
// once before, two weeks before the window, so restoring is routine for the admin.
func planRestoredUser(t *Tenant, r *rand.Rand, l *plan) bool {
	adm := t.offboarder()
	if adm < 0 {
		return false
	}
	type restore struct {
		ui        int
		del, back int64
	}
	var rs []restore
	from, to := t.recentDays()
	for k, span := range [][2]int{{from, to - 1}, {from - 14, from - 10}} {
		ui := t.pick(r, homebody)
		day, ok := t.workday(r, adm, max(span[0], warmupDays), span[1])
		if ui < 0 || !ok {
			if k == 0 {
				return false // the one in the window is the look-alike
			}
			continue
		}
		del := day.at(9.5 + r.Float64()*5)
		back := del + 25*minMS + r.Int64N(25*minMS)
		t.users[ui].gapFrom, t.users[ui].gapTo = del, back
		rs = append(rs, restore{ui, del, back})
		l.users = append(l.users, ui)
	}
	l.users = append(l.users, adm)
	l.detail["note"] = "\"Delete user.\" of an active account by mistake, \"Restore user.\" within the hour, and the person works on"
	l.detail["restoredBy"] = t.users[adm].upn
	l.emit = func(l *plan) {
		a := &t.users[adm]
		for _, x := range rs {
			u := &t.users[x.ui]
			s := t.addSpecial(special{objects: []string{u.upn, u.display}})
			l.rec(adm, x.del, opDeleteUser, a.corp, uaChromeWin, s, flagAdmin)
			l.rec(adm, x.back, opRestoreUser, a.corp, uaChromeWin, s, flagAdmin)
		}
		l.markRecent(func(e *rawEvent) bool {
			for _, x := range rs {
				if int(e.user) == x.ui && e.ts > x.back && e.op == opUserLoggedIn {
					return true
				}
			}
			return false
		})
	}
	return true
}
