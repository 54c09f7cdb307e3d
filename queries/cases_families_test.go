package queries

import (
	"fmt"
	"time"
)

// The cases of the twelve investigations of issue 17 (consent, roles, MFA, federation,
// eDiscovery, mailbox grants, short-lived accounts, programs, cloud resources, mailbox volume,
// hosting providers, off-hours access) and of defense-evasion-changes' wider net: each at least
// two attacks it must report and three everyday look-alikes it must not, in the records' real
// shapes (Entra ID ModifiedProperties, cmdlet Parameters, CloudTrail's awsRegion).

func familiesCases() []fixtureCase {
	return concatCases(oauthConsentCases(), privilegedRoleCases(), mfaChangeCases(), federationCases(), eDiscoveryCases(),
		mailboxGrantCases(), createdDeletedCases(), executableUploadCases(), cloudResourceCases(), mailboxSpikeCases(),
		hostingSignInCases(), offHoursCases(), defenseEvasionWider())
}

// entra is an Entra ID audit record (Core Directory, Application Management, Authentication
// Methods) with its objects and ModifiedProperties {Name, OldValue, NewValue}.
func entra(user, action string, at time.Time, admin bool, objects []string, props ...[3]string) act {
	mp := []any{}
	for _, p := range props {
		mp = append(mp, map[string]any{"Name": p[0], "OldValue": p[1], "NewValue": p[2]})
	}
	a := act{At: at, User: user, App: 11161, EventType: "EVENT_CATEGORY_UNSPECIFIED", EventTypeValue: "EVENT_O365_AAD_GENERIC",
		Action: action, Admin: admin, IP: "198.51.100.10", Country: "US", ISP: "Contoso Networks", Category: 1, Objects: objects,
		RawData: map[string]any{"Operation": action, "Workload": "AzureActiveDirectory", "ModifiedProperties": mp}}
	if admin {
		a.EventType, a.EventTypeValue = "EVENT_CATEGORY_CHANGE_ADMIN_SETTINGS", "EVENT_O365_AAD_ADMIN"
	}
	return a
}

// consentTo is a user's "Consent to application." of app for scopes (tenantWide: an admin's consent
// on behalf of all).
func consentTo(user, app, scopes string, at time.Time, tenantWide bool) act {
	all := "False"
	if tenantWide {
		all = "True"
	}
	grant := "[] => [[Id: x1, ClientId: c1, PrincipalId: , ResourceId: r1, ConsentType: Principal, Scope:  " + scopes + ", CreatedDateTime: , LastModifiedDateTime ]]; "
	return entra(user, "Consent to application.", at, tenantWide, []string{app, "0b7c1f2e-" + app},
		[3]string{"ConsentContext.IsAdminConsent", "", all}, [3]string{"ConsentContext.IsAppOnly", "", "False"},
		[3]string{"ConsentContext.OnBehalfOfAll", "", all}, [3]string{"ConsentAction.Permissions", "", grant})
}

func oauthConsentCases() []fixtureCase {
	var sanctioned []act
	for i, u := range []string{"ann", "ben", "cat"} {
		sanctioned = append(sanctioned, consentTo(u+"@contoso.com", "DocuSign", "openid offline_access Mail.Read Files.Read.All", day(25-5*i), false))
	}
	sanctioned = append(sanctioned, consentTo("dan@contoso.com", "DocuSign", "openid offline_access Mail.Read Files.Read.All", day(2), false))
	grant := entra("eva@contoso.com", "Add delegated permission grant.", day(2), false, []string{"Files Sync Helper"},
		[3]string{"DelegatedPermissionGrant.Scope", "", " Files.ReadWrite.All offline_access"})
	return []fixtureCase{
		{inv: "oauth-consent", name: "mail-read-and-send",
			why:  "a user consents to a new app reading and sending their mail, with offline access (illicit consent)",
			acts: []act{consentTo("ann@contoso.com", "Mail Archive Sync", "openid profile offline_access Mail.Read Mail.Send", day(2), false)},
			want: []row{{"user_name": "ann@contoso.com", "app": "Mail Archive Sync", "offline_access": true, "tenant_wide": false}}},
		{inv: "oauth-consent", name: "admin-consent-for-everyone",
			why:  "an administrator consents on behalf of the whole tenant to a new app (no mail permission needed to report it)",
			acts: []act{consentTo("ops-admin@contoso.com", "Contoso Reports Connector", "User.Read.All", day(2), true)},
			want: []row{{"user_name": "ops-admin@contoso.com", "tenant_wide": true}}},
		{inv: "oauth-consent", name: "delegated-grant-files",
			why:  "\"Add delegated permission grant.\" of Files.ReadWrite.All to a new app (the scope in DelegatedPermissionGrant.Scope)",
			acts: []act{grant},
			want: []row{{"user_name": "eva@contoso.com", "app": "Files Sync Helper", "high_scopes": []any{"Files.ReadWrite.All"}}}},
		{inv: "oauth-consent", name: "sign-in-only-app",
			why:  "a new app asking only to sign the user in and read their profile",
			acts: []act{consentTo("ben@contoso.com", "Whiteboard Helper", "openid profile email User.Read", day(2), false)}},
		{inv: "oauth-consent", name: "sanctioned-app",
			why:  "the e-signature app three colleagues consented to over the month (it reads mail and files): known to the tenant",
			acts: sanctioned},
		{inv: "oauth-consent", name: "calendar-with-offline-access",
			why:  "a scheduling app with offline access to the calendar: offline_access alone grants nothing sensitive",
			acts: []act{consentTo("cat@contoso.com", "Meeting Slots", "openid offline_access Calendars.ReadWrite User.Read", day(2), false)}},
	}
}

// roleGrant is "Add member to role." (or a PIM operation) of role for target by actor.
func roleGrant(actor, action, target, role string, at time.Time) act {
	return entra(actor, action, at, true, []string{target, role}, [3]string{"Role.DisplayName", "", role},
		[3]string{"Role.TemplateId", "", "00000000-role"})
}

