package synth

import (
	"fmt"
	"math/rand/v2"
)

// planMassShare plants mass-share: three 10-minute buckets of 14 external shares. Decoy: 12 then 7
// (one hot bucket).
func planMassShare(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offLondon, p, d)
	p.detail["note"] = "3 ten-minute buckets with 14 shares each, anonymous links and external recipients (per_window=10, min_windows=2)"
	p.detail["hotWindows"] = 3
	d.detail["note"] = "one bucket of 12 shares, the next of 7: one hot window (min_windows=2), 19 shares in the day"
	d.detail["hotWindows"] = 1
	ext := []string{"gmail.com", "outlook.com", "yahoo.com", "proton.me"}
	burst := func(ui int, sizes []int) func(p *plan) {
		return func(p *plan) {
			us := &t.users[ui]
			p.rec(ui, p.at, opUserLoggedIn, us.home, us.desktopUA, -1, 0)
			for b, n := range sizes {
				for i := 0; i < n; i++ {
					op := uint16(opSharingInvitationCreated)
					if i%3 == 0 {
						op = opAnonymousLinkCreated
					}
					who := fmt.Sprintf("%s.%d@%s", asciiLocal(lastNames[(i*7+b)%len(lastNames)]), 10+i+b*20, ext[i%len(ext)])
					s := p.t.addSpecial(special{objects: []string{who}})
					p.rec(ui, p.at+int64(b)*10*minMS+30*secMS+int64(i)*35*secMS, op, us.home, us.desktopUA, s, 0)
				}
			}
		}
	}
	p.emit, d.emit = burst(u, []int{14, 14, 14}), burst(v, []int{12, 7})
}
