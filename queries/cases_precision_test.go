package queries

import (
	"fmt"
	"time"
)

// The cases below complete each investigation's set to at least two it must report and three
// benign look-alikes it must not: the ordinary shapes of real tenants (VPN exits, daily admin
// scripts, browser updates, conversions, restored users, travellers, helpdesk resets).

func precisionCases() []fixtureCase {
	return concatCases(
		activitySpikeMore(), adminUntrustedIPMore(), defenseEvasionMore(), failedLoginBurstMore(),
		impersonationListCases(), impersonationReviewMore(), impossibleTravelMore(), inboxRuleMore(),
		ipPivotMore(), mailForwardingMore(), massDeleteCases(), massDownloadCases(), massShareCases(),
		newClientFingerprintMore(), newCountryMore(), passwordSprayCases(), ransomwareMore(),
		riskyIPCases(), terminatedUserMore(), unusualAdminMore(), userTimelineCases(),
	)
}

// from returns a with the address, category (1 Corporate … 6 Other, -1 none), country and ISP set.
func from(a act, ip string, cat int, country, isp string) act {
	a.IP, a.Category, a.Country, a.ISP = ip, cat, country, isp
	return a
}

func shareAct(user, action string, at time.Time, object string) act {
	return act{At: at, User: user, App: 15600, EventType: "EVENT_CATEGORY_SHARE_FILE", EventTypeValue: "EVENT_O365_ONEDRIVE_SHARE",
		Action: action, IP: "198.51.100.10", Country: "US", Category: 1, Objects: []string{object}}
}

func fileAct(user, action, class string, at time.Time, object string) act {
	et := map[string]string{"upload": "EVENT_CATEGORY_UPLOAD_FILE", "delete": "EVENT_CATEGORY_DELETE_OBJECT", "view": "EVENT_CATEGORY_UNSPECIFIED"}[class]
	etv := map[string]string{"upload": "EVENT_O365_SHAREPOINT_UPLOAD", "delete": "EVENT_O365_SHAREPOINT_DELETE", "view": "EVENT_O365_SHAREPOINT_GENERIC"}[class]
	return act{At: at, User: user, App: 20892, EventType: et, EventTypeValue: etv, Action: action,
		IP: "198.51.100.10", Country: "US", Category: 1, Objects: []string{object}}
}

func activitySpikeMore() []fixtureCase {
	var spike []act
	for n := 38; n >= 3; n-- {
		spike = append(spike, downloads("kay@contoso.com", day(n), 3, chrome131)...)
	}
	spike = append(spike, downloads("kay@contoso.com", day(2), 80, chrome131)...)
	var shares []act
	for n := 36; n >= 3; n-- {
		shares = append(shares, shareAct("lou@contoso.com", "SharingSet", day(n), "plan.docx"), shareAct("lou@contoso.com", "SharingSet", day(n).Add(time.Hour), "notes.docx"))
	}
	for i := 0; i < 40; i++ {
		shares = append(shares, shareAct("lou@contoso.com", "AnonymousLinkCreated", day(2).Add(time.Duration(i)*time.Minute), fmt.Sprintf("file-%d.xlsx", i)))
	}
	var weekly []act
	for n := 36; n >= 0; n-- {
		if n%7 == 2 {
			weekly = append(weekly, downloads("mo@contoso.com", day(n), 30, chrome131)...)
		} else {
			weekly = append(weekly, downloads("mo@contoso.com", day(n), 2, chrome131)...)
		}
	}
	return []fixtureCase{
		{inv: "activity-spike", name: "download-spike", why: "three downloads a day for a month, then 80 in one day",
			acts: spike, want: []row{{"user_name": "kay@contoso.com", "metric": "download", "day": day(2).Format(time.DateOnly)}}, provisional: no},
		{inv: "activity-spike", name: "anonymous-link-spike", why: "two shares a day for a month, then 40 anonymous links in an afternoon",
			acts: shares, want: []row{{"user_name": "lou@contoso.com", "metric": "share"}}},
		{inv: "activity-spike", name: "weekly-batch", why: "a Friday export of 30 reports every week: part of the user's normal",
			acts: weekly},
	}
}

func adminUntrustedIPMore() []fixtureCase {
	user := act{At: day(2), User: "ann@contoso.com", EventType: "EVENT_CATEGORY_LOGIN", Action: "UserLoggedIn", IP: "203.0.113.5", Country: "US", Category: 6}
	return []fixtureCase{
		{inv: "admin-untrusted-ip", name: "corporate-address", why: "admin work from the office (Corporate category)",
			acts: []act{adminFrom("ops-admin@contoso.com", "198.51.100.10", 1, day(2))}},
		{inv: "admin-untrusted-ip", name: "own-network", why: "admin work from 10.20.30.40, inside the default 10.0.0.0/8",
			acts: []act{adminFrom("ops-admin@contoso.com", "10.20.30.40", 6, day(2))}},
		{inv: "admin-untrusted-ip", name: "vpn-address", why: "admin work through the company VPN (VPN category)",
			acts: []act{adminFrom("ops-admin@contoso.com", "192.0.2.44", 4, day(2))}},
		{inv: "admin-untrusted-ip", name: "user-at-home", why: "an ordinary user's sign-in from home: not admin work",
			acts: []act{user}},
	}
}