func privilegedRoleCases() []fixtureCase {
	// the identity administrator grants day-to-day admin roles every few days
	usual := daily(30, 3, 0, func(at time.Time) act {
		return roleGrant("id-admin@contoso.com", "Add member to role.", "new.helpdesk@contoso.com", "Helpdesk Administrator", at)
	})
	return []fixtureCase{
		{inv: "privileged-role-assignment", name: "global-admin-even-by-usual-admin",
			why:  "Global Administrator granted, by the administrator who grants roles every day: critical whoever does it",
			acts: concat(usual, []act{roleGrant("id-admin@contoso.com", "Add member to role.", "mallory@contoso.com", "Global Administrator", day(1))}),
			want: []row{{"user_name": "id-admin@contoso.com", "target": "mallory@contoso.com", "critical": true, "usual_assigner": true}}},
		{inv: "privileged-role-assignment", name: "outside-usual-admins",
			why:  "Exchange Administrator granted by an account that never granted a privileged role",
			acts: concat(usual, []act{roleGrant("mail-admin@contoso.com", "Add member to role.", "bob@contoso.com", "Exchange Administrator", day(1))}),
			want: []row{{"user_name": "mail-admin@contoso.com", "role": "Exchange Administrator", "critical": false, "usual_assigner": false}}},
		{inv: "privileged-role-assignment", name: "self-assigned",
			why:  "the usual administrator makes themself Security Administrator",
			acts: concat(usual, []act{roleGrant("id-admin@contoso.com", "Add member to role.", "id-admin@contoso.com", "Security Administrator", day(1))}),
			want: []row{{"user_name": "id-admin@contoso.com", "self_assigned": true}}},
		{inv: "privileged-role-assignment", name: "pim-permanent-assignment",
			why:  "a permanent assignment through PIM of Privileged Role Administrator",
			acts: []act{roleGrant("id-admin@contoso.com", "Add member to role in PIM completed (permanent)", "eve@contoso.com", "Privileged Role Administrator", day(2))},
			want: []row{{"target": "eve@contoso.com", "critical": true}}},
		{inv: "privileged-role-assignment", name: "role-in-modified-properties-alone",
			why: "Global Administrator granted by a record whose objects name the account but not the role: read from Role.DisplayName",
			acts: func() []act {
				a := roleGrant("id-admin@contoso.com", "Add member to role.", "trent@contoso.com", "Global Administrator", day(2))
				a.Objects = []string{"trent@contoso.com"}
				return []act{a}
			}(),
			want: []row{{"target": "trent@contoso.com", "role": "Global Administrator", "critical": true}}},
		{inv: "privileged-role-assignment", name: "usual-admin-day-to-day-role",
			why:  "the administrator who grants Helpdesk Administrator every few days grants it again",
			acts: concat(usual, []act{roleGrant("id-admin@contoso.com", "Add member to role.", "new.agent@contoso.com", "Helpdesk Administrator", day(1))})},
		{inv: "privileged-role-assignment", name: "pim-activation",
			why: "an eligible Global Administrator activates the role through PIM (and MS-PIM adds the member): the point of PIM",
			acts: []act{roleGrant("ann@contoso.com", "Add member to role completed (PIM activation)", "ann@contoso.com", "Global Administrator", day(2)),
				roleGrant("MS-PIM", "Add member to role.", "ann@contoso.com", "Global Administrator", day(2).Add(time.Second))}},
		{inv: "privileged-role-assignment", name: "reader-role",
			why:  "Reports Reader granted by an account that never granted a role: not a privileged role",
			acts: []act{roleGrant("mail-admin@contoso.com", "Add member to role.", "bob@contoso.com", "Reports Reader", day(2))}},
	}
}

// officeMonth is a user's daily sign-in from the office for a month: their history.
func officeMonth(user string) []act {
	return daily(32, 1, 0, func(at time.Time) act { return signIn(user, at) })
}

// registered is "User registered security info" of user.
func registered(user string, at time.Time) act {
	return entra(user, "User registered security info", at, false, []string{user},
		[3]string{"AdditionalDetails", "", "User registered Authenticator App with Notification and Code"})
}

// strongAuthUpdate is the "Update user." Entra ID writes for an MFA method change of target.
func strongAuthUpdate(actor, target, property string, at time.Time) act {
	return entra(actor, "Update user.", at, false, []string{target}, [3]string{property, "[]", `[{"MethodType":6,"Default":true}]`},
		[3]string{"Included Updated Properties", "", property})
}

