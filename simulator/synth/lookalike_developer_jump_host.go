package synth

import "math/rand/v2"

// planDeveloperJumpHost plants developer-jump-host: a developer works part of the time from a
// DigitalOcean server the team rents (their sync jobs run there every day); twice in the window
// they sign in from it. A hosting provider, but theirs all along.
func planDeveloperJumpHost(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterUser(r, offLondon)
	u := &t.users[ui]
	u.cloud = t.addIP(ipInfo{addr: "178.62.85.120", place: plLondon, isp: "DigitalOcean", carrier: "digitalocean llc",
		category: catCloud, tag: "0000003a0000000000000000"})
	var times []int64
	from, to := t.recentDays()
	for k := 0; k < 2; k++ {
		if day, ok := t.workday(r, ui, from+k*(to-from+1)/2, from+(k+1)*(to-from+1)/2-1); ok {
			times = append(times, day.at(11+r.Float64()*5))
		}
	}
	if len(times) == 0 {
		return false
	}
	l.users = []int{ui}
	l.detail["note"] = "a developer's sign-ins from the team's DigitalOcean server, which their sync jobs have used every day since the data starts"
	l.emit = func(l *plan) {
		u := &t.users[ui]
		for _, at := range times {
			ts := l.rec(ui, at, opUserLoggedIn, u.cloud, u.desktopUA, -1, 0)
			l.rec(ui, ts+50*secMS, opFileAccessed, u.cloud, u.desktopUA, -1, 0)
		}
	}
	return true
}