func defenseEvasionMore() []fixtureCase {
	return []fixtureCase{
		{inv: "defense-evasion-changes", name: "audit-log-turned-on", why: "switching the admin audit log on",
			acts: []act{adminCmdlet("ops-admin@contoso.com", "Set-AdminAuditLogConfig", day(2), "PowerShell/7.4.6", "AdminAuditLogEnabled", "True", "UnifiedAuditLogIngestionEnabled", "True")}},
		{inv: "defense-evasion-changes", name: "mailbox-quota-change", why: "Set-Mailbox for a quota, auditing untouched",
			acts: []act{adminCmdlet("ops-admin@contoso.com", "Set-Mailbox", day(2), "PowerShell/7.4.6", "Identity", "ann@contoso.com", "ProhibitSendQuota", "49GB", "AuditEnabled", "True")}},
		{inv: "defense-evasion-changes", name: "anti-phish-tuning", why: "anti-phishing policy tuned, protection left on",
			acts: []act{adminCmdlet("ops-admin@contoso.com", "Set-AntiPhishPolicy", day(2), "PowerShell/7.4.6", "Identity", "Office365 AntiPhish Default",
				"EnableMailboxIntelligence", "True", "PhishThresholdLevel", "2")}},
		{inv: "defense-evasion-changes", name: "new-protection-rule", why: "a new malware filter rule: adding protection",
			acts: []act{adminCmdlet("ops-admin@contoso.com", "New-MalwareFilterRule", day(2), "PowerShell/7.4.6", "Name", "Finance", "MalwareFilterPolicy", "Strict")}},
	}
}

func failedLoginBurstMore() []fixtureCase {
	reset := adminFrom("helpdesk@contoso.com", "198.51.100.10", 1, day(2))
	reset.Action, reset.Objects = "Reset user password.", []string{"nia@contoso.com"}
	phone := burst("nia@contoso.com", "198.51.100.10", day(2).Add(time.Minute), 9)
	return []fixtureCase{
		{inv: "failed-login-burst", name: "typos-then-success", why: "six mistyped passwords, then the right one",
			acts: concat(burst("oli@contoso.com", "198.51.100.10", day(2), 6), []act{signIn("oli@contoso.com", day(2).Add(3*time.Minute))})},
		{inv: "failed-login-burst", name: "slow-failures", why: "15 failures spread over two hours (a stale saved password), never more than 3 in 5 minutes",
			acts: repeat(15, func(i int) act { return failedSignIn("pia@contoso.com", day(2).Add(time.Duration(i)*8*time.Minute)) })},
		{inv: "failed-login-burst", name: "helpdesk-reset-old-password", why: "after a helpdesk password reset the phone retries the old password 9 times, then signs in with the new one",
			acts: concat([]act{reset}, phone, []act{signIn("nia@contoso.com", day(2).Add(6*time.Minute))})},
	}
}

func impersonationListCases() []fixtureCase {
	delegate := daily(36, 0, 0, func(at time.Time) act { return mailAccess("assistant@contoso.com", "boss@contoso.com", 2, at) })
	own := mailAccess("boss@contoso.com", "boss@contoso.com", 0, day(2))
	sharepoint := mailAccess("hank@contoso.com", "boss@contoso.com", 2, day(2))
	sharepoint.App = 20892
	return []fixtureCase{
		{inv: "impersonation-list", name: "known-delegate-listed", why: "the pivot lists the known delegate (new_pair false)",
			acts: delegate, want: []row{{"actor": "assistant@contoso.com", "target": "boss@contoso.com", "new_pair": false}}},
		{inv: "impersonation-list", name: "one-users-pairs", why: "--param user lists the pairs where that user is actor or target",
			params: map[string]string{"user": "CFO@contoso.com"},
			acts:   []act{mailAccess("assistant@contoso.com", "boss@contoso.com", 2, day(2)), mailAccess("admin@contoso.com", "cfo@contoso.com", 1, day(2))},
			want:   []row{{"actor": "admin@contoso.com", "target": "cfo@contoso.com", "new_pair": true}}},
		{inv: "impersonation-list", name: "owner-logon", why: "the owner reading her own mailbox is not impersonation",
			acts: []act{own}},
		{inv: "impersonation-list", name: "not-exchange", why: "the same operation in another app is not mailbox access",
			acts: []act{sharepoint}},
		{inv: "impersonation-list", name: "other-users", why: "--param user names someone in no pair",
			params: map[string]string{"user": "nobody@contoso.com"}, acts: []act{mailAccess("assistant@contoso.com", "boss@contoso.com", 2, day(2))}},
	}
}

