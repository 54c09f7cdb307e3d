package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// planner sets up one investigation's incident p and its near-miss decoy d before the baseline
// is generated: their dedicated users, trips, addresses and truth details, and each plan's emit,
// which plants the records after the baseline. r is the one stream all planners share, so what a
// planner draws from it, and in which order, is part of the data of every seed.
type planner func(t *Tenant, r *rand.Rand, p, d *plan)

// kindPlan registers one investigation's planner under its name.
type kindPlan struct {
	kind string
	plan planner
}

// incidentKinds registers one planner per investigation (incident_<kind>.go), in planting order:
// the k-th kind's incident sits on slot 2k and its decoy on 2k+1. A new kind goes at the end, so
// the plans before it keep their slots; docs/simulator-data.md says how to add one.
var incidentKinds = []kindPlan{
	{"impossible-travel", planImpossibleTravel},
	{"new-country", planNewCountry},
	{"risky-ip-activity", planRiskyIPActivity},
	{"failed-login-burst", planFailedLoginBurst},
	{"password-spray", planPasswordSpray},
	{"mass-download", planMassDownload},
	{"activity-spike", planActivitySpike},
	{"mass-share", planMassShare},
	{"mass-delete", planMassDelete},
	{"ransomware-pattern", planRansomwarePattern},
	{"mail-forwarding", planMailForwarding},
	{"inbox-manipulation-rules", planInboxManipulationRules},
	{"admin-untrusted-ip", planAdminUntrustedIP},
	{"unusual-admin-activity", planUnusualAdminActivity},
	{"defense-evasion-changes", planDefenseEvasionChanges},
	{"impersonation-review", planImpersonationReview},
	{"terminated-user-activity", planTerminatedUserActivity},
	{"new-client-fingerprint", planNewClientFingerprint},
	{"ip-pivot", planIPPivot},
	{"user-timeline", planUserTimeline},
}

// laterIncidentKinds are the kinds added after the look-alikes existed (one planner each in
// incident_<kind>.go too). They are planted after the look-alikes, on dedicated users added after
// every other user, their records numbered after all others (New): adding them changed no record
// of the kinds above, of the look-alikes or of the baseline (TestEarlierKindsUnchanged). The k-th
// kind's incident sits half a slot after slot 2k, its decoy half a slot after slot 2k+1. A new
// kind goes at the end of this list.
var laterIncidentKinds = []kindPlan{
	{"oauth-consent", planOAuthConsent},
	{"privileged-role-assignment", planPrivilegedRoleAssignment},
	{"mfa-change-after-risky-sign-in", planMFAChangeAfterRiskySignIn},
	{"federation-changes", planFederationChanges},
	{"ediscovery-export", planEDiscoveryExport},
	{"mailbox-permission-grants", planMailboxPermissionGrants},
	{"account-created-deleted", planAccountCreatedDeleted},
	{"executable-uploads", planExecutableUploads},
	{"cloud-resource-abuse", planCloudResourceAbuse},
	{"mailbox-activity-spike", planMailboxActivitySpike},
	{"hosting-provider-sign-in", planHostingProviderSignIn},
	{"off-hours-sensitive-access", planOffHoursSensitiveAccess},
}

// Kinds lists the investigations that get an incident and a decoy, in the order they are planted.
var Kinds = kindNames()

func kindNames() []string {
	var names []string
	for _, k := range incidentKinds {
		names = append(names, k.kind)
	}
	for _, k := range laterIncidentKinds {
		names = append(names, k.kind)
	}
	return names
}

// plan is one incident, decoy or look-alike: set up before the baseline (dedicated users, trips,
// quiet periods, routines), emitted after it.
type plan struct {
	t       *Tenant
	kind    string
	decoy   bool
	at      int64 // planned start (ms)
	users   []int
	serials []uint32
	ips     []int32
	detail  map[string]any
	r       *rand.Rand
	emit    func(p *plan)
	fools   []string // a look-alike's: the investigations it resembles (lookalikes.go)
}

// rec emits one planted record for user ui and remembers it.
func (p *plan) rec(ui int, ts int64, op uint16, ip int32, ua uint8, spec int32, flags uint8) int64 {
	// Keep planted records inside the span and visible at End, whatever the span.
	ts = min(max(ts, p.t.start), p.t.end-6*minMS)
	i := p.t.emit(ui, ts, op, ip, ua, spec, flags|flagPlant, p.r)
	e := &p.t.events[i]
	p.serials = append(p.serials, e.serial)
	if !slices.Contains(p.ips, ip) {
		p.ips = append(p.ips, ip)
	}
	return e.ts
}

func (p *plan) incident(t *Tenant, pos map[uint32]int) Incident {
	idx := make([]int, 0, len(p.serials))
	for _, s := range p.serials {
		idx = append(idx, pos[s])
	}
	slices.Sort(idx)
	inc := Incident{Kind: p.kind, Decoy: p.decoy, Planted: Planted{User: t.users[p.users[0]].upn, Detail: p.detail,
		IPs: []string{}, IDs: make([]string, 0, len(idx))}}
	if len(p.users) > 1 {
		for _, u := range p.users {
			inc.Users = append(inc.Users, t.users[u].upn)
		}
	}
	for _, ip := range p.ips {
		inc.IPs = append(inc.IPs, t.ips[ip].addr)
	}
	for _, i := range idx {
		inc.IDs = append(inc.IDs, t.acts[i].ID)
	}
	if len(idx) > 0 {
		inc.Start = time.UnixMilli(t.acts[idx[0]].Timestamp).UTC()
		inc.End = time.UnixMilli(t.acts[idx[len(idx)-1]].Timestamp).UTC()
	}
	return inc
}

