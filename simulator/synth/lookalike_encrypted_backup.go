package synth

import (
	"math/rand/v2"
	"time"
)

// planEncryptedBackup plants encrypted-backup: one evening, a user uploads one encrypted backup
// of their laptop to OneDrive from home (a single .enc file).
func planEncryptedBackup(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.pick(r, homebody)
	if ui < 0 {
		return false
	}
	day, ok := t.recentWorkday(r, ui)
	if !ok {
		return false
	}
	at := day.at(19.5 + r.Float64())
	file := "Laptop backup " + time.UnixMilli(day.at(12)).UTC().Format(time.DateOnly) + ".zip.enc"
	l.users = []int{ui}
	l.detail["note"] = "one evening upload of one encrypted laptop backup to OneDrive from home"
	l.detail["file"] = file
	l.emit = func(l *plan) {
		u := &t.users[ui]
		ts := l.rec(ui, at, opUserLoggedIn, u.home, u.desktopUA, -1, 0)
		l.rec(ui, ts+2*minMS, opODFileUploaded, u.home, u.desktopUA, t.addSpecial(special{file: file}), 0)
	}
	return true
}