func impersonationReviewMore() []fixtureCase {
	adminLife := daily(36, 1, 0, func(at time.Time) act { return signIn("it-admin@contoso.com", at) })
	delegate := daily(36, 0, 0, func(at time.Time) act { return mailAccess("assistant@contoso.com", "boss@contoso.com", 2, at) })
	newbie := []act{signIn("newhire@contoso.com", day(2)), mailAccess("newhire@contoso.com", "manager@contoso.com", 2, day(1))}
	return []fixtureCase{
		{inv: "impersonation-review", name: "admin-reads-ceo-mailbox", why: "an admin with a month of history opens the CEO's mailbox for the first time",
			acts: concat(adminLife, []act{mailAccess("it-admin@contoso.com", "ceo@contoso.com", 1, day(2))}),
			want: []row{{"actor": "it-admin@contoso.com", "target": "ceo@contoso.com"}}},
		{inv: "impersonation-review", name: "delegate-reaches-new-mailbox", why: "a known delegate of one mailbox opens another",
			acts: concat(delegate, []act{mailAccess("assistant@contoso.com", "cfo@contoso.com", 2, day(1))}),
			want: []row{{"actor": "assistant@contoso.com", "target": "cfo@contoso.com"}}},
		{inv: "impersonation-review", name: "new-hire-learning", why: "a new hire's first days (delegated to their manager) are a learning period",
			acts: newbie},
		{inv: "impersonation-review", name: "owner-logon", why: "owners reading their own mailboxes",
			acts: daily(10, 0, 0, func(at time.Time) act { return mailAccess("boss@contoso.com", "boss@contoso.com", 0, at) })},
	}
}

func impossibleTravelMore() []fixtureCase {
	at := day(2)
	ny := func(user, ip string, cat int, t time.Time) act {
		a := from(signIn(user, t), ip, cat, "US", "Verizon")
		a.City, a.Lat, a.Lon = "New York", 40.71, -74.01
		return a
	}
	city := func(user, ip string, cat int, t time.Time, country, name string, lat, lon float64) act {
		a := from(signIn(user, t), ip, cat, country, "Example Telecom")
		a.City, a.Lat, a.Lon = name, lat, lon
		return a
	}
	london := city("sue@contoso.com", "203.0.113.66", 3, at.Add(50*time.Minute), "GB", "London", 51.51, -0.13)
	london.Anonymous = true
	return []fixtureCase{
		{inv: "impossible-travel", name: "anonymous-hop", why: "New York, then London 50 minutes later through an anonymous proxy",
			acts: []act{ny("sue@contoso.com", "198.51.100.20", 6, at), london},
			want: []row{{"user_name": "sue@contoso.com", "to_ip": "203.0.113.66", "to_anonymous": true}}},
		{inv: "impossible-travel", name: "vpn-exits", why: "the company VPN exits in Frankfurt and then in New York (Corporate category)",
			acts: []act{city("tim@contoso.com", "192.0.2.10", 1, at, "DE", "Frankfurt", 50.11, 8.68), ny("tim@contoso.com", "192.0.2.20", 1, at.Add(10*time.Minute))}},
		{inv: "impossible-travel", name: "home-then-vpn-abroad", why: "from home in New York, then through the VPN's Amsterdam exit five minutes later",
			acts: []act{ny("uli@contoso.com", "198.51.100.30", 6, at), city("uli@contoso.com", "192.0.2.30", 4, at.Add(5*time.Minute), "NL", "Amsterdam", 52.37, 4.9)}},
		{inv: "impossible-travel", name: "real-flight", why: "New York, then London eight hours later",
			acts: []act{ny("val@contoso.com", "198.51.100.40", 6, at), city("val@contoso.com", "203.0.113.80", 6, at.Add(8*time.Hour), "GB", "London", 51.51, -0.13)}},
		{inv: "impossible-travel", name: "established-traveller", why: "in New York every other week: the laptop on the hotel network, the phone roaming on the London carrier, alternating",
			acts: roamingTraveller()},
		{inv: "impossible-travel", name: "neighbouring-cities", why: "Brussels, then Amsterdam 20 minutes later: under min_km, GeoIP noise",
			acts: []act{city("wil@contoso.com", "198.51.100.50", 6, at, "BE", "Brussels", 50.85, 4.35), city("wil@contoso.com", "203.0.113.90", 6, at.Add(20*time.Minute), "NL", "Amsterdam", 52.37, 4.9)}},
	}
}

