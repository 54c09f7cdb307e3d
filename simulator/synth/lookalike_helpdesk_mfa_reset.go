package synth

import "math/rand/v2"

// planHelpdeskMFAReset plants helpdesk-mfa-reset: colleagues who lost or replaced their phone call
// the helpdesk, which deletes their old security info ("Admin deleted security info"); they then
// sign in at the office and register the Authenticator app anew. Twice before the window, once
// in it; no sign-in around it is unusual.
func planHelpdeskMFAReset(t *Tenant, r *rand.Rand, l *plan) bool {
	hd := t.laterAdmin(r, offLondon, opResetPassword, opUpdateUser)
	type reset struct {
		ui int
		at int64
	}
	var rs []reset
	for k := 0; k < 3; k++ {
		ui := t.pick(r, homebody)
		if ui < 0 {
			return false
		}
		var day dayInfo
		var ok bool
		if k < 2 {
			days := t.workdaysBefore(r, ui, 2)
			if len(days) > k {
				day, ok = days[k], true
			}
		} else {
			day, ok = t.recentWorkday(r, ui)
		}
		if !ok {
			return false
		}
		rs = append(rs, reset{ui, day.at(10 + r.Float64()*5)})
		l.users = append(l.users, ui)
	}
	l.users = append([]int{hd}, l.users...)
	l.detail["note"] = "the helpdesk deletes a colleague's lost phone (\"Admin deleted security info\"); the colleague signs in at the office and registers the Authenticator app again; twice before the window, once in it"
	l.emit = func(l *plan) {
		h := &t.users[hd]
		for _, x := range rs {
			u := &t.users[x.ui]
			l.rec(hd, x.at, opAdminDeletedSecurityInfo, h.corp, h.desktopUA,
				securityInfoSpecial(t, u.upn, "Admin deleted Authenticator App with Notification and Code"), flagAdmin)
			ua := t.desktopUAAt(x.ui, x.at)
			ts := l.rec(x.ui, x.at+20*minMS, opUserLoggedIn, u.corp, ua, -1, 0)
			ts = l.rec(x.ui, ts+3*minMS, opUserRegisteredSecurityInfo, u.corp, ua,
				securityInfoSpecial(t, u.upn, "User registered Authenticator App with Notification and Code"), 0)
			l.rec(x.ui, ts+20*secMS, opUpdateUser, u.corp, ua, authenticatorSpecial(t, u.upn, "iPhone 14"), 0)
		}
	}
	return true
}