func mfaChangeCases() []fixtureCase {
	abroad := from(signIn("ann@contoso.com", day(2)), "84.84.20.7", 6, "NL", "KPN")
	proxy := from(signIn("ben@contoso.com", day(2)), "185.220.101.9", 3, "DE", "Tor exit")
	proxy.Anonymous = true
	helpdesk := entra("helpdesk@contoso.com", "Admin deleted security info", day(2), true, []string{"cat@contoso.com"},
		[3]string{"AdditionalDetails", "", "Admin deleted Mobile Phone SMS"})
	newHire := []act{signIn("new.hire@contoso.com", day(2)), registered("new.hire@contoso.com", day(2).Add(5*time.Minute))}
	late := from(signIn("dan@contoso.com", day(2)), "84.84.20.8", 6, "NL", "KPN")
	dept := entra("eva@contoso.com", "Update user.", day(2).Add(20*time.Minute), false, []string{"eva@contoso.com"},
		[3]string{"Department", "Sales", "Marketing"})
	return []fixtureCase{
		{inv: "mfa-change-after-risky-sign-in", name: "new-country-then-authenticator",
			why:  "a sign-in from the Netherlands (never used by the user) and a new Authenticator app ten minutes later",
			acts: concat(officeMonth("ann@contoso.com"), []act{abroad, registered("ann@contoso.com", day(2).Add(10*time.Minute))}),
			want: []row{{"user_name": "ann@contoso.com", "sign_in_ip": "84.84.20.7", "reasons": []any{"country new for the user", "ISP new for the user"}}}},
		{inv: "mfa-change-after-risky-sign-in", name: "anonymous-proxy-then-method-change",
			why:  "a sign-in through Tor, then \"Update user.\" changing StrongAuthenticationMethod two hours later",
			acts: concat(officeMonth("ben@contoso.com"), []act{proxy, strongAuthUpdate("ben@contoso.com", "ben@contoso.com", "StrongAuthenticationMethod", day(2).Add(2*time.Hour))}),
			want: []row{{"user_name": "ben@contoso.com", "changes": []any{"Update user."}}}},
		{inv: "mfa-change-after-risky-sign-in", name: "helpdesk-reset-at-office",
			why: "the helpdesk deletes a lost phone; the user signs in at the office and registers again",
			acts: concat(officeMonth("cat@contoso.com"), []act{helpdesk, signIn("cat@contoso.com", day(2).Add(20*time.Minute)),
				registered("cat@contoso.com", day(2).Add(25*time.Minute))})},
		{inv: "mfa-change-after-risky-sign-in", name: "new-hire-first-sign-in",
			why:  "a new hire's first sign-in and MFA registration: everything is new, nothing is known yet",
			acts: newHire},
		{inv: "mfa-change-after-risky-sign-in", name: "change-hours-later",
			why:  "a sign-in from a new country, and a new phone registered 9 hours later (within_hours 6)",
			acts: concat(officeMonth("dan@contoso.com"), []act{late, registered("dan@contoso.com", day(2).Add(9*time.Hour))})},
		{inv: "mfa-change-after-risky-sign-in", name: "other-property-update",
			why:  "a sign-in from a new country and an \"Update user.\" of the department: no MFA change",
			acts: concat(officeMonth("eva@contoso.com"), []act{from(signIn("eva@contoso.com", day(2)), "84.84.20.9", 6, "NL", "KPN"), dept})},
	}
}

// domainOp is a directory operation on domain by user.
func domainOp(user, action, domain string, at time.Time, props ...[3]string) act {
	return entra(user, action, at, true, []string{domain}, props...)
}

func federationCases() []fixtureCase {
	roll := func(at time.Time) act {
		return domainOp("adfs-admin@contoso.com", "Set federation settings on domain.", "corp.contoso.com", at,
			[3]string{"SigningCertificate", "MIIC-old", "MIIC-new"}, [3]string{"NextSigningCertificate", "MIIC-new", ""})
	}
	return []fixtureCase{
		{inv: "federation-changes", name: "new-domain-federated",
			why: "a domain added, verified, switched to federated and pointed at a new issuer within minutes",
			acts: []act{domainOp("mallory@contoso.com", "Add domain to company.", "contoso-login.com", day(2)),
				domainOp("mallory@contoso.com", "Verify domain.", "contoso-login.com", day(2).Add(5*time.Minute)),
				domainOp("mallory@contoso.com", "Set domain authentication.", "contoso-login.com", day(2).Add(7*time.Minute), [3]string{"LiveType", "Managed", "Federated"}),
				domainOp("mallory@contoso.com", "Set federation settings on domain.", "contoso-login.com", day(2).Add(8*time.Minute),
					[3]string{"IssuerUri", "", "http://contoso-login.com/adfs/services/trust"})},
			want: []row{{"user_name": "mallory@contoso.com", "domain": "contoso-login.com", "authentication": "Federated", "domain_added_in_window": true}}},
		{inv: "federation-changes", name: "issuer-changed",
			why: "the account that rolls corp.contoso.com's certificates changes its issuer: more than a rollover",
			acts: []act{roll(day(20)), domainOp("adfs-admin@contoso.com", "Set federation settings on domain.", "corp.contoso.com", day(2),
				[3]string{"IssuerUri", "http://sts.corp.contoso.com/adfs/services/trust", "http://sts.example.net/trust"})},
			want: []row{{"user_name": "adfs-admin@contoso.com", "issuer": "http://sts.example.net/trust"}}},
		{inv: "federation-changes", name: "certificate-by-another-account",
			why:  "another account sets a next signing certificate of corp.contoso.com (a second token signer: forged SAML tokens)",
			acts: []act{roll(day(20)), domainOp("mallory@contoso.com", "Set federation settings on domain.", "corp.contoso.com", day(2), [3]string{"NextSigningCertificate", "", "MIIC-evil"})},
			want: []row{{"user_name": "mallory@contoso.com", "changed": []any{"NextSigningCertificate"}}}},
		{inv: "federation-changes", name: "certificate-rollover",
			why:  "the usual account rolls the token-signing certificate over, as it did three weeks ago",
			acts: []act{roll(day(20)), roll(day(2))}},
		{inv: "federation-changes", name: "managed-domain-added",
			why:  "a new domain added and verified, still managed (no trust change)",
			acts: []act{domainOp("ops-admin@contoso.com", "Add domain to company.", "contoso-events.com", day(2)), domainOp("ops-admin@contoso.com", "Verify domain.", "contoso-events.com", day(2).Add(10*time.Minute))}},
		{inv: "federation-changes", name: "change-before-window",
			why:  "a federation change ten days ago, nothing in the window",
			acts: []act{domainOp("mallory@contoso.com", "Set domain authentication.", "contoso-login.com", day(10), [3]string{"LiveType", "Managed", "Federated"})}},
	}
}

// sccCmdlet is a Security & Compliance PowerShell cmdlet with its parameters.
func sccCmdlet(user, cmdlet string, at time.Time, kv ...string) act {
	a := adminCmdlet(user, cmdlet, at, "PowerShell/7.4.6", kv...)
	a.App, a.EventTypeValue = 11161, "EVENT_O365_SCC_ADMIN"
	return a
}