// roamingTraveller lives in London and works in New York one week in two: on each trip's
// mornings the phone (home carrier, geolocated in London) and the laptop (New York hotel) sign in
// within the hour.
func roamingTraveller() []act {
	home := func(t time.Time) act {
		a := from(signIn("xia@contoso.com", t), "86.140.118.10", 6, "GB", "BT")
		a.City, a.Lat, a.Lon = "London", 51.51, -0.13
		return a
	}
	hotel := func(t time.Time) act {
		a := from(signIn("xia@contoso.com", t), "198.51.100.99", 6, "US", "Hotel Network")
		a.City, a.Lat, a.Lon = "New York", 40.71, -74.01
		return a
	}
	var out []act
	for n := 36; n >= 0; n-- {
		if (n/7)%2 == 0 && n%7 < 4 { // a trip: four days every other week
			out = append(out, home(day(n).Add(-2*time.Hour)), hotel(day(n).Add(-80*time.Minute)))
		} else {
			out = append(out, home(day(n)))
		}
	}
	return out
}

func inboxRuleMore() []fixtureCase {
	return []fixtureCase{
		{inv: "inbox-manipulation-rules", name: "hide-security-alerts", why: "a rule named \".\" deleting mail about security alerts",
			acts: []act{mailboxCmdlet("ann@contoso.com", "New-InboxRule", day(2), "Name", ".", "SubjectContainsWords", "security alert", "DeleteMessage", "True")},
			want: []row{{"user_name": "ann@contoso.com", "rule_name": ".", "obscure_name": true, "score": 5}}},
		{inv: "inbox-manipulation-rules", name: "invoices-to-rss", why: "invoice and payment mail moved to RSS Feeds and marked read (BEC)",
			acts: []act{mailboxCmdlet("ben@contoso.com", "New-InboxRule", day(2), "Name", "Invoices", "SubjectOrBodyContainsWords", "invoice;payment",
				"MoveToFolder", "RSS Feeds", "MarkAsRead", "True")},
			want: []row{{"user_name": "ben@contoso.com", "rule_name": "Invoices"}}},
	}
}

func ipPivotMore() []fixtureCase {
	anon := func(user string, t time.Time) act {
		a := from(signIn(user, t), "185.220.101.4", 3, "DE", "Tor exit")
		a.Anonymous = true
		return a
	}
	old := from(signIn("sam@contoso.com", day(25)), "45.77.152.9", 6, "NL", "Choopa")
	return []fixtureCase{
		{inv: "ip-pivot", name: "user-anonymous-address", why: "--param user adds the user's anonymous address, shared with another user",
			params: map[string]string{"ip": "192.0.2.99", "user": "xan@contoso.com"},
			acts:   []act{anon("xan@contoso.com", day(2)), anon("yul@contoso.com", day(3)), signIn("xan@contoso.com", day(2))},
			want:   []row{{"ip": "185.220.101.4", "users": 2}}},
		{inv: "ip-pivot", name: "unknown-address", why: "an address nobody used",
			params: map[string]string{"ip": "192.0.2.1"}, acts: []act{signIn("ann@contoso.com", day(2))}},
		{inv: "ip-pivot", name: "older-than-history", why: "the address was used 25 days ago, beyond the 7 days read before the window",
			params: map[string]string{"ip": "45.77.152.9"}, acts: []act{old}},
		{inv: "ip-pivot", name: "user-office-only", why: "--param user whose addresses are all corporate seeds nothing",
			params: map[string]string{"ip": "192.0.2.1", "user": "zoe@contoso.com"}, acts: []act{signIn("zoe@contoso.com", day(2))}},
	}
}

func mailForwardingMore() []fixtureCase {
	var collection []act
	for _, u := range []string{"ann", "ben", "cat"} {
		collection = append(collection, mailboxCmdlet(u+"@contoso.com", "New-InboxRule", day(2), "Name", "copy", "ForwardTo", "collector@contoso.com"))
	}
	return []fixtureCase{
		{inv: "mail-forwarding", name: "mailbox-forwarding-outside", why: "Set-Mailbox ForwardingSmtpAddress to a free mail address",
			acts: concat(tenantUsers(), []act{mailboxCmdlet("dan@contoso.com", "Set-Mailbox", day(2), "Identity", "dan@contoso.com", "ForwardingSmtpAddress", "smtp:dan.private@gmail.com")}),
			want: []row{{"dest": "dan.private@gmail.com", "external": true, "mailboxes": 1}}},
		{inv: "mail-forwarding", name: "many-to-one-internal", why: "three mailboxes forwarding to one internal address (collection)",
			acts: concat(tenantUsers(), collection),
			want: []row{{"dest": "collector@contoso.com", "external": false, "mailboxes": 3}}},
		{inv: "mail-forwarding", name: "forwarding-switched-off", why: "ForwardingSmtpAddress cleared ($null)",
			acts: concat(tenantUsers(), []act{mailboxCmdlet("eva@contoso.com", "Set-Mailbox", day(2), "Identity", "eva@contoso.com", "ForwardingSmtpAddress", "$null")})},
	}
}

