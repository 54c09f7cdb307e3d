package synth

import "math/rand/v2"

// planTypoAccountFixed plants typo-account-fixed: the provisioning administrator, who creates new
// hires' accounts and deletes leavers' as a routine, creates an account with a typo in the name,
// deletes it four minutes later and creates it again, spelt right. The mistaken account never
// signed in.
func planTypoAccountFixed(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterAdmin(r, offToronto, opUpdateUser, opResetPassword)
	t.users[ui].routine = provisionRoutine
	day, ok := t.recentWorkday(r, ui)
	if !ok {
		return false
	}
	right := t.leaverObjects(r)
	local, domain := right[0][:len(right[0])-len(t.cfg.Domain)-1], t.cfg.Domain
	// the typo: two letters of the surname swapped
	b := []byte(local)
	i := len(b) - 2
	for i > 0 && (b[i] == '.' || b[i+1] == '.' || b[i] == b[i+1] || b[i] < 'a' || b[i+1] < 'a') {
		i--
	}
	b[i], b[i+1] = b[i+1], b[i]
	typo := []string{string(b) + "@" + domain, right[1]}
	at := day.at(10 + r.Float64()*5)
	l.users = []int{ui}
	l.detail["note"] = "\"Add user.\" of " + typo[0] + " (a typo), \"Delete user.\" of it 4 minutes later, and \"Add user.\" of " + right[0]
	l.detail["account"] = typo[0]
	l.emit = func(l *plan) {
		u := &t.users[ui]
		bad := t.addSpecial(special{objects: typo})
		ts := l.rec(ui, at, opAddUser, u.corp, u.desktopUA, bad, flagAdmin)
		ts = l.rec(ui, ts+4*minMS, opDeleteUser, u.corp, u.desktopUA, bad, flagAdmin)
		l.rec(ui, ts+75*secMS, opAddUser, u.corp, u.desktopUA, t.addSpecial(special{objects: right}), flagAdmin)
	}
	return true
}
