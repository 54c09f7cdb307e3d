package synth

import (
	"fmt"
	"math/rand/v2"
)

// planMassDownload plants mass-download: 130 downloads in 130 s (peak > 50 per minute). Decoy: 48
// downloads 1.3 s apart.
func planMassDownload(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offSanFrancisco, p, d)
	p.detail["note"] = "130 SharePoint downloads in 130 seconds (per_min=50)"
	p.detail["downloads"] = 130
	d.detail["note"] = "48 SharePoint downloads 1.3 s apart: at most 47 in any minute (per_min=50)"
	d.detail["downloads"] = 48
	dl := func(ui, n int, step int64) func(p *plan) {
		return func(p *plan) {
			us := &t.users[ui]
			p.rec(ui, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
			for i := 0; i < n; i++ {
				f := p.t.addSpecial(special{file: fmt.Sprintf("%s %03d.%s", fileWords[i%len(fileWords)], i, fileExts[i%4])})
				p.rec(ui, p.at+30*secMS+int64(i)*step, opFileDownloaded, us.corp, us.desktopUA, f, 0)
			}
		}
	}
	p.emit, d.emit = dl(u, 130, secMS), dl(v, 48, 1300)
	// The decoy downloads a lot every day, so 48 is no activity-spike either.
	t.users[v].heavyOp, t.users[v].heavyN = opFileDownloaded, 35
}
