package synth

import "math/rand/v2"

// cmdletSpecial is a cmdlet record's Parameters.
func cmdletSpecial(t *Tenant, kv ...string) int32 {
	var ps [][2]string
	for i := 0; i+1 < len(kv); i += 2 {
		ps = append(ps, [2]string{kv[i], kv[i+1]})
	}
	return t.addSpecial(special{params: ps})
}

// planEDiscoveryExport plants ediscovery-export: an administrator who never ran an eDiscovery
// export searches every mailbox for invoices, wires and passwords and exports the results (the
// export a PST download follows). Decoy: a security analyst, who purges phishing mail with
// compliance searches routinely, previews a search's results without exporting them.
func planEDiscoveryExport(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offFrankfurt, p.at, opUpdateUser, opResetPassword)
	v := t.dedicatedAdmin(r, offFrankfurt, d.at, opNewComplianceSearch, opStartComplianceSearch, opNewComplianceSearchAction)
	p.users, d.users = []int{u}, []int{v}
	p.detail["note"] = "New-ComplianceSearch over all mailboxes (invoice, wire, password), Start-ComplianceSearch, New-ComplianceSearchAction -Export, by an administrator who never exported"
	d.detail["note"] = "New-ComplianceSearch, Start-ComplianceSearch and New-ComplianceSearchAction -Preview (no export) by an analyst who purges phishing with searches"
	// The incident comes from home, the analyst's preview from the office, where they always work.
	search := func(ui int, home bool, name, query string, action ...string) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ip := c.corp
			if home {
				ip = c.home
			}
			ts := p.rec(ui, p.at, opUserLoggedIn, ip, c.desktopUA, -1, 0)
			ts = p.rec(ui, ts+4*minMS, opNewComplianceSearch, ip, uaPowerShell,
				cmdletSpecial(p.t, "Name", name, "ExchangeLocation", "All", "ContentMatchQuery", query), flagAdmin)
			ts = p.rec(ui, ts+30*secMS, opStartComplianceSearch, ip, uaPowerShell, cmdletSpecial(p.t, "Identity", name), flagAdmin)
			p.rec(ui, ts+12*minMS, opNewComplianceSearchAction, ip, uaPowerShell,
				cmdletSpecial(p.t, append([]string{"SearchName", name}, action...)...), flagAdmin)
		}
	}
	p.emit = search(u, true, "q4-review", "invoice OR wire OR password",
		"Export", "True", "Format", "FxStream", "ExchangeArchiveFormat", "PerUserPst", "Scope", "IndexedItemsOnly")
	d.emit = search(v, false, "phish-2026-11", "subject:\"Your mailbox is full\"", "Preview", "True")
}