// Office indexes (into offices).
const (
	offNewYork = iota
	offSanFrancisco
	offChicago
	offLondon
	offFrankfurt
	offParis
	offSingapore
	offToronto
)

// dedicated adds a user who exists only for one plan: ordinary baseline life, no random failed
// sign-ins, no travel unless given, and silence from 24 h before the plan on.
func (t *Tenant) dedicated(r *rand.Rand, office int, at int64) int {
	u := t.newUser(r, office, t.taken)
	u.noFails = true
	u.cloud = -1
	u.apps = nil
	u.quietFrom = at - 24*hourMS
	t.users = append(t.users, u)
	return len(t.users) - 1
}

// dedicatedPair adds one dedicated user in office for the incident p and one for its decoy d, and
// makes each its plan's only user.
func (t *Tenant) dedicatedPair(r *rand.Rand, office int, p, d *plan) (u, v int) {
	u, v = t.dedicated(r, office, p.at), t.dedicated(r, office, d.at)
	p.users, d.users = []int{u}, []int{v}
	return u, v
}

func (t *Tenant) dedicatedAdmin(r *rand.Rand, office int, at int64, adminOps ...uint16) int {
	ui := t.dedicated(r, office, at)
	u := &t.users[ui]
	u.admin = true
	u.adminOps = adminOps
	u.extraUA = uaPowerShell
	return ui
}

// fixTrip sends a dedicated user on one trip (days from the start of the data).
func (t *Tenant) fixTrip(r *rand.Rand, ui, start, end, pl int) int32 {
	u := &t.users[ui]
	ip := t.hotelIP(r, u, pl)
	u.trips = []trip{{start: start, end: end, place: pl, ip: ip}}
	return ip
}

func haversineKM(a, b place) float64 {
	rad := math.Pi / 180
	dlat := (b.lat - a.lat) * rad / 2
	dlon := (b.lon - a.lon) * rad / 2
	h := math.Sin(dlat)*math.Sin(dlat) + math.Cos(a.lat*rad)*math.Cos(b.lat*rad)*math.Sin(dlon)*math.Sin(dlon)
	return 2 * 6371 * math.Asin(math.Sqrt(h))
}

func (t *Tenant) fixedIP(addr string, pl int, name, carrier string, cat int8, anon bool) int32 {
	return t.addIP(ipInfo{addr: addr, place: pl, isp: name, carrier: carrier, category: cat, anon: anon})
}

// setupIncidents runs every planner; the plans' records are emitted after the baseline. Slot s
// (incident k on 2k, its decoy on 2k+1) starts at base + s·step, with base six days before End on
// a whole hour and step at most 3.5 h, so every plan lies in the last 7 days and ends hours before
// End. Each plan draws its records from its own stream, seeded by its slot.
func (t *Tenant) setupIncidents() []*plan {
	base, step := t.slots()
	newPlan := func(kind string, slot int) *plan {
		return &plan{t: t, kind: kind, decoy: slot%2 == 1, at: base + int64(slot)*step, detail: map[string]any{},
			r: t.rng(0x5EED00 + uint64(slot))}
	}
	return t.runPlanners(t.rng(0x1AC1DE), incidentKinds, newPlan)
}

// setupLaterIncidents runs the planners of laterIncidentKinds: the k-th kind's incident starts
// half a slot after slot 2k, its decoy half a slot after slot 2k+1 (between the plans of the kinds
// before), each with a stream of its own after theirs.
func (t *Tenant) setupLaterIncidents() []*plan {
	base, step := t.slots()
	first := 2 * len(incidentKinds)
	newPlan := func(kind string, slot int) *plan {
		return &plan{t: t, kind: kind, decoy: slot%2 == 1, at: base + int64(slot)*step + step/2, detail: map[string]any{},
			r: t.rng(0x5EED00 + uint64(first+slot))}
	}
	return t.runPlanners(t.rng(0x1A7E2), laterIncidentKinds, newPlan)
}

// slots gives the first slot's time and the step between slots. With fewer days than the window
// (small test tenants) the slots shrink to fit the span, on 20-minute boundaries so the bucketed
// plans stay inside their buckets.
func (t *Tenant) slots() (base, step int64) {
	slots := 2 * len(incidentKinds)
	base = max(t.end-6*dayMS, t.start+2*hourMS)
	base -= base % hourMS
	step = min(7*hourMS/2, (t.end-3*hourMS-base)/int64(slots+1))
	return base, max(step-step%(20*minMS), 20*minMS)
}

// runPlanners runs each kind's planner on its incident (slot 2k) and decoy (slot 2k+1).
func (t *Tenant) runPlanners(r *rand.Rand, kinds []kindPlan, newPlan func(kind string, slot int) *plan) []*plan {
	plans := make([]*plan, 0, 2*len(kinds))
	for k, ik := range kinds {
		p, d := newPlan(ik.kind, 2*k), newPlan(ik.kind, 2*k+1)
		ik.plan(t, r, p, d)
		if p.emit == nil || d.emit == nil {
			panic(fmt.Sprintf("synth: the planner of %s leaves an emit unset", ik.kind))
		}
		plans = append(plans, p, d)
	}
	return plans
}
