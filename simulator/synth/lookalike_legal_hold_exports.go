package synth

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// planLegalHoldExports plants legal-hold-exports: the compliance officer (an eDiscovery manager)
// searches the custodians' mailboxes of a legal case and exports the results every Tuesday and
// Thursday, from the office: exporting is their job.
func planLegalHoldExports(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterUser(r, offLondon)
	l.users = []int{ui}
	l.detail["note"] = "the compliance officer's compliance searches of a case's custodians, exported every Tuesday and Thursday"
	t.users[ui].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if wd := day.weekday(); wd != time.Tuesday && wd != time.Thursday {
			return
		}
		u := &t.users[ui]
		a, b := &t.users[r.IntN(t.cfg.Users)], &t.users[r.IntN(t.cfg.Users)]
		name := fmt.Sprintf("case-%d-custodians", 4100+day.index/7)
		ts := day.at(14 + r.Float64()*2)
		t.emitIn(ui, ts, opNewComplianceSearch, u.corp, uaPowerShell, cmdletSpecial(t, "Name", name,
			"ExchangeLocation", a.upn+","+b.upn, "ContentMatchQuery", `"Project Falcon" AND sent>=2025-01-01`), flagAdmin, r)
		t.emitIn(ui, ts+40*secMS, opStartComplianceSearch, u.corp, uaPowerShell, cmdletSpecial(t, "Identity", name), flagAdmin, r)
		t.emitIn(ui, ts+20*minMS, opNewComplianceSearchAction, u.corp, uaPowerShell, cmdletSpecial(t, "SearchName", name,
			"Export", "True", "Format", "FxStream", "ExchangeArchiveFormat", "PerUserPst"), flagAdmin, r)
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == ui && ops[e.op].workload == "SecurityComplianceCenter" })
	}
	return true
}