// searchAndAct is a compliance search over location with query, then its action.
func searchAndAct(user, name, location string, at time.Time, action ...string) []act {
	return []act{sccCmdlet(user, "New-ComplianceSearch", at, "Name", name, "ExchangeLocation", location, "ContentMatchQuery", "invoice"),
		sccCmdlet(user, "Start-ComplianceSearch", at.Add(time.Minute), "Identity", name),
		sccCmdlet(user, "New-ComplianceSearchAction", at.Add(15*time.Minute), append([]string{"SearchName", name}, action...)...)}
}

func eDiscoveryCases() []fixtureCase {
	var weekly []act
	for n := 30; n >= 2; n -= 7 {
		weekly = append(weekly, searchAndAct("legal@contoso.com", fmt.Sprintf("case-%d", n), "ann@contoso.com", day(n), "Export", "True")...)
	}
	dl := sccCmdlet("bob@contoso.com", "SearchExportDownloaded", day(2), "Identity", "q4")
	dl.RawData = map[string]any{"Operation": "SearchExportDownloaded", "ObjectId": "q4"}
	return []fixtureCase{
		{inv: "ediscovery-export", name: "all-mailboxes-exported",
			why:  "a search over every mailbox exported by an account that never exported",
			acts: searchAndAct("mallory@contoso.com", "q4", "All", day(2), "Export", "", "Format", "FxStream"),
			want: []row{{"user_name": "mallory@contoso.com", "all_mailboxes": true, "exports": 1}}},
		{inv: "ediscovery-export", name: "export-downloaded",
			why:  "the eDiscovery audit's SearchExportDownloaded by a new account",
			acts: []act{dl},
			want: []row{{"user_name": "bob@contoso.com", "exports": 1}}},
		{inv: "ediscovery-export", name: "legal-weekly-export",
			why:  "the legal team's eDiscovery manager exports a custodian's search every week",
			acts: weekly},
		{inv: "ediscovery-export", name: "phishing-purge",
			why:  "a search purged (-Purge -PurgeType SoftDelete): the phishing clean-up, no export",
			acts: searchAndAct("secops@contoso.com", "phish", "All", day(2), "Purge", "True", "PurgeType", "SoftDelete")},
		{inv: "ediscovery-export", name: "preview-only",
			why:  "a search's results previewed, not exported",
			acts: searchAndAct("secops@contoso.com", "check", "All", day(2), "Preview", "True")},
	}
}

func mailboxGrantCases() []fixtureCase {
	grant := func(admin, cmdlet string, at time.Time, kv ...string) act {
		return adminCmdlet(admin, cmdlet, at, "PowerShell/7.4.6", kv...)
	}
	appRole := entra("ops-admin@contoso.com", "Add app role assignment to service principal.", day(2), true, []string{"Mail Backup Service"},
		[3]string{"AppRole.Value", "", "full_access_as_app"})
	delegations := []act{grant("mail-admin@contoso.com", "Add-MailboxPermission", day(20), "Identity", "ann@contoso.com", "User", "assistant1@contoso.com", "AccessRights", "FullAccess"),
		grant("mail-admin@contoso.com", "Add-MailboxPermission", day(2), "Identity", "ben@contoso.com", "User", "assistant2@contoso.com", "AccessRights", "FullAccess")}
	return []fixtureCase{
		{inv: "mailbox-permission-grants", name: "full-access-to-self",
			why: "an administrator gives themself full access to a colleague's mailbox and send-as",
			acts: concat(tenantUsers(), []act{grant("mallory@contoso.com", "Add-MailboxPermission", day(2), "Identity", "cat@contoso.com", "User", "mallory@contoso.com", "AccessRights", "FullAccess"),
				grant("mallory@contoso.com", "Add-RecipientPermission", day(2).Add(time.Minute), "Identity", "cat@contoso.com", "Trustee", "mallory@contoso.com", "AccessRights", "SendAs")}),
			want: []row{{"user_name": "mallory@contoso.com", "mailbox": "cat@contoso.com", "self_granted": true, "kinds": []any{"FullAccess", "SendAs"}}}},
		{inv: "mailbox-permission-grants", name: "inbox-delegate-by-alias",
			why:  "Reviewer on dan's Inbox (the mailbox named by its alias) for another account, by an account that never granted one",
			acts: concat(tenantUsers(), []act{grant("helper@contoso.com", "Add-MailboxFolderPermission", day(2), "Identity", "dan:\\Inbox", "User", "eve@contoso.com", "AccessRights", "Reviewer")}),
			want: []row{{"mailbox": "dan", "grantee": "eve@contoso.com", "kinds": []any{"FolderDelegate"}}}},
		{inv: "mailbox-permission-grants", name: "application-impersonation",
			why:  "ApplicationImpersonation granted to an account: it can act as any mailbox",
			acts: []act{grant("ops-admin@contoso.com", "New-ManagementRoleAssignment", day(2), "Role", "ApplicationImpersonation", "User", "svc-sync@contoso.com")},
			want: []row{{"grantee": "svc-sync@contoso.com", "kinds": []any{"ApplicationImpersonation"}}}},
		{inv: "mailbox-permission-grants", name: "app-full-access",
			why:  "an app given full_access_as_app: every mailbox",
			acts: []act{appRole},
			want: []row{{"mailbox": "all mailboxes", "grantee": "mail backup service"}}},
		{inv: "mailbox-permission-grants", name: "shared-mailbox",
			why:  "full access to the shared finance mailbox, which no one signs in to",
			acts: concat(tenantUsers(), []act{grant("mail-admin@contoso.com", "Add-MailboxPermission", day(2), "Identity", "shared-finance@contoso.com", "User", "ann@contoso.com", "AccessRights", "FullAccess")})},
		{inv: "mailbox-permission-grants", name: "usual-delegation",
			why:  "the messaging administrator who set up an assistant's access three weeks ago sets up another",
			acts: concat(tenantUsers(), daily(30, 1, 0, func(at time.Time) act { return signIn("ann@contoso.com", at) }), delegations)},
		{inv: "mailbox-permission-grants", name: "calendar-sharing",
			why:  "Reviewer on a calendar: sharing the calendar, not the mail",
			acts: concat(tenantUsers(), []act{grant("ann@contoso.com", "Add-MailboxFolderPermission", day(2), "Identity", "ann@contoso.com:\\Calendar", "User", "ben@contoso.com", "AccessRights", "Reviewer")})},
		{inv: "mailbox-permission-grants", name: "read-permission",
			why:  "ReadPermission on a mailbox: no access to its content",
			acts: concat(tenantUsers(), []act{grant("mallory@contoso.com", "Add-MailboxPermission", day(2), "Identity", "cat@contoso.com", "User", "mallory@contoso.com", "AccessRights", "ReadPermission")})},
	}
}

