package synth

import "math/rand/v2"

// planNewHireMFASetup plants new-hire-mfa-setup: a new hire starts in the window; at their first
// sign-in, at the office, they register the Authenticator app, and then work as everyone does.
// Everything about them is new, so nothing about them is unusual yet.
func planNewHireMFASetup(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterUser(r, offSingapore)
	from, to := t.recentDays()
	day, ok := t.workday(r, ui, from, max(from, to-2))
	if !ok {
		return false
	}
	u := &t.users[ui]
	start := day.at(9)
	u.gapFrom, u.gapTo = t.start, start+hourMS
	u.noFails = true
	l.users = []int{ui}
	l.detail["note"] = "a new hire's first sign-in at the office in the window, with the Authenticator app registered at once"
	l.emit = func(l *plan) {
		u := &t.users[ui]
		ts := l.rec(ui, start, opUserLoggedIn, u.corp, u.desktopUA, -1, 0)
		ts = l.rec(ui, ts+6*minMS, opUserRegisteredSecurityInfo, u.corp, u.desktopUA,
			securityInfoSpecial(t, u.upn, "User registered Authenticator App with Notification and Code"), 0)
		l.rec(ui, ts+20*secMS, opUpdateUser, u.corp, u.desktopUA, authenticatorSpecial(t, u.upn, "Galaxy S24"), 0)
	}
	return true
}
