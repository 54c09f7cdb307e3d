package synth

import (
	"fmt"
	"math/rand/v2"
)

// planNightShiftPayroll plants night-shift-payroll: a payroll clerk works nights, 22:00 to 04:00
// in Chicago, every working day, at the office, opening payroll and salary files: night is their
// working day.
func planNightShiftPayroll(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterUser(r, offChicago)
	u := &t.users[ui]
	u.noSessions, u.noFails, u.apps = true, true, nil
	l.users = []int{ui}
	l.detail["note"] = "a payroll clerk on the night shift (22:00–04:00 Chicago time) opening payroll and salary files every working night"
	u.routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if day.weekend {
			return
		}
		u := &t.users[ui]
		ts := day.at(22 + r.Float64()/2)
		t.emitIn(ui, ts, opUserLoggedIn, u.corp, u.desktopUA, -1, 0, r)
		for k := 4 + r.IntN(5); k > 0; k-- {
			ts += 20*minMS + r.Int64N(40*minMS)
			op := uint16(opFileAccessed)
			if r.IntN(2) == 0 {
				op = opFileDownloaded
			}
			f := fmt.Sprintf("Payroll 2026-%02d.xlsx", 1+r.IntN(12))
			if r.IntN(3) == 0 {
				f = "Salary adjustments week " + fmt.Sprint(1+day.index%52) + ".xlsx"
			}
			t.emitIn(ui, ts, op, u.corp, u.desktopUA, t.addSpecial(special{file: f}), 0, r)
			t.emitIn(ui, ts+15*secMS, opMailItemsAccessed, u.corp, u.desktopUA, -1, 0, r)
		}
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == ui && e.special >= 0 })
	}
	return true
}
