package queries

import (
	"fmt"
	"time"
)

// allCases lists every literal-row case, investigation by investigation.
func allCases() []fixtureCase {
	return concatCases(
		failedLoginBurstCases(), newCountryCases(), activitySpikeCases(), newClientFingerprintCases(),
		unusualAdminActivityCases(), mailForwardingCases(), inboxRuleCases(), defenseEvasionCases(),
		adminUntrustedIPCases(), impossibleTravelCases(), ipPivotCases(), classificationCases(),
		terminatedUserCases(), impersonationCases(), precisionCases(), familiesCases(),
	)
}

func concatCases(parts ...[]fixtureCase) []fixtureCase {
	var out []fixtureCase
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// burst is n failed sign-ins of user, 20 seconds apart from start.
func burst(user, ip string, start time.Time, n int) []act {
	return repeat(n, func(i int) act {
		a := failedSignIn(user, start.Add(time.Duration(i)*20*time.Second))
		a.IP, a.Category, a.ISP = ip, 6, "Example Hosting"
		return a
	})
}

func failedLoginBurstCases() []fixtureCase {
	attack := day(2).Add(time.Hour)
	stray := day(5).Add(time.Hour)
	return []fixtureCase{
		{inv: "failed-login-burst", name: "burst-then-success",
			why: "12 failures in 4 minutes, then a success from the same address 10 minutes later",
			acts: concat(burst("mallory@contoso.com", "203.0.113.50", attack, 12),
				[]act{func() act {
					a := signIn("mallory@contoso.com", attack.Add(10*time.Minute))
					a.IP, a.Category = "203.0.113.50", 6
					return a
				}()}),
			want: []row{{"user_name": "mallory@contoso.com", "success_at": attack.Add(10 * time.Minute)}}},
		{inv: "failed-login-burst", name: "stray-failure-days-later",
			why: "a burst on one day, a routine sign-in the next morning, one stray failure two days later: the routine sign-in is not the success after the burst",
			acts: concat(burst("bob@contoso.com", "203.0.113.51", stray, 12),
				[]act{signIn("bob@contoso.com", stray.Add(23*time.Hour)), failedSignIn("bob@contoso.com", stray.Add(54*time.Hour))}),
			want: []row{{"user_name": "bob@contoso.com", "success_at": nil}}},
	}
}

func newCountryCases() []fixtureCase {
	home := func(user string, days int) []act {
		return daily(days, 1, 0, func(at time.Time) act { return signIn(user, at) })
	}
	abroad := func(user, country, ip string, at time.Time) act {
		a := signIn(user, at)
		a.Country, a.City, a.IP, a.ISP, a.Category = country, "", ip, "Example Telecom", 6
		return a
	}
	failedAbroad := abroad("eve@contoso.com", "RO", "185.81.68.20", day(20))
	failedAbroad.EventType, failedAbroad.EventTypeValue, failedAbroad.Action, failedAbroad.Failed = "EVENT_CATEGORY_FAILED_LOGIN", "EVENT_AAD_LOGIN_FAILED", "UserLoginFailed", true
	return []fixtureCase{
		{inv: "new-country", name: "failed-attempt-does-not-whitelist",
			why:         "an attacker's failed sign-in from Romania 20 days ago must not make Romania known for the later success",
			acts:        concat(home("eve@contoso.com", 40), []act{failedAbroad, abroad("eve@contoso.com", "RO", "185.81.68.21", day(2))}),
			want:        []row{{"user_name": "eve@contoso.com", "country": "RO"}},
			provisional: no},
		{inv: "new-country", name: "forty-day-window",
			why:         "with --since 40d on 37 days of data the incident two days ago is still found (the result is provisional)",
			since:       "40d",
			acts:        concat(home("frank@contoso.com", 36), []act{abroad("frank@contoso.com", "NG", "102.89.1.7", day(2))}),
			want:        []row{{"user_name": "frank@contoso.com", "country": "NG"}},
			provisional: yes},
	}
}

// downloads is n file downloads by user from start, one every 10 seconds.
func downloads(user string, start time.Time, n int, ua string) []act {
	return repeat(n, func(i int) act {
		return act{At: start.Add(time.Duration(i) * 10 * time.Second), User: user, App: 15600, EventType: "EVENT_CATEGORY_DOWNLOAD_FILE",
			EventTypeValue: "EVENT_O365_ONEDRIVE_DOWNLOAD", Action: "FileDownloaded", IP: "198.51.100.10", Country: "US",
			ISP: "Contoso Networks", Category: 1, UA: ua, Objects: []string{fmt.Sprintf("report-%d.xlsx", i)}}
	})
}

const (
	chrome131      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	chrome131Patch = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.86 Safari/537.36"
	chrome132      = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0.0.0 Safari/537.36"
	pythonUA       = "python-requests/2.31.0"
)

func activitySpikeCases() []fixtureCase {
	var young []act
	for _, u := range []string{"gil@contoso.com", "hal@contoso.com", "ivy@contoso.com"} {
		for n := 6; n >= 4; n-- {
			young = append(young, downloads(u, day(n), 2, chrome131)...)
		}
		young = append(young, downloads(u, day(3), 25, chrome131)...)
	}
	var steady []act
	for n := 36; n >= 0; n-- {
		steady = append(steady, downloads("jon@contoso.com", day(n), 6, chrome131)...)
	}
	return []fixtureCase{
		{inv: "activity-spike", name: "young-warehouse",
			why:  "a warehouse holding four days: users seen for three days are still learning, not spiking",
			acts: young, provisional: yes},
		{inv: "activity-spike", name: "steady-user-wide-window",
			why:   "6 downloads every day for 37 days (min_count 5), asked with --since 40d: no day is above the user's own normal",
			since: "40d", params: map[string]string{"min_count": "5"}, acts: steady},
	}
}

// fileWork is n downloads by user on the given day with the given user agent, from home.
func fileWork(user string, at time.Time, n int, ua string) []act {
	return downloads(user, at, n, ua)
}

// adminCmdlet is an Exchange admin cmdlet run by user.
func adminCmdlet(user, cmdlet string, at time.Time, ua string, params ...string) act {
	a := act{At: at, User: user, App: 20893, EventType: "EVENT_CATEGORY_CHANGE_ADMIN_SETTINGS", EventTypeValue: "EVENT_O365_EXCHANGE_ADMIN",
		Action: cmdlet, Admin: true, IP: "198.51.100.10", Country: "US", ISP: "Contoso Networks", Category: 1, UA: ua}
	if len(params) > 0 {
		a.RawData = params2(cmdlet, params...)
	}
	return a
}

// params2 renders rawDataJson with Operation and a Parameters array.
func params2(op string, kv ...string) map[string]any {
	r := params(kv...)
	r["Operation"] = op
	return r
}

func newClientFingerprintCases() []fixtureCase {
	var rollout []act
	for _, u := range []string{"ken", "lea", "max", "ned", "ola", "pat"} {
		user := u + "@contoso.com"
		for n := 30; n >= 4; n -= 2 {
			rollout = append(rollout, fileWork(user, day(n), 1, chrome131)...)
		}
		rollout = append(rollout, fileWork(user, day(2), 6, chrome132)...)
	}
	var minor []act
	for n := 30; n >= 4; n -= 2 {
		minor = append(minor, fileWork("quinn@contoso.com", day(n), 1, chrome131)...)
	}
	minor = append(minor, fileWork("quinn@contoso.com", day(2), 6, chrome131Patch)...)
	powershell := daily(36, 0, 0, func(at time.Time) act {
		ua := "PowerShell/7.4.5"
		if at.After(day(5)) {
			ua = "PowerShell/7.4.6"
		}
		return adminCmdlet("ops-admin@contoso.com", "Set-Mailbox", at, ua, "Identity", "ann@contoso.com", "ProhibitSendQuota", "49GB")
	})
	return []fixtureCase{
		{inv: "new-client-fingerprint", name: "browser-patch-update",
			why:  "Chrome 131.0.0.0 → 131.0.6778.86 on the user's own machine: the same browser family and major version",
			acts: minor},
		{inv: "new-client-fingerprint", name: "tenant-browser-rollout",
			why:  "Chrome 131 → 132 for six users within days: a tenant-wide rollout, not six new clients",
			acts: rollout},
		{inv: "new-client-fingerprint", name: "daily-admin-powershell",
			why:  "an admin who runs Exchange cmdlets from PowerShell every day; PowerShell 7.4.5 → 7.4.6",
			acts: powershell},
	}
}

func unusualAdminActivityCases() []fixtureCase {
	daily2 := concat(
		daily(36, 0, 0, func(at time.Time) act {
			return adminCmdlet("ops-admin@contoso.com", "Set-Mailbox", at, "PowerShell/7.4.6", "Identity", "ann@contoso.com")
		}),
		daily(36, 0, time.Hour, func(at time.Time) act {
			return adminCmdlet("ops-admin@contoso.com", "Add-MailboxPermission", at, "PowerShell/7.4.6", "Identity", "ben@contoso.com", "User", "cat@contoso.com")
		}))
	return []fixtureCase{
		{inv: "unusual-admin-activity", name: "daily-admin-wide-window",
			why:   "an admin's daily PowerShell work for 37 days, asked with --since 40d: nothing is new for them",
			since: "40d", acts: daily2},
	}
}

// mailboxCmdlet is an Exchange mailbox cmdlet (inbox rule or mailbox setting) run by the owner.
func mailboxCmdlet(user, cmdlet string, at time.Time, kv ...string) act {
	return act{At: at, User: user, App: 20893, EventType: "EVENT_CATEGORY_MAILBOX_SETTINGS", EventTypeValue: "EVENT_O365_EXCHANGE_CMDLET",
		Action: cmdlet, IP: "198.51.100.10", Country: "US", ISP: "Contoso Networks", Category: 1, RawData: params2(cmdlet, kv...)}
}

func mailForwardingCases() []fixtureCase {
	return []fixtureCase{
		{inv: "mail-forwarding", name: "forward-to-display-name",
			why:  "ForwardingAddress names an internal recipient (\"Shared Finance\"), not an outside address",
			acts: concat(tenantUsers(), []act{mailboxCmdlet("ann@contoso.com", "Set-Mailbox", day(2), "Identity", "ann@contoso.com", "ForwardingAddress", "Shared Finance")})},
		{inv: "mail-forwarding", name: "forward-to-internal-subdomain",
			why:  "eu.contoso.com is a subdomain of the tenant's own contoso.com",
			acts: concat(tenantUsers(), []act{mailboxCmdlet("ben@contoso.com", "New-InboxRule", day(2), "Name", "Copy to EU", "ForwardTo", "ben.eu@eu.contoso.com")})},
		{inv: "mail-forwarding", name: "escaped-quote-in-address",
			why:  "an address written in escaped quotes is still the whole address",
			acts: concat(tenantUsers(), []act{mailboxCmdlet("cat@contoso.com", "New-InboxRule", day(2), "Name", "x", "ForwardTo", `"drop@evil.example"`)}),
			want: []row{{"dest": "drop@evil.example", "external": true}}},
	}
}

func inboxRuleCases() []fixtureCase {
	return []fixtureCase{
		{inv: "inbox-manipulation-rules", name: "disable-rule-without-name",
			why:  "Set-InboxRule -Identity … -Enabled $false carries no Name: an unknown name is not an obscure one",
			acts: []act{mailboxCmdlet("ann@contoso.com", "Set-InboxRule", day(2), "Identity", `ann@contoso.com\Newsletters`, "Enabled", "False")}},
		{inv: "inbox-manipulation-rules", name: "keyword-inside-a-word",
			why:  "\"Wireless\" is not the keyword \"wire\"",
			acts: []act{mailboxCmdlet("ben@contoso.com", "New-InboxRule", day(2), "Name", "Wireless network notices", "From", "it@contoso.com", "MoveToFolder", "IT")}},
		{inv: "inbox-manipulation-rules", name: "delete-message-false",
			why:  "DeleteMessage False and MarkAsRead False switch hiding off",
			acts: []act{mailboxCmdlet("cat@contoso.com", "New-InboxRule", day(2), "Name", "Team updates", "DeleteMessage", "False", "MarkAsRead", "False")}},
	}
}

func defenseEvasionCases() []fixtureCase {
	valueFirst := adminCmdlet("mallory@contoso.com", "Set-AdminAuditLogConfig", day(2), chrome131)
	valueFirst.RawJSON = `{"Operation":"Set-AdminAuditLogConfig","Parameters":[{"Value":"False","Name":"AdminAuditLogEnabled"}]}`
	return []fixtureCase{
		{inv: "defense-evasion-changes", name: "audit-off-value-before-name",
			why:  "the Parameters object lists Value before Name",
			acts: []act{valueFirst},
			want: []row{{"user_name": "mallory@contoso.com", "action": "Set-AdminAuditLogConfig"}}},
		{inv: "defense-evasion-changes", name: "unified-audit-off",
			why:  "UnifiedAuditLogIngestionEnabled False turns the unified audit log off",
			acts: []act{adminCmdlet("mallory@contoso.com", "Set-AdminAuditLogConfig", day(2), chrome131, "UnifiedAuditLogIngestionEnabled", "False")},
			want: []row{{"user_name": "mallory@contoso.com", "action": "Set-AdminAuditLogConfig"}}},
		{inv: "defense-evasion-changes", name: "mailbox-audit-off",
			why: "mailbox auditing switched off for one mailbox, and an account exempted from mailbox auditing",
			acts: []act{adminCmdlet("mallory@contoso.com", "Set-Mailbox", day(2), chrome131, "Identity", "ceo@contoso.com", "AuditEnabled", "False"),
				adminCmdlet("mallory@contoso.com", "Set-MailboxAuditBypassAssociation", day(2).Add(time.Minute), chrome131, "Identity", "mallory@contoso.com", "AuditBypassEnabled", "True")},
			want: []row{{"action": "Set-Mailbox"}, {"action": "Set-MailboxAuditBypassAssociation"}}},
		{inv: "defense-evasion-changes", name: "mail-filters-weakened",
			why: "a malware filter rule disabled, a spam filter policy removed, anti-phishing switched off",
			acts: []act{adminCmdlet("mallory@contoso.com", "Disable-MalwareFilterRule", day(2), chrome131, "Identity", "Default"),
				adminCmdlet("mallory@contoso.com", "Remove-HostedContentFilterPolicy", day(2).Add(time.Minute), chrome131, "Identity", "Strict"),
				adminCmdlet("mallory@contoso.com", "Set-AntiPhishPolicy", day(2).Add(2*time.Minute), chrome131, "Identity", "Office365 AntiPhish Default", "Enabled", "False")},
			want: []row{{"action": "Disable-MalwareFilterRule"}, {"action": "Remove-HostedContentFilterPolicy"}, {"action": "Set-AntiPhishPolicy"}}},
	}
}

// adminFrom is a directory admin operation by user from ip with location category cat.
func adminFrom(user, ip string, cat int, at time.Time) act {
	return act{At: at, User: user, EventType: "EVENT_CATEGORY_CHANGE_ADMIN_SETTINGS", EventTypeValue: "EVENT_O365_AAD_ADMIN",
		Action: "Update user.", Admin: true, IP: ip, Country: "US", ISP: "Example ISP", Category: cat, Objects: []string{"ann@contoso.com"}}
}

func adminUntrustedIPCases() []fixtureCase {
	return []fixtureCase{
		{inv: "admin-untrusted-ip", name: "cidr-not-text-prefix",
			why:    "192.168.1.0/24 is trusted; 192.168.10.5 is not inside it although its text starts with 192.168.1",
			params: map[string]string{"trusted_prefixes": "192.168.1.0/24"},
			acts:   []act{adminFrom("ops-admin@contoso.com", "192.168.1.20", 6, day(2)), adminFrom("ops-admin@contoso.com", "192.168.10.5", 6, day(2).Add(time.Hour))},
			want:   []row{{"ip": "192.168.10.5"}}},
		{inv: "admin-untrusted-ip", name: "no-category-is-not-risky",
			why:  "an address without a category is untrusted but not risky: risky_ip is false, not NULL",
			acts: []act{adminFrom("ops-admin@contoso.com", "198.51.100.77", -1, day(2))},
			want: []row{{"ip": "198.51.100.77", "risky_ip": false}}},
	}
}

func impossibleTravelCases() []fixtureCase {
	start := day(2).Add(3 * time.Hour) // 12:00
	ny := signIn("rita@contoso.com", start.Add(-20*time.Minute))
	ny.Category, ny.ISP, ny.IP = 6, "Verizon", "198.51.100.20"
	lon := signIn("rita@contoso.com", start.Add(30*time.Minute))
	lon.Country, lon.City, lon.Lat, lon.Lon, lon.IP, lon.ISP, lon.Category = "GB", "London", 51.51, -0.13, "203.0.113.66", "BT", 6
	return []fixtureCase{
		{inv: "impossible-travel", name: "across-window-start",
			why:   "the New York sign-in is 20 minutes before --since, the London one 30 minutes after",
			since: ts(start), acts: []act{ny, lon},
			want: []row{{"user_name": "rita@contoso.com", "to_ip": "203.0.113.66"}}},
	}
}

func ipPivotCases() []fixtureCase {
	seed := "45.77.152.9"
	use := func(user string, at time.Time) act {
		a := signIn(user, at)
		a.IP, a.ISP, a.Category, a.Country = seed, "Choopa", 6, "NL"
		return a
	}
	return []fixtureCase{
		{inv: "ip-pivot", name: "seed-just-before-window",
			why:    "the address was used 4 hours before --since; the pivot still shows who used it",
			since:  ts(testNow.Add(-12 * time.Hour)),
			params: map[string]string{"ip": seed},
			acts:   []act{use("sam@contoso.com", testNow.Add(-16*time.Hour)), use("tom@contoso.com", testNow.Add(-16*time.Hour+time.Minute))},
			want:   []row{{"ip": seed, "users": 2}}},
	}
}

func classificationCases() []fixtureCase {
	boxDelete := func(user string, at time.Time, i int) act {
		return act{At: at, User: user, App: 10489, EventType: "EVENT_CATEGORY_UNSPECIFIED", EventTypeValue: "EVENT_BOX_DELETE",
			Action: "DELETE", IP: "198.51.100.10", Country: "US", Category: 1, Objects: []string{fmt.Sprintf("contract-%d.pdf", i)}}
	}
	var boxDeletes []act
	for b := 0; b < 3; b++ {
		start := day(2).Add(time.Duration(b) * 10 * time.Minute)
		boxDeletes = append(boxDeletes, repeat(51, func(i int) act {
			return boxDelete("uma@contoso.com", start.Add(time.Duration(i)*5*time.Second), b*100+i)
		})...)
	}
	googleShare := func(at time.Time, i int) act {
		return act{At: at, User: "vic@contoso.com", App: 11770, EventType: "EVENT_CATEGORY_UNSPECIFIED", EventTypeValue: "EVENT_GOOGLE_DRIVE_SHARE",
			Action: "change_user_access", IP: "198.51.100.10", Country: "US", Category: 1,
			Objects: []string{fmt.Sprintf("Budget %d", i), "someone@partner.example"}}
	}
	var shares []act
	for b := 0; b < 2; b++ {
		start := day(2).Add(time.Duration(b) * 15 * time.Minute)
		shares = append(shares, repeat(12, func(i int) act { return googleShare(start.Add(time.Duration(i)*10*time.Second), b*100+i) })...)
	}
	var churn []act
	for i := 0; i < 20; i++ {
		at := day(2).Add(time.Duration(i) * 20 * time.Second)
		churn = append(churn,
			act{At: at, User: "wes@contoso.com", App: 10489, EventType: "EVENT_CATEGORY_UPLOAD_FILE", EventTypeValue: "EVENT_BOX_UPLOAD",
				Action: "UPLOAD", IP: "198.51.100.10", Category: 1, Objects: []string{fmt.Sprintf("plan-%d.xlsx", i)}},
			boxDelete("wes@contoso.com", at.Add(5*time.Second), 1000+i))
	}
	return []fixtureCase{
		{inv: "mass-delete", name: "box-deletes",
			why:  "Box deletions (EVENT_BOX_DELETE) count as deletions, not only SharePoint's FileDeleted",
			acts: boxDeletes, want: []row{{"user_name": "uma@contoso.com", "app_name": "Box"}}},
		{inv: "mass-share", name: "google-drive-shares",
			why:  "Google Drive sharing (EVENT_GOOGLE_DRIVE_SHARE) counts as sharing",
			acts: shares, want: []row{{"user_name": "vic@contoso.com"}}},
		{inv: "ransomware-pattern", name: "box-upload-delete-churn",
			why:  "20 Box uploads and 20 Box deletions in minutes",
			acts: churn, want: []row{{"user_name": "wes@contoso.com"}}},
	}
}

// deleteUser is the directory's "Delete user." of target by admin.
func deleteUser(admin, target string, at time.Time) act {
	return act{At: at, User: admin, EventType: "EVENT_CATEGORY_DELETE_USER", EventTypeValue: "EVENT_O365_AAD_DELETE_USER", Action: "Delete user.",
		Admin: true, IP: "198.51.100.10", Country: "US", Category: 1, Objects: []string{target, "Target Person"}}
}

func terminatedUserCases() []fixtureCase {
	restore := deleteUser("hr-admin@contoso.com", "jdoe@contoso.com", day(5).Add(3*time.Hour))
	restore.EventType, restore.EventTypeValue, restore.Action = "EVENT_CATEGORY_CHANGE_ADMIN_SETTINGS", "EVENT_O365_AAD_ADMIN", "Restore user."
	return []fixtureCase{
		{inv: "terminated-user-activity", name: "same-local-part-other-domain",
			why:  "jdoe@contoso.com was deleted; jdoe@fabrikam.com is another person",
			acts: []act{deleteUser("hr-admin@contoso.com", "jdoe@contoso.com", day(5)), signIn("jdoe@fabrikam.com", day(4))}},
		{inv: "terminated-user-activity", name: "restored-user",
			why:  "deleted by mistake and restored three hours later: the next day's work is not a terminated user's",
			acts: []act{deleteUser("hr-admin@contoso.com", "jdoe@contoso.com", day(5)), restore, signIn("jdoe@contoso.com", day(4))}},
		{inv: "terminated-user-activity", name: "deleted-then-active",
			why:  "the deleted account signs in the next day",
			acts: []act{deleteUser("hr-admin@contoso.com", "kim@contoso.com", day(5)), signIn("kim@contoso.com", day(4))},
			want: []row{{"user_name": "kim@contoso.com"}}},
	}
}

// mailAccess is a mailbox read by actor in owner's mailbox with the given logon type (0 owner, 1
// admin, 2 delegate).
func mailAccess(actor, owner string, logon int, at time.Time) act {
	return act{At: at, User: actor, App: 20893, EventType: "EVENT_CATEGORY_UNSPECIFIED", EventTypeValue: "EVENT_O365_EXCHANGE_GENERIC",
		Action: "MailItemsAccessed", IP: "198.51.100.10", Country: "US", Category: 1, Objects: []string{owner},
		RawData: map[string]any{"LogonType": logon, "MailboxOwnerUPN": owner}}
}

func impersonationCases() []fixtureCase {
	return []fixtureCase{
		{inv: "impersonation-review", name: "known-delegate",
			why:  "an assistant who reads her manager's mailbox every working day: a known pair",
			acts: daily(36, 0, 0, func(at time.Time) act { return mailAccess("assistant@contoso.com", "boss@contoso.com", 2, at) })},
	}
}
