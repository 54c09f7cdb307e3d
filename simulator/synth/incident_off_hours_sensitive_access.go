package synth

import (
	"fmt"
	"math/rand/v2"
)

// localHourAfter is the first time at local hour h (at place pl) on or after at, moved a day
// earlier when it would fall in the last 3 hours of the data.
func (t *Tenant) localHourAfter(at int64, pl, h int) int64 {
	off := int64(places[pl].tz) * hourMS
	local := at + off
	ts := local - local%dayMS + int64(h)*hourMS - off
	if ts < at {
		ts += dayMS
	}
	if ts > t.end-3*hourMS {
		ts -= dayMS
	}
	return ts
}

// planOffHoursSensitiveAccess plants off-hours-sensitive-access: a Chicago user who works office
// hours signs in from home at 03:00 local time and downloads payroll and salary files. Decoy:
// another Chicago user reads ordinary project files at the same night hour (nothing sensitive).
func planOffHoursSensitiveAccess(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offChicago, p, d)
	p.detail["note"] = "14 payroll, salary and compensation files downloaded at 03:00 Chicago time by a user who works office hours"
	d.detail["note"] = "8 ordinary project files downloaded at 03:00 Chicago time (nothing sensitive)"
	files := []string{"Payroll 2026-01.xlsx", "Payroll 2026-02.xlsx", "Payroll 2026-03.xlsx", "Salary bands 2026.xlsx",
		"Compensation review - Engineering.xlsx", "Compensation review - Sales.xlsx", "Bonus pool FY26.xlsx"}
	night := func(ui, n int, name func(i int) string) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.t.localHourAfter(p.at, plChicago, 3), opUserLoggedIn, c.home, c.desktopUA, -1, 0)
			for i := 0; i < n; i++ {
				ts = p.rec(ui, ts+45*secMS, opFileDownloaded, c.home, c.desktopUA, p.t.addSpecial(special{file: name(i)}), 0)
			}
		}
	}
	p.emit = night(u, 14, func(i int) string {
		if i < len(files) {
			return files[i]
		}
		return fmt.Sprintf("Payroll 2025-%02d.xlsx", i-len(files)+6)
	})
	d.emit = night(v, 8, func(i int) string { return fmt.Sprintf("Roadmap %d.pptx", i+1) })
	// The night hour may come the next day: keep the users quiet from a day before.
	t.users[u].quietFrom -= dayMS
	t.users[v].quietFrom -= dayMS
}
