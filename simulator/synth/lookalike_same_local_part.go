package synth

import (
	"math/rand/v2"
	"strings"
)

// secondDomain is the default tenant's second mail domain (an acquired company's): every 16th
// ordinary user signs in as …@fabrikam.com once the look-alikes are on. A tenant of another
// Config.Domain has its own (Config.SecondDomain).
const secondDomain = "fabrikam.com"

// planSameLocalPart plants same-local-part: the offboarding admin deletes a leaver,
// john.smith@contoso.com, while john.smith@fabrikam.com, a different person with the same name in
// the tenant's second domain, works on as every day.
func planSameLocalPart(t *Tenant, r *rand.Rand, l *plan) bool {
	adm := t.offboarder()
	if adm < 0 {
		return false
	}
	for i := 9; i < t.cfg.Users; i += 16 {
		local, _, _ := strings.Cut(t.users[i].upn, "@")
		t.users[i].upn = local + "@" + t.cfg.SecondDomain
	}
	f := t.pick(r, func(u *user) bool { return homebody(u) && strings.HasSuffix(u.upn, "@"+t.cfg.SecondDomain) })
	day, ok := t.recentWorkday(r, adm)
	if f < 0 || !ok {
		return false
	}
	at := day.at(10 + r.Float64()*3)
	local, _, _ := strings.Cut(t.users[f].upn, "@")
	leaver := local + "@" + t.cfg.Domain
	l.users = []int{f, adm}
	l.detail["note"] = "\"Delete user.\" of the leaver " + leaver + "; " + t.users[f].upn +
		", another person with the same name in the second domain, keeps working"
	l.detail["deleted"], l.detail["deletedBy"] = leaver, t.users[adm].upn
	l.emit = func(l *plan) {
		a := &t.users[adm]
		s := t.addSpecial(special{objects: []string{leaver, t.users[f].display}})
		l.rec(adm, at, opDeleteUser, a.corp, uaChromeWin, s, flagAdmin)
		l.markRecent(func(e *rawEvent) bool { return isUser(e, f) && e.ts > at && e.op == opUserLoggedIn })
	}
	return true
}
