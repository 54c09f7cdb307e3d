package synth

import (
	"fmt"
	"math/rand/v2"
)

// consentSpecial is a user's (or an admin's tenant-wide) "Consent to application." of app with the
// given delegated scopes, as Entra ID writes it: the ConsentContext switches and the permission
// grant, whose text holds "Scope: …", in ModifiedProperties; the app's display name and app id
// as the objects.
func consentSpecial(t *Tenant, app, appID, scopes string, tenantWide bool) int32 {
	admin, consentType := "False", "Principal"
	if tenantWide {
		admin, consentType = "True", "AllPrincipals"
	}
	grant := fmt.Sprintf("[] => [[Id: %s, ClientId: %s, PrincipalId: , ResourceId: 5f1b4c9e-7a52-4f1e-9f0e-3c2d8b6a1e07, ConsentType: %s, Scope: %s, CreatedDateTime: , LastModifiedDateTime ]]; ",
		appID[:8]+"Ab1yqE2Rk0K3", appID, consentType, " "+scopes)
	return t.addSpecial(special{objects: []string{app, appID}, modProps: [][3]string{
		{"ConsentContext.IsAdminConsent", "", admin},
		{"ConsentContext.IsAppOnly", "", "False"},
		{"ConsentContext.OnBehalfOfAll", "", admin},
		{"ConsentContext.Tags", "", "WindowsAzureActiveDirectoryIntegratedApp"},
		{"ConsentAction.Permissions", "", grant},
		{"TargetId.ServicePrincipalNames", "", appID},
	}})
}

// planOAuthConsent plants oauth-consent: a user consents to an app nobody in the tenant used
// before that asks to read and send mail, read every file and keep its access (offline_access),
// the illicit-consent grant of a phishing campaign. Decoy: another user consents to another new
// app that only signs them in and reads their calendar.
func planOAuthConsent(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offChicago, p, d)
	const app, appID = "Mail Archive Sync", "a7c3e0d2-91b4-4c6f-8e2a-5d1f0b9c7e31"
	const scopes = "openid profile offline_access User.Read Mail.Read Mail.Send Files.Read.All"
	p.detail["note"] = "consent to \"" + app + "\", an app new to the tenant, for " + scopes
	p.detail["app"] = app
	d.detail["note"] = "consent to \"Meeting Slots\", an app new to the tenant, for openid profile email offline_access User.Read Calendars.Read (no mail, file or directory permission)"
	d.detail["app"] = "Meeting Slots"
	consent := func(ui int, app, appID, scopes string) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.at, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
			p.rec(ui, ts+3*minMS, opConsentToApp, c.home, c.desktopUA, consentSpecial(p.t, app, appID, scopes, false), 0)
		}
	}
	p.emit = consent(u, app, appID, scopes)
	d.emit = consent(v, "Meeting Slots", "3e9d1c77-0f2a-4b58-a6c1-8f4e2d7b9a10", "openid profile email offline_access User.Read Calendars.Read")
}
