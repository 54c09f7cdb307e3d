package synth

import "math/rand/v2"

// planFederationCertRollover plants federation-cert-rollover: the subsidiary's domain
// corp.contoso.com is federated with its own AD FS; the identity administrator who runs it rolls
// the token-signing certificate over every two weeks or so ("Set federation settings on domain."
// changing the signing certificates only): twice before the window, once in it.
func planFederationCertRollover(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterAdmin(r, offNewYork, opUpdateUser, opUpdateGroup)
	days := t.workdaysBefore(r, ui, 2)
	recent, ok := t.recentWorkday(r, ui)
	if len(days) < 2 || !ok {
		return false
	}
	days = append(days, recent)
	times := make([]int64, len(days))
	for i, d := range days {
		times[i] = d.at(10 + r.Float64()*6)
	}
	l.users = []int{ui}
	l.detail["note"] = "the AD FS token-signing certificate of the federated corp.contoso.com rolled over by its identity administrator (certificates only), twice before the window and once in it"
	l.detail["domain"] = "corp.contoso.com"
	l.emit = func(l *plan) {
		u := &t.users[ui]
		cert := "MIIC4DCCAcigAwIBAgIQHk2b…"
		for i, ts := range times {
			next := "MIIC4DCCAcigAwIBAgIQ" + string(rune('P'+i)) + "x7c…"
			l.rec(ui, ts, opSetFederationSettings, u.corp, uaPowerShell, domainSpecial(t, "corp.contoso.com",
				[3]string{"SigningCertificate", cert, next}, [3]string{"NextSigningCertificate", next, ""}), flagAdmin)
			cert = next
		}
	}
	return true
}
