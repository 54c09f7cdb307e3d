package synth

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Benign look-alikes: behaviour real tenants are full of that resembles an incident, added to the
// normal population so that tests measure the investigations' precision, not only their recall.
// Each kind has one planner in lookalike_<kind>.go, registered in lookalikeKinds. A planner runs
// before the baseline (after the incident planners, so the incidents' dedicated users are never
// picked): it picks ordinary users with t.pick, gives them the behaviour (user fields the
// baseline reads, or a routine it runs every day) and sets l.emit, which runs after the baseline
// to plant the look-alike's own records (l.rec) and to mark the baseline records that show it
// (l.markRecent, l.markFirst), whose ids go into the ground truth. Randomness comes from r (one
// stream for all look-alike planners, apart from the incidents') before the baseline, from the
// user's own stream inside a routine and from l.r inside emit.

// lookalikePlanner sets up one look-alike l. It returns false when the tenant has no user to give
// it (a tiny tenant): the kind is then left out of the ground truth.
type lookalikePlanner func(t *Tenant, r *rand.Rand, l *plan) bool

// lookalikeKinds registers the planners, in planting order. The tenant-wide changes (a browser
// rollout) come last: they reach every user the others left.
var lookalikeKinds = []lookalikeKind{
	{"same-local-part", []string{"terminated-user-activity"}, planSameLocalPart},
	{"restored-user", []string{"terminated-user-activity", "unusual-admin-activity"}, planRestoredUser},
	{"corporate-vpn-egress", []string{"impossible-travel", "new-country"}, planCorporateVPNEgress},
	{"established-traveller", []string{"impossible-travel", "new-country"}, planEstablishedTraveller},
	{"admin-powershell", []string{"new-client-fingerprint", "unusual-admin-activity", "activity-spike"}, planAdminPowerShell},
	{"audit-config-value-first", []string{"defense-evasion-changes", "unusual-admin-activity"}, planAuditConfigValueFirst},
	{"helpdesk-resets", []string{"unusual-admin-activity", "activity-spike", "admin-untrusted-ip"}, planHelpdeskResets},
	{"directory-sync-account", []string{"admin-untrusted-ip", "activity-spike", "unusual-admin-activity"}, planDirectorySyncAccount},
	{"delegate-access", []string{"impersonation-review", "activity-spike"}, planDelegateAccess},
	{"internal-forwarding", []string{"mail-forwarding"}, planInternalForwarding},
	{"inbox-rule-without-name", []string{"inbox-manipulation-rules"}, planInboxRuleWithoutName},
	{"inbox-rule-word-inside-word", []string{"inbox-manipulation-rules"}, planInboxRuleWordInsideWord},
	{"inbox-rule-explicit-false", []string{"inbox-manipulation-rules"}, planInboxRuleExplicitFalse},
	{"outlook-rule-update", []string{"inbox-manipulation-rules"}, planOutlookRuleUpdate},
	{"file-conversion", []string{"ransomware-pattern", "activity-spike", "mass-delete"}, planFileConversion},
	{"encrypted-backup", []string{"ransomware-pattern"}, planEncryptedBackup},
	{"saas-deletes-shares", []string{"mass-delete", "mass-share", "activity-spike", "ransomware-pattern"}, planSaaSDeletesShares},
	{"browser-rollout", []string{"new-client-fingerprint"}, planBrowserRollout},
}

// laterLookalikeKinds are the look-alikes of the kinds planted after the look-alikes
// (laterIncidentKinds), planted after them in the same way: their accounts are users of their own,
// added last, or ordinary users they claim and give records of their own (l.rec) without changing
// what the baseline writes for them (no routine, no field the baseline reads, no markRecent), so
// the records of everything before stay as they were. A new one goes at the end.
var laterLookalikeKinds = []lookalikeKind{
	{"sanctioned-app-consents", []string{"oauth-consent"}, planSanctionedAppConsents},
	{"routine-role-grants", []string{"privileged-role-assignment", "unusual-admin-activity", "activity-spike"}, planRoutineRoleGrants},
	{"helpdesk-mfa-reset", []string{"mfa-change-after-risky-sign-in", "unusual-admin-activity"}, planHelpdeskMFAReset},
	{"new-hire-mfa-setup", []string{"mfa-change-after-risky-sign-in", "new-client-fingerprint", "new-country", "hosting-provider-sign-in", "off-hours-sensitive-access"}, planNewHireMFASetup},
	{"federation-cert-rollover", []string{"federation-changes"}, planFederationCertRollover},
	{"legal-hold-exports", []string{"ediscovery-export", "unusual-admin-activity"}, planLegalHoldExports},
	{"shared-mailbox-grants", []string{"mailbox-permission-grants", "unusual-admin-activity"}, planSharedMailboxGrants},
	{"assistant-delegation", []string{"mailbox-permission-grants", "impersonation-review"}, planAssistantDelegation},
	{"typo-account-fixed", []string{"account-created-deleted", "terminated-user-activity"}, planTypoAccountFixed},
	{"it-software-share", []string{"executable-uploads", "ransomware-pattern"}, planITSoftwareShare},
	{"ci-build-agents", []string{"cloud-resource-abuse", "activity-spike", "unusual-admin-activity", "admin-untrusted-ip"}, planCIBuildAgents},
	{"friday-mailbox-cleanup", []string{"mailbox-activity-spike"}, planFridayMailboxCleanup},
	{"developer-jump-host", []string{"hosting-provider-sign-in", "new-client-fingerprint"}, planDeveloperJumpHost},
	{"night-shift-payroll", []string{"off-hours-sensitive-access", "activity-spike"}, planNightShiftPayroll},
}

