package synth

import (
	"math"
	"math/rand/v2"
)

// accountOnly adds a user who exists for a plan's records alone: no baseline at all (a brand-new
// account).
func (t *Tenant) accountOnly(r *rand.Rand, office int, local, display string) int {
	u := t.newUser(r, office, t.taken)
	u.upn, u.display = local+"@"+t.cfg.Domain, display
	u.noFails, u.noSessions, u.apps, u.cloud = true, true, nil, -1
	u.quietFrom = math.MinInt64
	t.users = append(t.users, u)
	return len(t.users) - 1
}

// provisionRoutine is an account administrator's routine: a new hire's account created on some
// working days, a leaver's deleted on others (named accounts, as the directory has them).
func provisionRoutine(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
	if day.weekend || r.IntN(3) != 0 {
		return
	}
	u := &t.users[ui]
	op := uint16(opAddUser)
	if r.IntN(2) == 0 {
		op = opDeleteUser
	}
	t.emitIn(ui, day.at(10+r.Float64()*6), op, u.corp, u.desktopUA, t.addSpecial(special{objects: t.leaverObjects(r)}), flagAdmin, r)
}

// planAccountCreatedDeleted plants account-created-deleted: an administrator creates an account,
// the account signs in and downloads files, and the administrator deletes it 95 minutes after
// creating it (a throw-away account that leaves little behind). Decoy: an administrator who
// creates and deletes accounts routinely creates a contractor's account, which works for a day
// and is deleted 30 hours after it was created (within_hours 24).
func planAccountCreatedDeleted(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offSanFrancisco, p.at, opUpdateUser, opResetPassword)
	tmp := t.accountOnly(r, offSanFrancisco, "svc-backup07", "Backup Service 07")
	v := t.dedicatedAdmin(r, offSanFrancisco, d.at, opUpdateUser, opResetPassword)
	t.users[v].routine = provisionRoutine
	con := t.accountOnly(r, offSanFrancisco, "ext.j.ramos", "Julia Ramos (Contractor)")
	p.users, d.users = []int{u, tmp}, []int{v, con}
	p.detail["note"] = "\"Add user.\" svc-backup07, which signs in and downloads 4 files, then \"Delete user.\" of it 95 minutes after it was created"
	p.detail["account"] = t.users[tmp].upn
	d.detail["note"] = "\"Add user.\" of a contractor's account by an administrator who creates and deletes accounts routinely; it works for a day and is deleted 30 hours later"
	d.detail["account"] = t.users[con].upn
	p.emit = func(p *plan) {
		a, x := &t.users[u], &t.users[tmp]
		acct := p.t.addSpecial(special{objects: []string{x.upn, x.display}})
		ts := p.rec(u, p.at, opUserLoggedIn, a.corp, a.desktopUA, -1, 0)
		created := p.rec(u, ts+2*minMS, opAddUser, a.corp, a.desktopUA, acct, flagAdmin)
		ts = p.rec(tmp, created+25*minMS, opUserLoggedIn, a.corp, uaChromeWin, -1, 0)
		for i := 0; i < 4; i++ {
			ts = p.rec(tmp, ts+40*secMS, opFileDownloaded, a.corp, uaChromeWin, -1, 0)
		}
		p.rec(u, created+95*minMS, opDeleteUser, a.corp, a.desktopUA, acct, flagAdmin)
	}
	d.emit = func(p *plan) {
		a, x := &t.users[v], &t.users[con]
		acct := p.t.addSpecial(special{objects: []string{x.upn, x.display}})
		created := p.rec(v, p.at, opAddUser, a.corp, a.desktopUA, acct, flagAdmin)
		ts := p.rec(con, created+40*minMS, opUserLoggedIn, a.corp, uaEdgeWin, -1, 0)
		for range 3 {
			ts = p.rec(con, ts+35*secMS, opFileAccessed, a.corp, uaEdgeWin, -1, 0)
		}
		p.rec(v, created+30*hourMS, opDeleteUser, a.corp, a.desktopUA, acct, flagAdmin)
	}
}
