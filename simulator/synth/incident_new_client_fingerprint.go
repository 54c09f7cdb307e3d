package synth

import "math/rand/v2"

// planNewClientFingerprint plants new-client-fingerprint: python-requests from a new hosting
// address, then 6 downloads. Decoy: a browser upgrade (new user agent) with 3 downloads
// (min_file_ops=5, not a tool).
func planNewClientFingerprint(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offNewYork, p, d)
	do := t.addIP(ipInfo{addr: "159.203.77.42", place: plNewYork, isp: "DigitalOcean", carrier: "digitalocean llc",
		category: catCloud, tag: "0000003a0000000000000000"})
	p.detail["note"] = "sign-in with python-requests from a new DigitalOcean address, then 6 downloads"
	p.detail["userAgent"] = userAgents[uaPythonRequests].raw
	d.detail["note"] = "a new browser version (Chrome 132) from the usual home address, 3 downloads"
	d.detail["userAgent"] = userAgents[uaChromeWinNew].raw
	p.emit = func(p *plan) {
		ts := p.rec(u, p.at, opUserLoggedIn, do, uaPythonRequests, -1, 0)
		for i := 0; i < 6; i++ {
			p.rec(u, ts+int64(i+1)*20*secMS, opFileDownloaded, do, uaPythonRequests, -1, 0)
		}
	}
	d.emit = func(p *plan) {
		c := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, c.home, uaChromeWinNew, -1, 0)
		for i := 0; i < 3; i++ {
			p.rec(v, ts+int64(i+1)*2*minMS, opFileDownloaded, c.home, uaChromeWinNew, -1, 0)
		}
	}
}