// accountOp is "Add user." or "Delete user." of target by admin.
func accountOp(admin, action, target string, at time.Time) act {
	a := entra(admin, action, at, true, []string{target, "Target Person"})
	if action == "Delete user." {
		a.EventType, a.EventTypeValue = "EVENT_CATEGORY_DELETE_USER", "EVENT_O365_AAD_DELETE_USER"
	} else {
		a.EventType, a.EventTypeValue = "EVENT_CATEGORY_CREATE_USER", "EVENT_O365_AAD_CREATE_USER"
	}
	return a
}

func createdDeletedCases() []fixtureCase {
	provisioning := daily(30, 3, 0, func(at time.Time) act {
		return accountOp("hr-admin@contoso.com", "Add user.", fmt.Sprintf("hire%d@contoso.com", at.Day()), at)
	})
	t0 := day(2)
	return []fixtureCase{
		{inv: "account-created-deleted", name: "used-then-deleted",
			why: "an account created, signing in and downloading, and deleted two hours later",
			acts: concat(provisioning, []act{accountOp("hr-admin@contoso.com", "Add user.", "tmp01@contoso.com", t0),
				signIn("tmp01@contoso.com", t0.Add(20*time.Minute)), downloads("tmp01@contoso.com", t0.Add(25*time.Minute), 3, chrome131)[0],
				accountOp("hr-admin@contoso.com", "Delete user.", "tmp01@contoso.com", t0.Add(2*time.Hour))}),
			want: []row{{"account": "tmp01@contoso.com", "account_events": 2, "usual_provisioner": true}}},
		{inv: "account-created-deleted", name: "unknown-creator",
			why:  "an account created and deleted 30 minutes later, unused, by an account that never created one",
			acts: concat(provisioning, []act{accountOp("mallory@contoso.com", "Add user.", "x1@contoso.com", t0), accountOp("mallory@contoso.com", "Delete user.", "x1@contoso.com", t0.Add(30*time.Minute))}),
			want: []row{{"account": "x1@contoso.com", "account_events": 0, "usual_provisioner": false}}},
		{inv: "account-created-deleted", name: "typo-fixed",
			why: "the provisioning administrator creates an account with a typo and deletes it four minutes later, unused",
			acts: concat(provisioning, []act{accountOp("hr-admin@contoso.com", "Add user.", "jon.smtih@contoso.com", t0),
				accountOp("hr-admin@contoso.com", "Delete user.", "jon.smtih@contoso.com", t0.Add(4*time.Minute)),
				accountOp("hr-admin@contoso.com", "Add user.", "jon.smith@contoso.com", t0.Add(5*time.Minute))})},
		{inv: "account-created-deleted", name: "deleted-days-later",
			why: "a contractor's account used for three days and deleted (within_hours 24)",
			acts: []act{accountOp("hr-admin@contoso.com", "Add user.", "ext1@contoso.com", day(5)), signIn("ext1@contoso.com", day(4)),
				accountOp("hr-admin@contoso.com", "Delete user.", "ext1@contoso.com", day(2))}},
		{inv: "account-created-deleted", name: "deleted-and-restored",
			why: "an existing account deleted by mistake and restored: no account was created",
			acts: []act{accountOp("hr-admin@contoso.com", "Delete user.", "ann@contoso.com", day(2)),
				func() act {
					a := entra("hr-admin@contoso.com", "Restore user.", day(2).Add(20*time.Minute), true, []string{"ann@contoso.com"})
					return a
				}()}},
		{inv: "account-created-deleted", name: "only-failed-sign-ins",
			why: "a mistaken account of the usual provisioner, deleted within the hour, that only failed to sign in",
			acts: concat(provisioning, []act{accountOp("hr-admin@contoso.com", "Add user.", "wrong@contoso.com", t0), failedSignIn("wrong@contoso.com", t0.Add(10*time.Minute)),
				accountOp("hr-admin@contoso.com", "Delete user.", "wrong@contoso.com", t0.Add(40*time.Minute))})},
	}
}

func upload(user string, at time.Time, name string) act {
	return fileAct(user, "FileUploaded", "upload", at, name)
}

