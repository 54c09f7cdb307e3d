package synth

import (
	"math/rand/v2"
	"time"
)

// pickAdmin claims an ordinary admin other than the offboarder, or makes a homebody one (with
// routine operations from the office and PowerShell for the mailbox ones), or returns -1.
func (t *Tenant) pickAdmin(r *rand.Rand) int {
	if ui := t.pick(r, func(u *user) bool { return u.admin && !u.offboarder }); ui >= 0 {
		return ui
	}
	ui := t.pick(r, homebody)
	if ui >= 0 {
		u := &t.users[ui]
		u.admin, u.extraUA = true, uaPowerShell
		for _, k := range r.Perm(len(adminOpPool))[:4] {
			u.adminOps = append(u.adminOps, adminOpPool[k])
		}
	}
	return ui
}

// planAdminPowerShell plants admin-powershell: an admin runs an Exchange Online PowerShell script
// every working morning from the office (a sign-in, then Set-Mailbox and Add-MailboxPermission
// with a PowerShell user agent). Midway through the window PowerShell updates from 7.4.6 to 7.5.0.
func planAdminPowerShell(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.pickAdmin(r)
	if ui < 0 {
		return false
	}
	from, to := t.recentDays()
	update := t.firstDay() + int64(from+(to-from)/2)*dayMS
	l.users = []int{ui}
	l.detail["note"] = "an admin's PowerShell script every working morning (Set-Mailbox, Add-MailboxPermission); PowerShell updates to 7.5.0 on " +
		time.UnixMilli(update).UTC().Format(time.DateOnly)
	l.detail["userAgent"] = userAgents[uaPowerShellNew].raw
	t.users[ui].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		u := &t.users[ui]
		u.extraUA = uaPowerShell // the admin's other mailbox work uses the same PowerShell
		if day.midnight >= update {
			u.extraUA = uaPowerShellNew
		}
		if day.weekend {
			return
		}
		ua := uint8(u.extraUA)
		ts := day.at(7 + r.Float64()/2)
		t.emitIn(ui, ts, opUserLoggedIn, u.corp, ua, -1, 0, r)
		for k := 2 + r.IntN(3); k > 0; k-- {
			ts += 20*secMS + r.Int64N(40*secMS)
			op := uint16(opSetMailbox)
			if r.IntN(3) == 0 {
				op = opAddMailboxPermission
			}
			t.emitIn(ui, ts, op, u.corp, ua, -1, flagAdmin, r)
		}
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool {
			return int(e.user) == ui && (e.ua == uaPowerShell || e.ua == uaPowerShellNew)
		})
	}
	return true
}
