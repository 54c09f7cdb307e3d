package synth

import (
	"fmt"
	"math/rand/v2"
)

// planRansomwarePattern plants ransomware-pattern: 25 files deleted and re-uploaded as .locked in
// one 10-minute bucket. Decoy: 15 new versions uploaded and 15 old ones deleted (different stems,
// below min_ops=20).
func planRansomwarePattern(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offParis, p, d)
	p.detail["note"] = "25 files deleted and uploaded again as <name>.locked within one 10-minute bucket"
	p.detail["extension"] = "locked"
	d.detail["note"] = "15 uploads of new versions (_v2) and 15 deletes of old ones (_v1): below min_ops=20, no ransom extension"
	p.emit = func(p *plan) {
		us := &t.users[u]
		p.rec(u, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
		for i := 0; i < 25; i++ {
			name := fmt.Sprintf("%s %02d.%s", fileWords[i%20], i, fileExts[i%3])
			ts := p.at + 20*secMS + int64(i)*20*secMS
			p.rec(u, ts, opFileDeleted, us.corp, us.desktopUA, p.t.addSpecial(special{file: name}), 0)
			p.rec(u, ts+10*secMS, opFileUploaded, us.corp, us.desktopUA, p.t.addSpecial(special{file: name + ".locked"}), 0)
		}
	}
	d.emit = func(p *plan) {
		us := &t.users[v]
		p.rec(v, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
		for i := 0; i < 15; i++ {
			w := fileWords[i%20]
			ts := p.at + 20*secMS + int64(i)*30*secMS
			p.rec(v, ts, opFileUploaded, us.corp, us.desktopUA, p.t.addSpecial(special{file: fmt.Sprintf("%s_v2.docx", w)}), 0)
			p.rec(v, ts+10*secMS, opFileDeleted, us.corp, us.desktopUA, p.t.addSpecial(special{file: fmt.Sprintf("%s_v1.docx", w)}), 0)
		}
	}
}