func deletes(user string, start time.Time, n int) []act {
	return repeat(n, func(i int) act {
		return fileAct(user, "FileDeleted", "delete", start.Add(time.Duration(i)*4*time.Second), fmt.Sprintf("old-%d-%d.docx", start.Unix(), i))
	})
}

func massDeleteCases() []fixtureCase {
	var sustained, steady, manyUsers []act
	for b := 0; b < 3; b++ {
		sustained = append(sustained, deletes("abe@contoso.com", day(2).Add(time.Duration(b)*10*time.Minute), 60)...)
	}
	for b := 0; b < 6; b++ {
		steady = append(steady, deletes("bea@contoso.com", day(2).Add(time.Duration(b)*5*time.Minute), 40)...)
	}
	for _, u := range []string{"cy", "di", "ed"} {
		manyUsers = append(manyUsers, deletes(u+"@contoso.com", day(2), 60)...)
	}
	return []fixtureCase{
		{inv: "mass-delete", name: "sharepoint-sustained", why: "60 deletions in each of three 5-minute buckets",
			acts: sustained, want: []row{{"user_name": "abe@contoso.com", "hot_buckets": 3, "deletes": 180}}},
		{inv: "mass-delete", name: "one-cleanup", why: "200 deletions in one go: a clean-up, not sustained",
			acts: deletes("fay@contoso.com", day(2), 70)},
		{inv: "mass-delete", name: "steady-pace", why: "40 deletions in each of six buckets, never above 50",
			acts: steady},
		{inv: "mass-delete", name: "team-cleanup", why: "three users clean up one folder at once, one hot bucket each",
			acts: manyUsers},
	}
}

func massDownloadCases() []fixtureCase {
	perMinute := func(user string, start time.Time, n int, etv, action string, app int) []act {
		return repeat(n, func(i int) act {
			return act{At: start.Add(time.Duration(i) * 50 * time.Second / time.Duration(n)), User: user, App: app, EventType: "EVENT_CATEGORY_UNSPECIFIED",
				EventTypeValue: etv, Action: action, IP: "198.51.100.10", Country: "US", Category: 1, Objects: []string{fmt.Sprintf("doc-%d.pdf", i)}}
		})
	}
	var steady []act
	for m := 0; m < 5; m++ {
		steady = append(steady, perMinute("gus@contoso.com", day(2).Add(time.Duration(m)*time.Minute), 45, "EVENT_O365_ONEDRIVE_DOWNLOAD", "FileDownloaded", 15600)...)
	}
	return []fixtureCase{
		{inv: "mass-download", name: "onedrive-burst", why: "70 downloads within a minute",
			acts: perMinute("hal@contoso.com", day(2), 70, "EVENT_O365_ONEDRIVE_DOWNLOAD", "FileDownloaded", 15600),
			want: []row{{"user_name": "hal@contoso.com", "peak_per_min": 70}}},
		{inv: "mass-download", name: "google-drive-burst", why: "Google Drive downloads (EVENT_GOOGLE_DRIVE_DOWNLOAD) count too",
			acts: perMinute("ida@contoso.com", day(2), 55, "EVENT_GOOGLE_DRIVE_DOWNLOAD", "download", 11770),
			want: []row{{"user_name": "ida@contoso.com", "app_name": "Google Workspace", "peak_per_min": 55}}},
		{inv: "mass-download", name: "steady-sync", why: "45 a minute for five minutes, never above 50",
			acts: steady},
		{inv: "mass-download", name: "previews", why: "100 previews in a minute are not downloads",
			acts: perMinute("jay@contoso.com", day(2), 100, "EVENT_O365_ONEDRIVE_GENERIC", "FilePreviewed", 15600)},
		{inv: "mass-download", name: "two-users-one-minute", why: "two users with 30 each in the same minute",
			acts: concat(perMinute("kim@contoso.com", day(2), 30, "EVENT_O365_ONEDRIVE_DOWNLOAD", "FileDownloaded", 15600),
				perMinute("lee@contoso.com", day(2), 30, "EVENT_O365_ONEDRIVE_DOWNLOAD", "FileDownloaded", 15600))},
	}
}