func executableUploadCases() []fixtureCase {
	var packager []act
	for n := 30; n >= 2; n -= 7 {
		packager = append(packager, upload("it-pack@contoso.com", day(n), "VPNClient-5.2.1.msi"), upload("it-pack@contoso.com", day(n).Add(time.Minute), "Install-Fonts.ps1"))
	}
	box := act{At: day(2), User: "dan@contoso.com", App: 10489, EventType: "EVENT_CATEGORY_UPLOAD_FILE", EventTypeValue: "EVENT_BOX_UPLOAD",
		Action: "UPLOAD", IP: "198.51.100.10", Country: "US", Category: 1, Objects: []string{"setup.msi"}}
	return []fixtureCase{
		{inv: "executable-uploads", name: "document-that-is-a-program",
			why:  "Invoice 2291.pdf.exe: a program with a document's extension before its own",
			acts: []act{upload("ann@contoso.com", day(2), "Invoice 2291.pdf.exe")},
			want: []row{{"user_name": "ann@contoso.com", "masquerading": true, "extensions": []any{"exe"}}}},
		{inv: "executable-uploads", name: "right-to-left-override",
			why:  "a name with U+202E, shown as \"Paymentexe.pdf\"",
			acts: []act{upload("ben@contoso.com", day(2), "Payment\u202efdp.exe")},
			want: []row{{"user_name": "ben@contoso.com", "masquerading": true}}},
		{inv: "executable-uploads", name: "first-program-in-box",
			why:  "a user who never uploaded a program uploads an installer to Box",
			acts: []act{box},
			want: []row{{"user_name": "dan@contoso.com", "masquerading": false, "uploads_programs_routinely": false}}},
		{inv: "executable-uploads", name: "it-packager",
			why:  "the IT packager uploads installers and scripts every week",
			acts: packager},
		{inv: "executable-uploads", name: "converted-document",
			why:  "Contract.docx.pdf and Budget.xlsx.csv: two extensions, no program",
			acts: []act{upload("cat@contoso.com", day(2), "Contract.docx.pdf"), upload("cat@contoso.com", day(2).Add(time.Minute), "Budget.xlsx.csv")}},
		{inv: "executable-uploads", name: "archives-and-backups",
			why: "drivers.tar.gz, photos.zip and an encrypted laptop backup",
			acts: []act{upload("eva@contoso.com", day(2), "drivers.tar.gz"), upload("eva@contoso.com", day(2).Add(time.Minute), "photos.zip"),
				upload("eva@contoso.com", day(2).Add(2*time.Minute), "Laptop backup 2026-03-08.zip.enc")}},
	}
}

// cloudOp is an AWS (CloudTrail, with awsRegion when given) or Azure administrative operation.
func cloudOp(user, action string, at time.Time, region string) act {
	a := act{At: at, User: user, App: 11599, EventType: "EVENT_CATEGORY_CHANGE_ADMIN_SETTINGS", EventTypeValue: "EVENT_AWS_ADMIN",
		Action: action, Admin: true, IP: "198.51.100.10", Country: "US", Category: 1, UA: "aws-cli/2.22.4",
		RawData: map[string]any{"eventName": action, "eventSource": "ec2.amazonaws.com"}}
	if region != "" {
		a.RawData["awsRegion"] = region
	}
	if len(action) > 10 && action[:10] == "Microsoft." {
		a.App, a.EventTypeValue, a.RawData = 12260, "EVENT_AZURE_ADMIN", map[string]any{"operationName": map[string]any{"value": action}}
	}
	return a
}

// burstOf is n operations, every gap, from start.
func burstOf(n int, start time.Time, gap time.Duration, f func(at time.Time) act) []act {
	return repeat(n, func(i int) act { return f(start.Add(time.Duration(i) * gap)) })
}

func cloudResourceCases() []fixtureCase {
	var ci []act
	for n := 30; n >= 2; n-- {
		ci = append(ci, burstOf(14, day(n), 40*time.Second, func(at time.Time) act { return cloudOp("svc-ci@contoso.com", "RunInstances", at, "us-east-1") })...)
	}
	usual := burstOf(2, day(15), time.Minute, func(at time.Time) act { return cloudOp("ann@contoso.com", "RunInstances", at, "us-east-1") })
	return []fixtureCase{
		{inv: "cloud-resource-abuse", name: "mass-vm-creation",
			why:  "15 instances launched in 20 minutes by an account whose busiest hour had 2",
			acts: concat(usual, burstOf(15, day(2), 80*time.Second, func(at time.Time) act { return cloudOp("ann@contoso.com", "RunInstances", at, "us-east-1") })),
			want: []row{{"user_name": "ann@contoso.com", "creates": 15, "busiest_creates": 2}}},
		{inv: "cloud-resource-abuse", name: "new-region",
			why:  "three instances in sa-east-1; the tenant used us-east-1 alone",
			acts: concat(usual, burstOf(3, day(2), time.Minute, func(at time.Time) act { return cloudOp("ann@contoso.com", "RunInstances", at, "sa-east-1") })),
			want: []row{{"user_name": "ann@contoso.com", "new_regions": []any{"sa-east-1"}}}},
		{inv: "cloud-resource-abuse", name: "azure-vm-deletions",
			why: "12 Azure VMs deleted in half an hour",
			acts: burstOf(12, day(2), 2*time.Minute, func(at time.Time) act {
				return cloudOp("ben@contoso.com", "Microsoft.Compute/virtualMachines/delete", at, "")
			}),
			want: []row{{"user_name": "ben@contoso.com", "deletes": 12}}},
		{inv: "cloud-resource-abuse", name: "storage-key-listing",
			why: "the keys of 8 storage accounts listed in ten minutes by an account that never listed one",
			acts: burstOf(8, day(2), time.Minute, func(at time.Time) act {
				return cloudOp("cat@contoso.com", "Microsoft.Storage/storageAccounts/listKeys/action", at, "")
			}),
			want: []row{{"user_name": "cat@contoso.com", "key_lists": 8}}},
		{inv: "cloud-resource-abuse", name: "build-pipeline",
			why:  "the build pipeline launches 14 agents every morning",
			acts: ci},
		{inv: "cloud-resource-abuse", name: "few-instances",
			why:  "6 instances in an hour (min_creates 10)",
			acts: burstOf(6, day(2), 5*time.Minute, func(at time.Time) act { return cloudOp("dan@contoso.com", "RunInstances", at, "us-east-1") })},
		{inv: "cloud-resource-abuse", name: "region-without-history",
			why:  "instances in ap-south-1 in a tenant whose records named no region before: nothing to compare with",
			acts: burstOf(3, day(2), time.Minute, func(at time.Time) act { return cloudOp("eva@contoso.com", "RunInstances", at, "ap-south-1") })},
		{inv: "cloud-resource-abuse", name: "updates-spread-over-the-day",
			why: "12 VM updates across a working day, 2 an hour",
			acts: burstOf(12, day(2), 35*time.Minute, func(at time.Time) act {
				return cloudOp("eva@contoso.com", "Microsoft.Compute/virtualMachines/write", at, "")
			})},
	}
}

