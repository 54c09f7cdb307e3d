package synth

import "math/rand/v2"

// grantedRoles are the privileged roles an identity administrator grants colleagues day to day
// (none of them Global Administrator).
var grantedRoles = []string{"Helpdesk Administrator", "User Administrator", "Teams Administrator", "SharePoint Administrator",
	"Exchange Recipient Administrator"}

// planRoutineRoleGrants plants routine-role-grants: the identity administrator activates Global
// Administrator through Privileged Identity Management every working morning ("Add member to role
// completed (PIM activation)") and, every third day, grants a colleague a privileged role of the
// day-to-day kind (Helpdesk, User, Teams … Administrator). Granting roles is what they always do.
func planRoutineRoleGrants(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterAdmin(r, offNewYork, opUpdateUser, opResetPassword, opUpdateGroup)
	l.users = []int{ui}
	l.detail["note"] = "the identity administrator's PIM activation of Global Administrator every working morning, and a privileged day-to-day role granted to a colleague every third day"
	t.users[ui].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if day.weekend {
			return
		}
		u := &t.users[ui]
		t.emitIn(ui, day.at(8.2+r.Float64()/4), opPIMActivation, u.corp, u.desktopUA, roleSpecial(t, u.upn, "Global Administrator"), flagAdmin, r)
		if day.index%3 == 0 {
			who := &t.users[r.IntN(t.cfg.Users)]
			role := grantedRoles[r.IntN(len(grantedRoles))]
			t.emitIn(ui, day.at(10+r.Float64()*6), opAddMemberToRole, u.corp, u.desktopUA, roleSpecial(t, who.upn, role), flagAdmin, r)
		}
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool {
			return int(e.user) == ui && (e.op == opPIMActivation || e.op == opAddMemberToRole)
		})
	}
	return true
}
