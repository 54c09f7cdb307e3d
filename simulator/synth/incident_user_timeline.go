package synth

import (
	"fmt"
	"math/rand/v2"
)

// planUserTimeline plants user-timeline: a night session (02:00–03:00 UTC) of HR downloads and a
// Box upload. Decoy: the same volume in office hours from the office.
func planUserTimeline(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offLondon, p, d)
	p.detail["note"] = "night session 02:00–03:00 UTC (London): 12 HR downloads, then an upload to Box"
	d.detail["note"] = "the same volume at 14:00 UTC from the office"
	story := func(ui int, hour int64, home bool) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ip := c.corp
			if home {
				ip = c.home
			}
			ts := p.at - p.at%dayMS + hour*hourMS
			if ts < p.at {
				ts += dayMS
			}
			if ts > p.t.end-3*hourMS {
				ts -= dayMS
			}
			ts = p.rec(ui, ts, opUserLoggedIn, ip, c.desktopUA, -1, 0)
			for i := 0; i < 12; i++ {
				f := p.t.addSpecial(special{file: fmt.Sprintf("HR Salaries %d.xlsx", 2014+i)})
				p.rec(ui, ts+int64(i+1)*40*secMS, opFileDownloaded, ip, c.desktopUA, f, 0)
			}
			p.rec(ui, ts+15*minMS, opBoxLogin, ip, c.desktopUA, -1, 0)
			p.rec(ui, ts+16*minMS, opBoxUpload, ip, c.desktopUA, p.t.addSpecial(special{file: "hr-export.zip"}), 0)
		}
	}
	p.emit, d.emit = story(u, 2, true), story(v, 14, false)
	// The night session may move to the next day: keep the users quiet from a day before.
	t.users[u].quietFrom -= dayMS
	t.users[v].quietFrom -= dayMS
}
