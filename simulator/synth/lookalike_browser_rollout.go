package synth

import "math/rand/v2"

// rolledOut is the next major version of a desktop browser (the rollout's).
func rolledOut(ua uint8) uint8 {
	switch ua {
	case uaChromeWin:
		return uaChromeWinNew
	case uaEdgeWin:
		return uaEdgeWinNew
	}
	return ua
}

// planBrowserRollout plants browser-rollout: Chrome and Edge move from version 131 to 132 in the
// window, for nearly every user of them the other look-alikes left (not the offboarding admin),
// each on a day of their own over three days.
func planBrowserRollout(t *Tenant, r *rand.Rand, l *plan) bool {
	from, _ := t.recentDays()
	in := make([]bool, len(t.users))
	for i := 0; i < t.cfg.Users; i++ {
		u := &t.users[i]
		if t.claimed[i] || u.offboarder || rolledOut(u.desktopUA) == u.desktopUA || r.IntN(10) == 0 {
			continue
		}
		u.rollAt = t.firstDay() + int64(from+1+r.IntN(3))*dayMS + r.Int64N(dayMS)
		in[i] = true
		l.users = append(l.users, i)
	}
	if len(l.users) == 0 {
		return false
	}
	l.detail["note"] = "Chrome and Edge 131 → 132 across the tenant over three days in the window"
	l.detail["userAgents"] = []string{userAgents[uaChromeWinNew].raw, userAgents[uaEdgeWinNew].raw}
	l.emit = func(l *plan) {
		l.markFirst(func(e *rawEvent) bool { return in[e.user] && (e.ua == uaChromeWinNew || e.ua == uaEdgeWinNew) })
	}
	return true
}