func massShareCases() []fixtureCase {
	links := func(user, action string, start time.Time, n int, every time.Duration) []act {
		return repeat(n, func(i int) act {
			return shareAct(user, action, start.Add(time.Duration(i)*every), fmt.Sprintf("q%d-%d.xlsx", start.Unix(), i))
		})
	}
	var anon, steady, spread []act
	for b := 0; b < 2; b++ {
		anon = append(anon, links("max@contoso.com", "AnonymousLinkCreated", day(2).Add(time.Duration(b)*10*time.Minute), 12, 20*time.Second)...)
	}
	for b := 0; b < 5; b++ {
		steady = append(steady, links("ned@contoso.com", "SharingSet", day(2).Add(time.Duration(b)*10*time.Minute), 8, 30*time.Second)...)
	}
	spread = links("ora@contoso.com", "CompanyLinkCreated", day(2), 96, 5*time.Minute)
	return []fixtureCase{
		{inv: "mass-share", name: "anonymous-links", why: "12 anonymous links in each of two 10-minute buckets",
			acts: anon, want: []row{{"user_name": "max@contoso.com", "hot_windows": 2, "anonymous_links": 24}}},
		{inv: "mass-share", name: "onboarding-one-burst", why: "a new team's folder shared with 25 colleagues at once: one hot bucket",
			acts: links("pam@contoso.com", "SharingInvitationCreated", day(2), 25, 10*time.Second)},
		{inv: "mass-share", name: "steady-sharing", why: "eight shares in each of five buckets, never above ten",
			acts: steady},
		{inv: "mass-share", name: "all-day-sharing", why: "two company links every ten minutes for eight hours",
			acts: spread},
	}
}

func newClientFingerprintMore() []fixtureCase {
	var python, isp []act
	for n := 30; n >= 3; n-- {
		python = append(python, fileWork("rex@contoso.com", day(n), 1, chrome131)...)
		isp = append(isp, fileWork("sal@contoso.com", day(n), 1, chrome131)...)
	}
	python = append(python, fileWork("rex@contoso.com", day(2), 2, pythonUA)...)
	hosted := fileWork("sal@contoso.com", day(2), 8, chrome131)
	for i := range hosted {
		hosted[i].IP, hosted[i].ISP, hosted[i].Category = "159.203.77.41", "DigitalOcean", 6
	}
	return []fixtureCase{
		{inv: "new-client-fingerprint", name: "python-after-browser-month", why: "a month of Chrome, then python-requests downloading",
			acts: python, want: []row{{"user_name": "rex@contoso.com", "client": "python-requests 2", "tool_ua": true, "new_client": true}}},
		{inv: "new-client-fingerprint", name: "new-hosting-isp", why: "the user's own browser, from a hosting provider never seen, eight downloads",
			acts: concat(isp, hosted), want: []row{{"user_name": "sal@contoso.com", "new_isps": []string{"DigitalOcean"}, "new_client": false}}},
	}
}

func newCountryMore() []fixtureCase {
	var vpn, traveller, failed []act
	for n := 36; n >= 1; n-- {
		vpn = append(vpn, signIn("tam@contoso.com", day(n)))
		traveller = append(traveller, signIn("una@contoso.com", day(n)))
		failed = append(failed, signIn("vic@contoso.com", day(n)))
	}
	vpn = append(vpn, from(signIn("tam@contoso.com", day(2).Add(time.Hour)), "192.0.2.10", 1, "DE", "Contoso VPN"))
	for n := 35; n >= 0; n -= 7 {
		traveller = append(traveller, from(signIn("una@contoso.com", day(n).Add(2*time.Hour)), "203.0.113.50", 6, "FR", "Orange"))
	}
	failed = append(failed, from(failedSignIn("vic@contoso.com", day(2)), "185.81.68.20", 6, "RO", "M247"))
	newHire := []act{signIn("wes@contoso.com", day(3)), from(signIn("wes@contoso.com", day(2)), "203.0.113.51", 6, "GB", "BT")}
	return []fixtureCase{
		{inv: "new-country", name: "vpn-exit-abroad", why: "the company VPN (Corporate category) exits in Germany",
			acts: vpn},
		{inv: "new-country", name: "established-traveller", why: "in France every week for five weeks: France is known",
			acts: traveller},
		{inv: "new-country", name: "failed-only", why: "a failed sign-in from Romania, no success",
			acts: failed},
		{inv: "new-country", name: "new-hire-learning", why: "a new hire's first days abroad are a learning period",
			acts: newHire},
	}
}

func passwordSprayCases() []fixtureCase {
	spray := func(ip string, users []string, start time.Time) []act {
		var out []act
		for i, u := range users {
			a := failedSignIn(u, start.Add(time.Duration(i)*time.Minute))
			out = append(out, from(a, ip, 6, "RO", "M247"))
		}
		return out
	}
	users := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = fmt.Sprintf("%s%d@contoso.com", prefix, i)
		}
		return out
	}
	ok := from(signIn("b3@contoso.com", day(2).Add(30*time.Minute)), "185.81.68.102", 6, "RO", "M247")
	var office []act
	for _, u := range users("staff", 6) {
		office = append(office, failedSignIn(u, day(2)), signIn(u, day(2).Add(2*time.Minute)))
	}
	var slow []act
	for b := 0; b < 4; b++ {
		slow = append(slow, spray("185.81.68.103", users(fmt.Sprintf("s%d-", b), 4), day(2).Add(time.Duration(b)*40*time.Minute))...)
	}
	return []fixtureCase{
		{inv: "password-spray", name: "eight-users-one-address", why: "one address fails as eight users within ten minutes",
			acts: spray("185.81.68.101", users("a", 8), day(2)), want: []row{{"ip": "185.81.68.101", "failed_users": 8, "success_users": 0}}},
		{inv: "password-spray", name: "spray-then-success", why: "six users failed from the address, then one signed in from it",
			acts: append(spray("185.81.68.102", users("b", 6), day(2)), ok),
			want: []row{{"ip": "185.81.68.102", "failed_users": 6, "succeeded": []string{"b3@contoso.com"}}}},
		{inv: "password-spray", name: "office-after-password-reset", why: "after a tenant-wide reset, six users fail once each from the office, then sign in",
			acts: office},
		{inv: "password-spray", name: "low-and-slow", why: "four users per 20 minutes from one address, below min_users in every bucket",
			acts: slow},
		{inv: "password-spray", name: "one-user-many-failures", why: "one user failing 30 times from one address is not a spray",
			acts: burst("cy@contoso.com", "185.81.68.104", day(2), 30)},
	}
}

