package synth

import (
	"math/rand/v2"
)

// authenticatorSpecial is the "Update user." Entra ID writes when someone registers the
// Microsoft Authenticator app on the account: StrongAuthenticationPhoneAppDetail changes.
func authenticatorSpecial(t *Tenant, target, device string) int32 {
	return t.addSpecial(special{objects: []string{target}, modProps: [][3]string{
		{"StrongAuthenticationPhoneAppDetail", "[]",
			`[{"DeviceName":"` + device + `","DeviceToken":"apns2-1f0c…","DeviceTag":"SoftwareTokenActivated","PhoneAppVersion":"6.8.17","OathTokenTimeDrift":0,"AuthenticationType":3,"NotificationType":4}]`},
		{"Included Updated Properties", "", "StrongAuthenticationPhoneAppDetail"},
	}})
}

// securityInfoSpecial is an Authentication Methods record ("User registered security info" …) of
// target, with the method in the additional details as Entra ID words it.
func securityInfoSpecial(t *Tenant, target, detail string) int32 {
	return t.addSpecial(special{objects: []string{target}, modProps: [][3]string{{"AdditionalDetails", "", detail}}})
}

// planMFAChangeAfterRiskySignIn plants mfa-change-after-risky-sign-in: a London user signs in
// from a home broadband address in Amsterdam (a country and ISP new for them), registers a new
// Authenticator app within minutes and deletes the phone number they had. Decoy: a user signs in
// from a friend's broadband in London (an ISP new for them, known to the tenant) and registers a
// new phone 9 hours later, well after the default 6 hours.
func planMFAChangeAfterRiskySignIn(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offLondon, p, d)
	// The decoy's friend has Sky broadband; so does the incident's user, so the tenant knows
	// the ISP whatever the seed (the decoy's address is new for its user alone).
	sky := isp{"Sky Broadband", "sky uk limited", 2, 216}
	t.users[u].home = t.addIP(ipInfo{addr: ispAddr(r, sky), place: plLondon, isp: sky.name, carrier: sky.carrier})
	friend := t.addIP(ipInfo{addr: ispAddr(r, sky), place: plLondon, isp: sky.name, carrier: sky.carrier})
	ams := t.addIP(ipInfo{addr: ispAddr(r, homeISPs["NL"][0]), place: plAmsterdam, isp: homeISPs["NL"][0].name, carrier: homeISPs["NL"][0].carrier})
	p.detail["note"] = "sign-in from an Amsterdam broadband address (country and ISP new for the user), then within 15 minutes a new Authenticator app registered and the old phone deleted"
	d.detail["note"] = "sign-in from a friend's broadband in London (ISP new for the user), a new Authenticator app registered 9 hours later (within_hours 6)"
	p.emit = func(p *plan) {
		c := &t.users[u]
		ts := p.rec(u, p.at, opUserLoggedIn, ams, c.desktopUA, -1, 0)
		ts = p.rec(u, ts+9*minMS, opUserRegisteredSecurityInfo, ams, c.desktopUA,
			securityInfoSpecial(p.t, c.upn, "User registered Authenticator App with Notification and Code"), 0)
		ts = p.rec(u, ts+20*secMS, opUpdateUser, ams, c.desktopUA, authenticatorSpecial(p.t, c.upn, "iPhone 15 Pro"), 0)
		p.rec(u, ts+3*minMS, opUserDeletedSecurityInfo, ams, c.desktopUA,
			securityInfoSpecial(p.t, c.upn, "User deleted Mobile Phone SMS"), 0)
	}
	d.emit = func(p *plan) {
		c := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, friend, c.desktopUA, -1, 0)
		ts = p.rec(v, ts+9*hourMS, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
		ts = p.rec(v, ts+4*minMS, opUserRegisteredSecurityInfo, c.home, c.desktopUA,
			securityInfoSpecial(p.t, c.upn, "User registered Authenticator App with Notification and Code"), 0)
		p.rec(v, ts+20*secMS, opUpdateUser, c.home, c.desktopUA, authenticatorSpecial(p.t, c.upn, "Pixel 8"), 0)
	}
}