// mailOp is an Exchange mailbox-audit operation by the mailbox's owner.
func mailOp(user, action string, at time.Time) act {
	a := mailAccess(user, user, 0, at)
	a.Action = action
	return a
}

// mailDays is n operations a day of action by user on each day from `from` to `to` days ago.
func mailDays(user, action string, from, to, n int) []act {
	var out []act
	for d := from; d >= to; d-- {
		out = append(out, burstOf(n, day(d), 30*time.Second, func(at time.Time) act { return mailOp(user, action, at) })...)
	}
	return out
}

func mailboxSpikeCases() []fixtureCase {
	var weekly []act
	for d := 35; d >= 0; d-- {
		if d%7 == 2 {
			weekly = append(weekly, mailDays("ann@contoso.com", "MoveToDeletedItems", d, d, 100)...)
		} else {
			weekly = append(weekly, mailDays("ann@contoso.com", "MailItemsAccessed", d, d, 3)...)
		}
	}
	return []fixtureCase{
		{inv: "mailbox-activity-spike", name: "mailbox-harvest",
			why:  "five items read a day for a month, then 400 in a day",
			acts: concat(mailDays("bob@contoso.com", "MailItemsAccessed", 33, 3, 5), mailDays("bob@contoso.com", "MailItemsAccessed", 2, 2, 400)),
			want: []row{{"user_name": "bob@contoso.com", "metric": "accessed", "n": 400}}},
		{inv: "mailbox-activity-spike", name: "mass-deletion",
			why:  "two deletions a day for a month, then 150 hard deletions",
			acts: concat(mailDays("cat@contoso.com", "SoftDelete", 33, 3, 2), mailDays("cat@contoso.com", "HardDelete", 2, 2, 150)),
			want: []row{{"user_name": "cat@contoso.com", "metric": "deleted", "n": 150}}},
		{inv: "mailbox-activity-spike", name: "weekly-clean-out",
			why:  "100 messages moved to Deleted Items every week: the owner's routine",
			acts: weekly},
		{inv: "mailbox-activity-spike", name: "busy-reader",
			why:  "250 items read every day: a heavy reader's normal",
			acts: mailDays("dan@contoso.com", "MailItemsAccessed", 33, 2, 250)},
		{inv: "mailbox-activity-spike", name: "new-mailbox",
			why:  "a mailbox first used three days ago reads 300 items: still learning",
			acts: mailDays("eva@contoso.com", "MailItemsAccessed", 3, 2, 300)},
		{inv: "mailbox-activity-spike", name: "below-minimum",
			why:  "150 items read in a day against a baseline of 2 (min_accessed 200)",
			acts: concat(mailDays("fay@contoso.com", "MailItemsAccessed", 33, 3, 2), mailDays("fay@contoso.com", "MailItemsAccessed", 2, 2, 150))},
	}
}

func hostingSignInCases() []fixtureCase {
	jump := daily(30, 3, time.Hour, func(at time.Time) act {
		return from(signIn("dev@contoso.com", at), "88.99.141.70", 5, "DE", "Hetzner Online GmbH")
	})
	colleague := daily(30, 3, 0, func(at time.Time) act {
		return from(signIn("ann@contoso.com", at), "41.90.4.17", -1, "KE", "Safaricom")
	})
	return []fixtureCase{
		{inv: "hosting-provider-sign-in", name: "vps-sign-in",
			why:  "a sign-in from a DigitalOcean server the user never used",
			acts: concat(officeMonth("bob@contoso.com"), []act{from(signIn("bob@contoso.com", day(2)), "159.203.1.7", 5, "US", "DigitalOcean, LLC")}),
			want: []row{{"user_name": "bob@contoso.com", "hosting": true, "new_for_user": true, "ips": []any{"159.203.1.7"}}}},
		{inv: "hosting-provider-sign-in", name: "isp-new-to-tenant",
			why:  "a sign-in from an ISP no one in the tenant ever used",
			acts: concat(officeMonth("cat@contoso.com"), []act{from(signIn("cat@contoso.com", day(2)), "197.248.1.9", -1, "KE", "Telkom Kenya")}),
			want: []row{{"user_name": "cat@contoso.com", "hosting": false, "new_for_tenant": true}}},
		{inv: "hosting-provider-sign-in", name: "own-jump-host",
			why:  "a developer signs in from the Hetzner server they have used every day",
			acts: concat(jump, []act{from(signIn("dev@contoso.com", day(2)), "88.99.141.70", 5, "DE", "Hetzner Online GmbH")})},
		{inv: "hosting-provider-sign-in", name: "big-cloud-provider",
			why:  "a sign-in from an AWS address (Cloud provider), new to the tenant: where SaaS services and proxies sign in",
			acts: concat(officeMonth("dan@contoso.com"), []act{from(signIn("dan@contoso.com", day(2)), "3.64.118.23", 5, "DE", "Amazon Web Services")})},
		{inv: "hosting-provider-sign-in", name: "corporate-egress-at-hosting",
			why:  "the company VPN's exit rented at M247, tagged VPN",
			acts: concat(officeMonth("eva@contoso.com"), []act{from(signIn("eva@contoso.com", day(2)), "185.81.68.5", 4, "RO", "M247 Europe")})},
		{inv: "hosting-provider-sign-in", name: "isp-a-colleague-uses",
			why:  "an ISP new for the user that a colleague has used all month (not a hosting provider)",
			acts: concat(colleague, officeMonth("fay@contoso.com"), []act{from(signIn("fay@contoso.com", day(2)), "41.90.4.99", -1, "KE", "Safaricom")})},
	}
}

// fileOpen is a download of name from site by user.
func fileOpen(user string, at time.Time, name, site string) act {
	a := downloads(user, at, 1, chrome131)[0]
	a.Objects = []string{name, site}
	return a
}

