package synth

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// convertedPrefix starts the names of the files the conversion job converts.
const convertedPrefix = "Signed contract "

// planFileConversion plants file-conversion: a contracts clerk converts the day's signed contracts
// to PDF on most working afternoons, 20 to 26 in a few minutes: each x.pdf uploaded, then x.docx
// deleted (the same stem).
func planFileConversion(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.routineUser(r, l, "a clerk's routine: most working afternoons, 20 to 26 contracts converted in a few minutes (x.pdf uploaded, x.docx deleted)",
		func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
			if day.weekend || r.IntN(10) == 0 {
				return
			}
			u := &t.users[ui]
			ts := day.at(15 + r.Float64()*2)
			ts -= ts % (10 * minMS) // the job starts on a ten-minute tick of its scheduler
			ts += 20 * secMS
			date := time.UnixMilli(day.at(12)).UTC().Format(time.DateOnly)
			for k := 20 + r.IntN(7); k > 0; k-- {
				stem := fmt.Sprintf("%s%s %02d", convertedPrefix, date, k)
				t.emitIn(ui, ts, opFileUploaded, u.corp, u.desktopUA, t.addSpecial(special{file: stem + ".pdf"}), 0, r)
				t.emitIn(ui, ts+4*secMS, opFileDeleted, u.corp, u.desktopUA, t.addSpecial(special{file: stem + ".docx"}), 0, r)
				ts += 20 * secMS
			}
		})
	if ui < 0 {
		return false
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool {
			return int(e.user) == ui && e.special >= 0 && strings.HasPrefix(t.specials[e.special].file, convertedPrefix)
		})
	}
	return true
}
