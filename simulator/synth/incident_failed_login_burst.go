package synth

import (
	"math/rand/v2"
	"time"
)

// planFailedLoginBurst plants failed-login-burst: 15 failures in 3.5 minutes, then success. Decoy:
// 9 failures in 4 minutes.
func planFailedLoginBurst(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offNewYork, p, d)
	atk := t.addIP(ipInfo{addr: "159.203.77.41", place: plNewYork, isp: "DigitalOcean", carrier: "digitalocean llc",
		category: catCloud, tag: "0000003a0000000000000000"})
	p.detail["note"] = "15 failed sign-ins within 3.5 minutes (threshold: more than 10 in 5), then a success"
	p.detail["fails"] = 15
	d.detail["note"] = "9 failed sign-ins within 4 minutes (threshold: more than 10 in 5), then a success"
	d.detail["fails"] = 9
	p.emit = func(p *plan) {
		us := &t.users[u]
		ts := p.at
		for i := 0; i < 15; i++ {
			p.rec(u, ts, opUserLoginFailed, atk, us.desktopUA, -1, 0)
			ts += 14 * secMS
		}
		p.rec(u, ts+2*minMS, opUserLoggedIn, atk, us.desktopUA, -1, 0)
	}
	d.emit = func(p *plan) {
		us := &t.users[v]
		ts := p.at
		for i := 0; i < 9; i++ {
			p.rec(v, ts, opUserLoginFailed, us.home, us.desktopUA, -1, 0)
			ts += 28 * secMS
		}
		p.rec(v, ts+time.Minute.Milliseconds(), opUserLoggedIn, us.home, us.desktopUA, -1, 0)
	}
}