// lookalikeKind registers one look-alike's planner with the investigations it resembles.
type lookalikeKind struct {
	kind  string
	fools []string
	plan  lookalikePlanner
}

// LookalikeKinds lists the look-alikes a tenant with them gets, in the order they are planted.
var LookalikeKinds = func() []string {
	var names []string
	for _, k := range append(slices.Clone(lookalikeKinds), laterLookalikeKinds...) {
		names = append(names, k.kind)
	}
	return names
}()

// setupLookalikes runs every look-alike planner of lookalikeKinds; their records are emitted
// after the baseline. The ordinary users they claim stay claimed for setupLaterLookalikes.
func (t *Tenant) setupLookalikes() []*plan {
	t.claimed = make([]bool, t.cfg.Users)
	return t.runLookalikes(t.rng(0x100CA11E), lookalikeKinds, 0x100CA11E00)
}

// setupLaterLookalikes runs the planners of laterLookalikeKinds, each with a stream of its own.
func (t *Tenant) setupLaterLookalikes() []*plan {
	return t.runLookalikes(t.rng(0x1A7E100CA), laterLookalikeKinds, 0x1A7E100CA00)
}

func (t *Tenant) runLookalikes(r *rand.Rand, kinds []lookalikeKind, streams uint64) []*plan {
	var out []*plan
	for k, lk := range kinds {
		l := &plan{t: t, kind: lk.kind, fools: lk.fools, detail: map[string]any{}, r: t.rng(streams + uint64(k))}
		if !lk.plan(t, r, l) {
			continue
		}
		if l.emit == nil || len(l.users) == 0 || l.detail["note"] == nil {
			panic(fmt.Sprintf("synth: the look-alike planner of %s leaves its users, note or emit unset", lk.kind))
		}
		out = append(out, l)
	}
	return out
}

// pick claims a random ordinary user for which ok holds and no other look-alike holds, and
// returns its index, or -1 when there is none.
func (t *Tenant) pick(r *rand.Rand, ok func(u *user) bool) int {
	n := t.cfg.Users
	start := r.IntN(n)
	for k := 0; k < n; k++ {
		i := (start + k) % n
		if !t.claimed[i] && ok(&t.users[i]) {
			t.claimed[i] = true
			return i
		}
	}
	return -1
}

// routineUser claims a homebody for look-alike l, notes what it is and gives them the routine;
// it returns the user's index, or -1 when there is none.
func (t *Tenant) routineUser(r *rand.Rand, l *plan, note string, routine func(t *Tenant, ui int, r *rand.Rand, day dayInfo)) int {
	ui := t.pick(r, homebody)
	if ui >= 0 {
		l.users = []int{ui}
		l.detail["note"] = note
		t.users[ui].routine = routine
	}
	return ui
}

// homebody is an ordinary user who neither travels nor administers: a plain office worker.
func homebody(u *user) bool { return !u.admin && !u.offboarder && len(u.trips) == 0 }

// offboarder is the ordinary admin who deletes leavers' accounts, or -1.
func (t *Tenant) offboarder() int {
	for i := 0; i < t.cfg.Users; i++ {
		if t.users[i].offboarder {
			return i
		}
	}
	return -1
}

// firstDay is the UTC midnight on or before the start of the data: day 0 of dayInfo.index.
func (t *Tenant) firstDay() int64 { return t.start - t.start%dayMS }

// recentDays are the day indexes wholly inside the last 7 days (the window the look-alikes show
// in), up to the day before End.
func (t *Tenant) recentDays() (from, to int) {
	from = int((max(t.end-windowDays*dayMS, t.start)-t.firstDay())/dayMS) + 1
	to = int((t.end-t.firstDay())/dayMS) - 1
	return from, max(from, to)
}

