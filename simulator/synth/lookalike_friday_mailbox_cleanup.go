package synth

import (
	"math/rand/v2"
	"time"
)

// planFridayMailboxCleanup plants friday-mailbox-cleanup: a user clears out 80 to 100 messages
// (newsletters, notifications) every Friday afternoon: a big day of deletions every week is their
// normal.
func planFridayMailboxCleanup(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterUser(r, offNewYork)
	l.users = []int{ui}
	l.detail["note"] = "80 to 100 messages moved to Deleted Items every Friday afternoon"
	t.users[ui].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if day.weekday() != time.Friday {
			return
		}
		u := &t.users[ui]
		ts := day.at(16 + r.Float64())
		for k := 80 + r.IntN(21); k > 0; k-- {
			t.emitIn(ui, ts, opMailMoveToDeletedItems, u.corp, u.desktopUA, -1, 0, r)
			ts += 4*secMS + r.Int64N(8*secMS)
		}
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == ui && e.op == opMailMoveToDeletedItems })
	}
	return true
}