func ransomwareMore() []fixtureCase {
	var locked, conversion, versions []act
	for i := 0; i < 25; i++ {
		at := day(2).Add(time.Duration(i) * 20 * time.Second)
		name := fmt.Sprintf("contract %02d.docx", i)
		locked = append(locked, fileAct("dee@contoso.com", "FileDeleted", "delete", at, name), fileAct("dee@contoso.com", "FileUploaded", "upload", at.Add(5*time.Second), name+".locked"))
		conversion = append(conversion, fileAct("eli@contoso.com", "FileDeleted", "delete", at, fmt.Sprintf("report %02d.docx", i)),
			fileAct("eli@contoso.com", "FileUploaded", "upload", at.Add(5*time.Second), fmt.Sprintf("report %02d.pdf", i)))
	}
	for i := 0; i < 15; i++ {
		at := day(2).Add(time.Duration(i) * 30 * time.Second)
		versions = append(versions, fileAct("fin@contoso.com", "FileUploaded", "upload", at, fmt.Sprintf("budget-%d_v2.xlsx", i)),
			fileAct("fin@contoso.com", "FileDeleted", "delete", at.Add(10*time.Second), fmt.Sprintf("budget-%d_v1.xlsx", i)))
	}
	return []fixtureCase{
		{inv: "ransomware-pattern", name: "deleted-and-locked", why: "25 files deleted and uploaded again as .locked",
			acts: locked, want: []row{{"user_name": "dee@contoso.com", "known_ext_uploads": 25, "rewritten": 25}}},
		{inv: "ransomware-pattern", name: "docx-to-pdf", why: "25 reports converted to PDF, the Word files deleted",
			acts: conversion},
		{inv: "ransomware-pattern", name: "one-encrypted-backup", why: "one encrypted backup uploaded",
			acts: []act{fileAct("gil@contoso.com", "FileUploaded", "upload", day(2), "backup-2026-03.tar.gz.enc")}},
		{inv: "ransomware-pattern", name: "new-versions", why: "15 new versions uploaded, 15 old ones deleted",
			acts: versions},
	}
}

func riskyIPCases() []fixtureCase {
	tor := from(signIn("hug@contoso.com", day(2)), "185.220.101.7", 3, "DE", "Tor exit")
	tor.Anonymous = true
	risky := from(downloads("ira@contoso.com", day(2), 1, chrome131)[0], "45.142.120.9", 3, "NL", "Botnet host")
	cloud := from(signIn("jon@contoso.com", day(2)), "20.1.2.3", 5, "US", "Microsoft Azure")
	hosting := from(signIn("kai@contoso.com", day(2)), "159.203.77.42", 6, "US", "DigitalOcean")
	return []fixtureCase{
		{inv: "risky-ip-activity", name: "tor-sign-in", why: "a sign-in through a Tor exit (anonymous proxy)",
			acts: []act{tor}, want: []row{{"user_name": "hug@contoso.com", "ip": "185.220.101.7", "logins": 1}}},
		{inv: "risky-ip-activity", name: "risky-category", why: "a download from an address in the Risky category",
			acts: []act{risky}, want: []row{{"user_name": "ira@contoso.com", "ip": "45.142.120.9"}}},
		{inv: "risky-ip-activity", name: "cloud-provider", why: "an address in the Cloud provider category is not risky",
			acts: []act{cloud}},
		{inv: "risky-ip-activity", name: "office", why: "the office",
			acts: []act{signIn("lia@contoso.com", day(2))}},
		{inv: "risky-ip-activity", name: "untagged-hosting", why: "a hosting provider's address without a Risky tag",
			acts: []act{hosting}},
	}
}

