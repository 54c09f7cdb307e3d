package synth

import (
	"math/rand/v2"
	"time"
)

// planAuditConfigValueFirst plants audit-config-value-first: a compliance admin reviews the admin
// audit log settings every week (Set-AdminAuditLogConfig keeping AdminAuditLogEnabled True, with
// TestCmdletLoggingEnabled False), and these records list each parameter Value before its Name.
func planAuditConfigValueFirst(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.pickAdmin(r)
	if ui < 0 {
		return false
	}
	day, ok := t.recentWorkday(r, ui)
	if !ok {
		return false
	}
	weekday := time.UnixMilli(day.at(12)).UTC().Weekday()
	s := t.addSpecial(special{valueFirst: true, params: [][2]string{{"AdminAuditLogEnabled", "True"},
		{"AdminAuditLogAgeLimit", "365.00:00:00"}, {"TestCmdletLoggingEnabled", "False"}}})
	l.users = []int{ui}
	l.detail["note"] = "weekly Set-AdminAuditLogConfig keeping AdminAuditLogEnabled True (TestCmdletLoggingEnabled False), " +
		"each parameter written {\"Value\":…,\"Name\":…}"
	t.users[ui].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if u := &t.users[ui]; time.UnixMilli(day.at(12)).UTC().Weekday() == weekday && !day.weekend {
			t.emitIn(ui, day.at(9.5+r.Float64()), opSetAdminAuditLogConfig, u.corp, uaPowerShell, s, flagAdmin, r)
		}
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == ui && e.op == opSetAdminAuditLogConfig })
	}
	return true
}