// workday is a random working day of user ui at home, between day indexes from and to (both
// included), or false when there is none.
func (t *Tenant) workday(r *rand.Rand, ui, from, to int) (dayInfo, bool) {
	u := &t.users[ui]
	n := to - from + 1
	if n <= 0 {
		return dayInfo{}, false
	}
	start := r.IntN(n)
	for k := 0; k < n; k++ {
		d := from + (start+k)%n
		if pl, _ := u.where(d); pl != -1 {
			continue
		}
		if day := localDay(t.firstDay(), d, offices[u.office]); !day.weekend {
			return day, true
		}
	}
	return dayInfo{}, false
}

// recentFrom is the first day index wholly inside the last 7 days.
func (t *Tenant) recentFrom() int {
	from, _ := t.recentDays()
	return from
}

// recentWorkday is a random working day of user ui at home in the last 7 days.
func (t *Tenant) recentWorkday(r *rand.Rand, ui int) (dayInfo, bool) {
	from, to := t.recentDays()
	return t.workday(r, ui, from, to)
}

// markRecent adds the baseline records of the last 7 days for which keep holds to the
// look-alike: they are kept whole (no quirks, never late, never trimmed) and listed in the truth.
func (p *plan) markRecent(keep func(e *rawEvent) bool) {
	since := p.t.end - windowDays*dayMS
	for i := range p.t.events {
		if e := &p.t.events[i]; e.ts >= since && keep(e) {
			p.markEvent(e)
		}
	}
}

// markFirst adds, for each of the look-alike's users, the first baseline record for which keep
// holds.
func (p *plan) markFirst(keep func(e *rawEvent) bool) {
	first := map[int32]int{}
	for i := range p.t.events {
		e := &p.t.events[i]
		if !keep(e) {
			continue
		}
		if j, ok := first[e.user]; !ok || e.ts < p.t.events[j].ts {
			first[e.user] = i
		}
	}
	idx := make([]int, 0, len(first))
	for _, i := range first {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		p.markEvent(&p.t.events[i])
	}
}

func (p *plan) markEvent(e *rawEvent) {
	e.flags |= flagPlant
	p.serials = append(p.serials, e.serial)
	if !slices.Contains(p.ips, e.ip) {
		p.ips = append(p.ips, e.ip)
	}
}

// isUser reports whether the event is by one of the users.
func isUser(e *rawEvent, users ...int) bool {
	return slices.Contains(users, int(e.user))
}

func (p *plan) lookalike(t *Tenant, pos map[uint32]int) Lookalike {
	return Lookalike{Kind: p.kind, Fools: p.fools, Planted: p.incident(t, pos).Planted}
}

// displayLastFirst is "Last, First" from "First Last", as address books show names.
func displayLastFirst(display string) string {
	first, last, ok := strings.Cut(display, " ")
	if !ok {
		return display
	}
	return last + ", " + first
}

// laterUser adds an ordinary user of the look-alikes of laterLookalikeKinds (after every other
// user, so nothing before changes): an ordinary baseline life at office, and whatever the planner
// gives them.
func (t *Tenant) laterUser(r *rand.Rand, office int) int {
	t.users = append(t.users, t.newUser(r, office, t.taken))
	return len(t.users) - 1
}

// laterAdmin is laterUser made an administrator with the given routine operations (round robin
// from the office or the VPN on working days, PowerShell for the mailbox ones).
func (t *Tenant) laterAdmin(r *rand.Rand, office int, adminOps ...uint16) int {
	ui := t.laterUser(r, office)
	u := &t.users[ui]
	u.admin, u.adminOps, u.extraUA = true, adminOps, uaPowerShell
	return ui
}

// desktopUAAt is the desktop browser user ui has at ts (the rollout's version once it reached them).
func (t *Tenant) desktopUAAt(ui int, ts int64) uint8 {
	u := &t.users[ui]
	if u.rollAt != 0 && ts >= u.rollAt {
		return rolledOut(u.desktopUA)
	}
	return u.desktopUA
}

// workdaysBefore returns n working days of user ui at home, one in each of n equal parts of the
// days from warmupDays to the day before the window, or fewer when there are none.
func (t *Tenant) workdaysBefore(r *rand.Rand, ui, n int) []dayInfo {
	from, _ := t.recentDays()
	var out []dayInfo
	span := from - 1 - warmupDays
	for k := 0; k < n; k++ {
		lo := warmupDays + k*span/n
		hi := warmupDays + (k+1)*span/n - 1
		if day, ok := t.workday(r, ui, lo, max(lo, hi)); ok && hi >= lo {
			out = append(out, day)
		}
	}
	return out
}

// weekday is the local weekday of day.
func (d dayInfo) weekday() time.Weekday {
	return time.UnixMilli(d.midnight + 12*hourMS).UTC().Weekday()
}