func terminatedUserMore() []fixtureCase {
	failedAfter := concat([]act{deleteUser("hr-admin@contoso.com", "moe@contoso.com", day(5))},
		repeat(3, func(i int) act { return failedSignIn("moe@contoso.com", day(4).Add(time.Duration(i)*time.Minute)) }))
	return []fixtureCase{
		{inv: "terminated-user-activity", name: "deleted-before-window", why: "deleted 20 days ago, before the window; active in it",
			acts: []act{deleteUser("hr-admin@contoso.com", "ned@contoso.com", day(20)), signIn("ned@contoso.com", day(3))},
			want: []row{{"user_name": "ned@contoso.com", "deleted_at": day(20)}}},
		{inv: "terminated-user-activity", name: "bare-account-name", why: "jdoe@contoso.com deleted; the AWS IAM user jdoe is active after",
			acts: []act{deleteUser("hr-admin@contoso.com", "ola@contoso.com", day(5)), {At: day(4), User: "ola", App: 11599, EventType: "EVENT_CATEGORY_LOGIN",
				EventTypeValue: "EVENT_AWS_LOGIN", Action: "ConsoleLogin", IP: "203.0.113.9", Country: "US", Category: 6}},
			want: []row{{"user_name": "ola", "target": "ola@contoso.com"}}},
		{inv: "terminated-user-activity", name: "only-failures-after", why: "after the deletion only failed sign-ins",
			acts: failedAfter},
	}
}

func unusualAdminMore() []fixtureCase {
	user := daily(36, 1, 0, func(at time.Time) act { return signIn("pat@contoso.com", at) })
	role := adminFrom("pat@contoso.com", "198.51.100.10", 1, day(2))
	role.Action, role.Objects = "Add member to role.", []string{"Global Administrator", "pat@contoso.com"}
	admin := daily(36, 1, 0, func(at time.Time) act {
		return adminCmdlet("ops-admin@contoso.com", "Set-Mailbox", at, "PowerShell/7.4.6", "Identity", "ann@contoso.com")
	})
	transport := adminCmdlet("ops-admin@contoso.com", "New-TransportRule", day(2), "PowerShell/7.4.6", "Name", "bcc all", "BlindCopyTo", "x@evil.example")
	resets := daily(36, 0, 0, func(at time.Time) act {
		a := adminFrom("helpdesk@contoso.com", "198.51.100.10", 1, at)
		a.Action = "Reset user password."
		return a
	})
	newAdmin := []act{signIn("new-admin@contoso.com", day(3)), adminCmdlet("new-admin@contoso.com", "Set-Mailbox", day(2), "PowerShell/7.4.6", "Identity", "ann@contoso.com")}
	return []fixtureCase{
		{inv: "unusual-admin-activity", name: "first-time-admin", why: "a user with a month of sign-ins adds themselves to a role",
			acts: concat(user, []act{role}), want: []row{{"user_name": "pat@contoso.com", "operation": "Add member to role.", "first_time_admin": true, "high_risk": true}}},
		{inv: "unusual-admin-activity", name: "admin-new-operation", why: "a mailbox admin creates a transport rule for the first time",
			acts: concat(admin, []act{transport}), want: []row{{"user_name": "ops-admin@contoso.com", "operation": "New-TransportRule", "first_time_admin": false}}},
		{inv: "unusual-admin-activity", name: "helpdesk-daily-resets", why: "a helpdesk account resetting passwords every day",
			acts: resets},
		{inv: "unusual-admin-activity", name: "new-admin-learning", why: "a new admin's first days are a learning period",
			acts: newAdmin},
	}
}

func userTimelineCases() []fixtureCase {
	acts := []act{signIn("ray@contoso.com", day(2)), downloads("ray@contoso.com", day(2).Add(time.Hour), 3, chrome131)[0],
		downloads("ray@contoso.com", day(2).Add(time.Hour+time.Minute), 3, chrome131)[1], signIn("sam@contoso.com", day(2))}
	return []fixtureCase{
		{inv: "user-timeline", name: "hour-by-hour", why: "a sign-in at 09:00 and two downloads at 10:00",
			params: map[string]string{"user": "ray@contoso.com"}, acts: acts,
			want: []row{{"bucket": day(2), "action_class": "login", "events": 1}, {"bucket": day(2).Add(time.Hour), "action_class": "download", "events": 2}}},
		{inv: "user-timeline", name: "any-letter-case", why: "the user named in another letter case",
			params: map[string]string{"user": "RAY@Contoso.com", "bucket": "day"}, acts: acts,
			want: []row{{"action_class": "login"}, {"action_class": "download"}}},
		{inv: "user-timeline", name: "unknown-user", why: "a user with no activity",
			params: map[string]string{"user": "nobody@contoso.com"}, acts: acts},
		{inv: "user-timeline", name: "before-window", why: "the user's activity is older than the window",
			params: map[string]string{"user": "tia@contoso.com"}, acts: []act{signIn("tia@contoso.com", day(20))}},
		{inv: "user-timeline", name: "same-local-part", why: "ray@fabrikam.com is another person",
			params: map[string]string{"user": "ray@fabrikam.com"}, acts: acts},
	}
}
