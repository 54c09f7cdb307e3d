package synth

import "math/rand/v2"

// planSanctionedAppConsents plants sanctioned-app-consents: the tenant's e-signature app, which
// reads mail and files, is consented to by one user after another as they first need it: five
// before the window, one in it. An app the tenant has long used is not a rare one, whatever it
// may read.
func planSanctionedAppConsents(t *Tenant, r *rand.Rand, l *plan) bool {
	type consent struct {
		ui  int
		day dayInfo
	}
	var cs []consent
	for k := 0; k < 6; k++ {
		ui := t.pick(r, homebody)
		if ui < 0 {
			break
		}
		var day dayInfo
		var ok bool
		if k < 5 {
			from, _ := t.recentDays()
			span := from - 1 - warmupDays
			day, ok = t.workday(r, ui, warmupDays+k*span/5, warmupDays+(k+1)*span/5-1)
		} else {
			day, ok = t.recentWorkday(r, ui)
		}
		if ok {
			cs = append(cs, consent{ui, day})
			l.users = append(l.users, ui)
		}
	}
	if len(cs) < 2 || cs[len(cs)-1].day.index < t.recentFrom() {
		return false
	}
	const app, appID = "DocuSign", "2f1e63c4-9b8d-4e7a-8a43-0c5d9e1b7f26"
	l.detail["note"] = "users consent to the tenant's e-signature app (DocuSign: Mail.Read, Files.Read.All, offline_access) as they first need it, five before the window and one in it"
	l.detail["app"] = app
	times := make([]int64, len(cs))
	for i, c := range cs {
		times[i] = c.day.at(9.5 + r.Float64()*7)
	}
	l.emit = func(l *plan) {
		for i, c := range cs {
			u := &t.users[c.ui]
			ua := t.desktopUAAt(c.ui, times[i])
			l.rec(c.ui, times[i], opConsentToApp, u.corp, ua,
				consentSpecial(t, app, appID, "openid profile offline_access User.Read Mail.Read Files.Read.All", false), 0)
		}
	}
	return true
}
