package synth

import "math/rand/v2"

// roleTemplates are the template ids of the Entra ID roles the simulator assigns.
var roleTemplates = map[string]string{
	"Global Administrator":             "62e90394-69f5-4237-9190-012177145e10",
	"Helpdesk Administrator":           "729827e3-9c14-49f7-bb1b-9608f156bbb8",
	"User Administrator":               "fe930be7-5e62-47db-91af-98c3a49a38b1",
	"Teams Administrator":              "69091246-20e8-4a56-aa4d-066075b2a7a8",
	"SharePoint Administrator":         "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
	"Exchange Recipient Administrator": "31392ffb-586c-42d1-9346-e59415a2cc4e",
	"Message Center Reader":            "790c1fb9-7f7d-4f88-86a1-ef1f95c05c1b",
}

// roleSpecial is "Add member to role." (or a PIM record) of role for target: the target and the
// role's display name as the objects, the role in ModifiedProperties as Entra ID writes it.
func roleSpecial(t *Tenant, target, role string) int32 {
	return t.addSpecial(special{objects: []string{target, role}, modProps: [][3]string{
		{"Role.ObjectID", "", roleTemplates[role]},
		{"Role.DisplayName", "", role},
		{"Role.TemplateId", "", roleTemplates[role]},
		{"Role.WellKnownObjectName", "", ""},
	}})
}

// planPrivilegedRoleAssignment plants privileged-role-assignment: an administrator who has never
// granted a privileged role makes a colleague's account Global Administrator. Decoy: another
// administrator who never granted one either grants a reader role (Message Center Reader), which
// is not privileged. Both add members to roles routinely (roles the records do not name), so the
// operation itself is not new for them.
func planPrivilegedRoleAssignment(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offLondon, p.at, opUpdateUser, opResetPassword, opAddMemberToRole)
	x := t.dedicated(r, offLondon, p.at)
	v := t.dedicatedAdmin(r, offLondon, d.at, opUpdateUser, opResetPassword, opAddMemberToRole)
	y := t.dedicated(r, offLondon, d.at)
	p.users, d.users = []int{u, x}, []int{v, y}
	p.detail["note"] = "\"Add member to role.\" Global Administrator for a colleague, by an administrator who never granted a privileged role"
	p.detail["role"] = "Global Administrator"
	d.detail["note"] = "\"Add member to role.\" Message Center Reader (not privileged) for a colleague"
	d.detail["role"] = "Message Center Reader"
	grant := func(ui, target int, role string) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
			p.rec(ui, ts+6*minMS, opAddMemberToRole, c.corp, c.desktopUA, roleSpecial(p.t, t.users[target].upn, role), flagAdmin)
		}
	}
	p.emit, d.emit = grant(u, x, "Global Administrator"), grant(v, y, "Message Center Reader")
}