// workingDays is a user's office work for a month: files opened at 09, 10, 14, 15, 16 and 17 UTC
// every day (nothing between 10 and 14).
func workingDays(user string) []act {
	var out []act
	for n := 32; n >= 3; n-- {
		for _, h := range []time.Duration{0, 1, 5, 6, 7, 8} {
			out = append(out, fileOpen(user, day(n).Add(h*time.Hour), "Roadmap.pptx", "Product"))
		}
	}
	return out
}

func offHoursCases() []fixtureCase {
	night := day(2).Add(-7 * time.Hour) // 02:00 UTC
	payroll := func(user string, at time.Time, n int) []act {
		return repeat(n, func(i int) act {
			return fileOpen(user, at.Add(time.Duration(i)*time.Minute), fmt.Sprintf("Payroll 2026-%02d.xlsx", i+1), "HR")
		})
	}
	var shift []act
	for n := 32; n >= 3; n-- {
		shift = append(shift, payroll("clerk@contoso.com", day(n).Add(-8*time.Hour), 2)...) // 01:00 UTC
	}
	confidential := repeat(4, func(i int) act {
		return fileOpen("ben@contoso.com", night.Add(time.Duration(i)*time.Minute), fmt.Sprintf("Deck %d.pptx", i), "Confidential - Board")
	})
	return []fixtureCase{
		{inv: "off-hours-sensitive-access", name: "payroll-at-night",
			why:  "a user who works 09:00–18:00 downloads 5 payroll files at 02:00",
			acts: concat(workingDays("ann@contoso.com"), payroll("ann@contoso.com", night, 5)),
			want: []row{{"user_name": "ann@contoso.com", "accesses": 5, "hours_utc": []any{2}}}},
		{inv: "off-hours-sensitive-access", name: "confidential-site-at-night",
			why:  "ordinary file names in a site called \"Confidential - Board\", at 02:00",
			acts: concat(workingDays("ben@contoso.com"), confidential),
			want: []row{{"user_name": "ben@contoso.com", "accesses": 4}}},
		{inv: "off-hours-sensitive-access", name: "night-shift",
			why:  "a payroll clerk who works nights opens payroll files at 01:00, as every night",
			acts: concat(shift, payroll("clerk@contoso.com", day(2).Add(-8*time.Hour), 4))},
		{inv: "off-hours-sensitive-access", name: "payroll-in-office-hours",
			why:  "payroll files at 11:00, in a lull of the user's working day (nothing between 10:00 and 14:00 before)",
			acts: concat(workingDays("cat@contoso.com"), payroll("cat@contoso.com", day(2).Add(2*time.Hour), 5))},
		{inv: "off-hours-sensitive-access", name: "ordinary-files-at-night",
			why: "six roadmap files at 02:00: nothing sensitive",
			acts: concat(workingDays("dan@contoso.com"), repeat(6, func(i int) act {
				return fileOpen("dan@contoso.com", night.Add(time.Duration(i)*time.Minute), "Roadmap.pptx", "Product")
			}))},
		{inv: "off-hours-sensitive-access", name: "one-file-at-night",
			why:  "a single payroll file at 02:00 (min_files 3)",
			acts: concat(workingDays("eva@contoso.com"), payroll("eva@contoso.com", night, 1))},
		{inv: "off-hours-sensitive-access", name: "new-user",
			why:  "a user first seen two days ago: their hours are not known yet",
			acts: concat([]act{fileOpen("fay@contoso.com", day(2), "Roadmap.pptx", "Product")}, payroll("fay@contoso.com", night.Add(24*time.Hour), 5))},
	}
}

func defenseEvasionWider() []fixtureCase {
	cmd := func(cmdlet string, kv ...string) act {
		return adminCmdlet("mallory@contoso.com", cmdlet, day(2), chrome131, kv...)
	}
	return []fixtureCase{
		{inv: "defense-evasion-changes", name: "organisation-auditing-off",
			why:  "Set-OrganizationConfig -AuditDisabled $true: mailbox auditing off for every mailbox",
			acts: []act{cmd("Set-OrganizationConfig", "AuditDisabled", "True")},
			want: []row{{"action": "Set-OrganizationConfig"}}},
		{inv: "defense-evasion-changes", name: "allow-lists-opened",
			why: "the connection filter allows an address range, the spam filter a domain, and the Tenant Allow/Block List a sender",
			acts: []act{cmd("Set-HostedConnectionFilterPolicy", "Identity", "Default", "IPAllowList", "203.0.113.0/24"),
				cmd("Set-HostedContentFilterPolicy", "Identity", "Default", "AllowedSenderDomains", "evil.example"),
				cmd("New-TenantAllowBlockListItems", "ListType", "Sender", "Entries", "ceo@evil.example", "Allow", "True")},
			want: []row{{"action": "Set-HostedConnectionFilterPolicy"}, {"action": "Set-HostedContentFilterPolicy"}, {"action": "New-TenantAllowBlockListItems"}}},
		{inv: "defense-evasion-changes", name: "alert-policy-disabled",
			why:  "Set-ProtectionAlert -Disabled $true: an alert policy switched off",
			acts: []act{cmd("Set-ProtectionAlert", "Identity", "Suspicious email forwarding activity", "Disabled", "True")},
			want: []row{{"action": "Set-ProtectionAlert"}}},
		{inv: "defense-evasion-changes", name: "organisation-auditing-on",
			why:  "Set-OrganizationConfig -AuditDisabled $false",
			acts: []act{cmd("Set-OrganizationConfig", "AuditDisabled", "False")}},
		{inv: "defense-evasion-changes", name: "block-list-tightened",
			why: "the connection filter blocks an address range, the Tenant Allow/Block List blocks a sender, an allow list emptied",
			acts: []act{cmd("Set-HostedConnectionFilterPolicy", "Identity", "Default", "IPBlockList", "203.0.113.0/24"),
				cmd("New-TenantAllowBlockListItems", "ListType", "Sender", "Entries", "spam@evil.example", "Block", "True"),
				cmd("Set-HostedContentFilterPolicy", "Identity", "Default", "AllowedSenderDomains", "$null")}},
	}
}
