package synth

import "math/rand/v2"

// domainSpecial is a directory record about a domain (the domain as the object) with its
// modified properties.
func domainSpecial(t *Tenant, domain string, props ...[3]string) int32 {
	return t.addSpecial(special{objects: []string{domain}, modProps: props})
}

// planFederationChanges plants federation-changes: an administrator adds and verifies a new domain,
// switches it from managed to federated authentication and points it at an identity provider of
// their own, the way a forged-token (golden SAML) backdoor is set up. Decoy: another
// administrator, who adds domains now and then, adds and verifies a domain that stays managed.
func planFederationChanges(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offNewYork, p.at, opUpdateUser, opUpdateGroup)
	v := t.dedicatedAdmin(r, offNewYork, d.at, opUpdateUser, opAddDomain, opVerifyDomain)
	p.users, d.users = []int{u}, []int{v}
	const evil = "contoso-login.com"
	p.detail["note"] = "\"Add domain to company.\", \"Verify domain.\", \"Set domain authentication.\" (Managed → Federated) and \"Set federation settings on domain.\" (a new issuer) for " + evil
	p.detail["domain"] = evil
	d.detail["note"] = "\"Add domain to company.\" and \"Verify domain.\" of contoso-events.com, which stays managed"
	d.detail["domain"] = "contoso-events.com"
	p.emit = func(p *plan) {
		c := &t.users[u]
		ts := p.rec(u, p.at, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
		ts = p.rec(u, ts+3*minMS, opAddDomain, c.home, c.desktopUA, domainSpecial(p.t, evil), flagAdmin)
		ts = p.rec(u, ts+6*minMS, opVerifyDomain, c.home, c.desktopUA, domainSpecial(p.t, evil), flagAdmin)
		ts = p.rec(u, ts+2*minMS, opSetDomainAuthentication, c.home, uaPowerShell,
			domainSpecial(p.t, evil, [3]string{"LiveType", "Managed", "Federated"}), flagAdmin)
		p.rec(u, ts+40*secMS, opSetFederationSettings, c.home, uaPowerShell, domainSpecial(p.t, evil,
			[3]string{"IssuerUri", "", "http://" + evil + "/adfs/services/trust"},
			[3]string{"PassiveLogOnUri", "", "https://" + evil + "/adfs/ls/"},
			[3]string{"SigningCertificate", "", "MIIC3jCCAcagAwIBAgIQS7wJzY…"}), flagAdmin)
	}
	d.emit = func(p *plan) {
		c := &t.users[v]
		ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
		ts = p.rec(v, ts+3*minMS, opAddDomain, c.corp, c.desktopUA, domainSpecial(p.t, "contoso-events.com"), flagAdmin)
		p.rec(v, ts+8*minMS, opVerifyDomain, c.corp, c.desktopUA, domainSpecial(p.t, "contoso-events.com"), flagAdmin)
	}
}
