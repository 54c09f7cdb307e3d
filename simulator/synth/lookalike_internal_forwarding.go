package synth

import (
	"math/rand/v2"
	"strings"
)

// planInternalForwarding plants internal-forwarding: three mailboxes forward inside the company. An
// inbox rule copies mail to a colleague at the EU subsidiary's subdomain (eu.contoso.com);
// Set-Mailbox -ForwardingAddress names a shared mailbox by its display name ("Shared Finance");
// an inbox rule redirects to a colleague written as "Last, First" <address>, whose quotes are
// escaped in the JSON.
func planInternalForwarding(t *Tenant, r *rand.Rand, l *plan) bool {
	type change struct {
		ui     int
		at     int64
		op     uint16
		params [][2]string
	}
	var cs []change
	for k := 0; k < 3; k++ {
		ui := t.pick(r, homebody)
		if ui < 0 {
			break
		}
		day, ok := t.recentWorkday(r, ui)
		if !ok {
			continue
		}
		u := &t.users[ui]
		mate := &t.users[r.IntN(t.cfg.Users)]
		local, _, _ := strings.Cut(mate.upn, "@")
		c := change{ui: ui, at: day.at(10 + r.Float64()*6), op: opNewInboxRule}
		switch k {
		case 0:
			c.params = [][2]string{{"Name", "Copy to EU team"}, {"ForwardTo", local + "@eu." + t.cfg.Domain}, {"StopProcessingRules", "False"}}
		case 1:
			c.op = opSetMailbox
			c.params = [][2]string{{"Identity", u.upn}, {"ForwardingAddress", "Shared Finance"}, {"DeliverToMailboxAndForward", "True"}}
		case 2:
			c.params = [][2]string{{"Name", "Expense reports"}, {"SubjectContainsWords", "expense report"},
				{"RedirectTo", `"` + displayLastFirst(mate.display) + `" <` + mate.upn + `>`}, {"StopProcessingRules", "False"}}
		}
		cs = append(cs, c)
		l.users = append(l.users, ui)
	}
	if len(cs) == 0 {
		return false
	}
	l.detail["note"] = "forwarding inside the company: to eu." + t.cfg.Domain + ", to the shared mailbox \"Shared Finance\" by name, and to \"Last, First\" <address>"
	l.emit = func(l *plan) {
		for _, c := range cs {
			u := &t.users[c.ui]
			l.rec(c.ui, c.at, c.op, u.corp, u.desktopUA, t.addSpecial(special{params: c.params}), 0)
		}
	}
	return true
}
