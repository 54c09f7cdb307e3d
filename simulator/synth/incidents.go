package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"time"
)

// Kinds lists the 20 investigations, in the order incidents are planted.
var Kinds = []string{"impossible-travel", "new-country", "risky-ip-activity", "failed-login-burst", "password-spray",
	"mass-download", "activity-spike", "mass-share", "mass-delete", "ransomware-pattern", "mail-forwarding",
	"inbox-manipulation-rules", "admin-untrusted-ip", "unusual-admin-activity", "defense-evasion-changes",
	"impersonation-review", "terminated-user-activity", "new-client-fingerprint", "ip-pivot", "user-timeline"}

// plan is one incident or decoy: set up before the baseline (dedicated users, trips, quiet
// periods), emitted after it.
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
	inc := Incident{Kind: p.kind, Decoy: p.decoy, User: t.users[p.users[0]].upn, Detail: p.detail,
		IPs: []string{}, IDs: make([]string, 0, len(idx))}
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

// setupIncidents creates the dedicated users of every plan; their records are emitted after the
// baseline. Incident k starts at slot 2k, its decoy at slot 2k+1; slots are 3.5 h apart on whole
// hours from six days before End, so every plan lies in the last 7 days and ends hours before End.
func (t *Tenant) setupIncidents() []*plan {
	r := t.rng(0x1AC1DE)
	// With fewer days than the window (small test tenants) the slots shrink to fit the span, on
	// 20-minute boundaries so the bucketed plans stay inside their buckets.
	base := max(t.end-6*dayMS, t.start+2*hourMS)
	base -= base % hourMS
	step := min(7*hourMS/2, (t.end-3*hourMS-base)/41)
	step = max(step-step%(20*minMS), 20*minMS)
	slot := func(k int) int64 { return base + int64(k)*step }
	var plans []*plan
	add := func(kind string, decoy bool, k int, emit func(p *plan)) *plan {
		p := &plan{t: t, kind: kind, decoy: decoy, at: slot(k), detail: map[string]any{}, r: t.rng(0x5EED00 + uint64(k)),
			emit: emit}
		plans = append(plans, p)
		return p
	}
	k := 0
	next := func() int { k++; return k - 1 }

	// 1 impossible-travel: New York, then London 50 minutes later (London visited on an earlier trip,
	// so the country and network are not new). Decoy: Frankfurt → Madrid at 870 km/h.
	{
		s := next()
		p := add("impossible-travel", false, s, nil)
		u := t.dedicated(r, offNewYork, p.at)
		lon := t.fixTrip(r, u, 6, 9, plLondon)
		p.users = []int{u}
		km := haversineKM(places[plNewYork], places[plLondon])
		p.detail["note"] = "sign-in from New York, then from London 50 minutes later"
		p.detail["km"], p.detail["kmh"] = math.Round(km), math.Round(km/(50.0/60))
		p.emit = func(p *plan) {
			us := &t.users[u]
			ts := p.rec(u, p.at, opUserLoggedIn, us.home, us.desktopUA, -1, 0)
			p.rec(u, ts+90*secMS, opFileAccessed, us.home, us.desktopUA, -1, 0)
			ts = p.rec(u, ts+50*minMS, opUserLoggedIn, lon, us.desktopUA, -1, 0)
			p.rec(u, ts+60*secMS, opMailItemsAccessed, lon, us.desktopUA, -1, 0)
		}
		d := add("impossible-travel", true, s+1, nil)
		v := t.dedicated(r, offFrankfurt, d.at)
		mad := t.fixTrip(r, v, 8, 11, plMadrid)
		d.users = []int{v}
		km = haversineKM(places[plFrankfurt], places[plMadrid])
		gap := int64(math.Ceil(km/870*3600)) * secMS
		d.detail["note"] = "sign-in from Frankfurt, then from Madrid (visited before) at 870 km/h, under max_kmh=900"
		d.detail["km"], d.detail["kmh"] = math.Round(km), math.Round(km/(float64(gap)/float64(hourMS)))
		d.emit = func(p *plan) {
			us := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, us.home, us.desktopUA, -1, 0)
			p.rec(v, ts+gap, opUserLoggedIn, mad, us.desktopUA, -1, 0)
			p.rec(v, ts+gap+2*minMS, opFileAccessed, mad, us.desktopUA, -1, 0)
		}
	}
	// 2 new-country: activity from Lagos, a country nobody in the tenant ever used. Decoy: Lisbon,
	// visited 3 weeks before the window.
	{
		s := next()
		p := add("new-country", false, 2*s, nil)
		u := t.dedicated(r, offNewYork, p.at)
		p.users = []int{u}
		lagos := t.fixedIP("102.89.34.117", plLagos, "MTN Nigeria", "mtn nigeria communication limited", catNone, false)
		p.detail["note"] = "sign-in and reads from Nigeria (NG), never seen in the tenant"
		p.detail["country"] = "NG"
		p.emit = func(p *plan) {
			us := &t.users[u]
			ts := p.rec(u, p.at, opUserLoggedIn, lagos, us.desktopUA, -1, 0)
			p.rec(u, ts+40*secMS, opFileAccessed, lagos, us.desktopUA, -1, 0)
			p.rec(u, ts+3*minMS, opMailItemsAccessed, lagos, us.desktopUA, -1, 0)
		}
		d := add("new-country", true, 2*s+1, nil)
		v := t.dedicated(r, offLondon, d.at)
		lis := t.fixTrip(r, v, 9, 12, plLisbon)
		d.users = []int{v}
		d.detail["note"] = "activity from Portugal (PT), in the user's 30-day history"
		d.detail["country"] = "PT"
		d.emit = func(p *plan) {
			us := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, lis, us.desktopUA, -1, 0)
			p.rec(v, ts+30*secMS, opFileAccessed, lis, us.desktopUA, -1, 0)
		}
	}
	// From here on, every kind uses slots 2k and 2k+1.
	k = 2
	pair := func(kind string) (*plan, *plan) {
		s := next()
		return add(kind, false, 2*s, nil), add(kind, true, 2*s+1, nil)
	}

	// 3 risky-ip-activity: a Tor exit (anonymous proxy, Risky). Decoy: a cloud-provider address.
	{
		p, d := pair("risky-ip-activity")
		u := t.dedicated(r, offFrankfurt, p.at)
		v := t.dedicated(r, offFrankfurt, d.at)
		p.users, d.users = []int{u}, []int{v}
		tor := t.fixedIP("185.220.101.47", plBerlin, "Tor exit node", "zwiebelfreunde e.v.", catRisky, true)
		aws := t.addIP(ipInfo{addr: "3.64.118.23", place: plFrankfurt, isp: "Amazon Web Services", carrier: "amazon.com%2C inc",
			category: catCloud, tag: "000000290000000000000000"})
		p.detail["note"] = "sign-in and downloads through a Tor exit node (anonymousProxy, category 3 Risky)"
		d.detail["note"] = "sign-in from an AWS address (category 5 Cloud provider, not anonymous)"
		p.emit = func(p *plan) {
			us := &t.users[u]
			ts := p.rec(u, p.at, opUserLoggedIn, tor, us.desktopUA, -1, 0)
			p.rec(u, ts+45*secMS, opFileDownloaded, tor, us.desktopUA, -1, 0)
			p.rec(u, ts+2*minMS, opFileDownloaded, tor, us.desktopUA, -1, 0)
		}
		d.emit = func(p *plan) {
			us := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, aws, us.desktopUA, -1, 0)
			p.rec(v, ts+45*secMS, opFileAccessed, aws, us.desktopUA, -1, 0)
		}
	}
	// 4 failed-login-burst: 15 failures in 3.5 minutes, then success. Decoy: 9 failures in 4 minutes.
	{
		p, d := pair("failed-login-burst")
		u := t.dedicated(r, offNewYork, p.at)
		v := t.dedicated(r, offNewYork, d.at)
		p.users, d.users = []int{u}, []int{v}
		atk := t.addIP(ipInfo{addr: "159.203.77.41", place: plNewYork, isp: "DigitalOcean", carrier: "digitalocean llc",
			category: catCloud, tag: "0000003a0000000000000000"})
		p.detail["note"] = "15 failed sign-ins within 3.5 minutes (threshold: more than 10 in 5), then a success"
		p.detail["fails"] = 15
		d.detail["note"] = "9 failed sign-ins within 4 minutes (threshold: more than 10 in 5), then a success"
		d.detail["fails"] = 9
		p.emit = func(p *plan) {
			us := &t.users[u]
			ts := p.at
			for i := 0; i < 15; i++ {
				p.rec(u, ts, opUserLoginFailed, atk, us.desktopUA, -1, 0)
				ts += 14 * secMS
			}
			p.rec(u, ts+2*minMS, opUserLoggedIn, atk, us.desktopUA, -1, 0)
		}
		d.emit = func(p *plan) {
			us := &t.users[v]
			ts := p.at
			for i := 0; i < 9; i++ {
				p.rec(v, ts, opUserLoginFailed, us.home, us.desktopUA, -1, 0)
				ts += 28 * secMS
			}
			p.rec(v, ts+time.Minute.Milliseconds(), opUserLoggedIn, us.home, us.desktopUA, -1, 0)
		}
	}
	// 5 password-spray: one address fails against 8 accounts within 12 minutes. Decoy: 4 accounts.
	{
		p, d := pair("password-spray")
		for i := 0; i < 8; i++ {
			p.users = append(p.users, t.dedicated(r, i%4, p.at))
		}
		for i := 0; i < 4; i++ {
			d.users = append(d.users, t.dedicated(r, i%4, d.at))
		}
		sp := t.fixedIP("185.81.68.102", plBucharest, "M247 Europe", "m247 europe srl", catOther, false)
		sd := t.fixedIP("185.81.68.231", plBucharest, "M247 Europe", "m247 europe srl", catOther, false)
		p.detail["note"] = "one address fails sign-ins for 8 accounts inside one 20-minute bucket (min_users=5)"
		p.detail["accounts"] = 8
		d.detail["note"] = "one address fails sign-ins for 4 accounts inside one 20-minute bucket (min_users=5)"
		d.detail["accounts"] = 4
		spray := func(ip int32) func(p *plan) {
			return func(p *plan) {
				ts := p.at + 2*minMS
				for _, u := range p.users {
					p.rec(u, ts, opUserLoginFailed, ip, uaPythonRequests, p.t.addSpecial(special{failReason: 50126}), 0)
					ts += 90 * secMS
				}
			}
		}
		p.emit, d.emit = spray(sp), spray(sd)
	}
	// 6 mass-download: 130 downloads in 130 s (peak > 50 per minute). Decoy: 48 downloads 1.3 s apart.
	{
		p, d := pair("mass-download")
		u := t.dedicated(r, offSanFrancisco, p.at)
		v := t.dedicated(r, offSanFrancisco, d.at)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "130 SharePoint downloads in 130 seconds (per_min=50)"
		p.detail["downloads"] = 130
		d.detail["note"] = "48 SharePoint downloads 1.3 s apart: at most 47 in any minute (per_min=50)"
		d.detail["downloads"] = 48
		dl := func(ui, n int, step int64) func(p *plan) {
			return func(p *plan) {
				us := &t.users[ui]
				p.rec(ui, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
				for i := 0; i < n; i++ {
					f := p.t.addSpecial(special{file: fmt.Sprintf("%s %03d.%s", fileWords[i%len(fileWords)], i, fileExts[i%4])})
					p.rec(ui, p.at+30*secMS+int64(i)*step, opFileDownloaded, us.corp, us.desktopUA, f, 0)
				}
			}
		}
		p.emit, d.emit = dl(u, 130, secMS), dl(v, 48, 1300)
		// The decoy downloads a lot every day, so 48 is no activity-spike either.
		t.users[v].heavyOp, t.users[v].heavyN = opFileDownloaded, 35
	}
	// 7 activity-spike: 32 shares in a day by a user who never shares. Decoy: 19 (min_count=20).
	{
		p, d := pair("activity-spike")
		u := t.dedicated(r, offChicago, p.at)
		v := t.dedicated(r, offChicago, d.at)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "32 internal shares spread over 6 hours of one UTC day (z far above 3, n >= 20)"
		p.detail["metric"], p.detail["n"] = "share", 32
		d.detail["note"] = "19 internal shares spread over 6 hours of one UTC day (below min_count=20)"
		d.detail["metric"], d.detail["n"] = "share", 19
		shares := func(ui, n int) func(p *plan) {
			return func(p *plan) {
				us := &t.users[ui]
				day := p.at - p.at%dayMS + 8*hourMS
				if day+7*hourMS > p.t.end {
					day -= dayMS
				}
				p.rec(ui, day, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
				for i := 0; i < n; i++ {
					s := p.t.addSpecial(special{objects: []string{p.t.users[(ui+i+1)%p.t.cfg.Users].upn}})
					p.rec(ui, day+2*minMS+int64(i)*6*hourMS/int64(n), opSharingSet, us.corp, us.desktopUA, s, 0)
				}
			}
		}
		p.emit, d.emit = shares(u, 32), shares(v, 19)
	}
	// 8 mass-share: three 10-minute buckets of 14 external shares. Decoy: 12 then 7 (one hot bucket).
	{
		p, d := pair("mass-share")
		u := t.dedicated(r, offLondon, p.at)
		v := t.dedicated(r, offLondon, d.at)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "3 ten-minute buckets with 14 shares each, anonymous links and external recipients (per_window=10, min_windows=2)"
		p.detail["hotWindows"] = 3
		d.detail["note"] = "one bucket of 12 shares, the next of 7: one hot window (min_windows=2), 19 shares in the day"
		d.detail["hotWindows"] = 1
		ext := []string{"gmail.com", "outlook.com", "yahoo.com", "proton.me"}
		burst := func(ui int, sizes []int) func(p *plan) {
			return func(p *plan) {
				us := &t.users[ui]
				p.rec(ui, p.at, opUserLoggedIn, us.home, us.desktopUA, -1, 0)
				for b, n := range sizes {
					for i := 0; i < n; i++ {
						op := uint16(opSharingInvitationCreated)
						if i%3 == 0 {
							op = opAnonymousLinkCreated
						}
						who := fmt.Sprintf("%s.%d@%s", asciiLocal(lastNames[(i*7+b)%len(lastNames)]), 10+i+b*20, ext[i%len(ext)])
						s := p.t.addSpecial(special{objects: []string{who}})
						p.rec(ui, p.at+int64(b)*10*minMS+30*secMS+int64(i)*35*secMS, op, us.home, us.desktopUA, s, 0)
					}
				}
			}
		}
		p.emit, d.emit = burst(u, []int{14, 14, 14}), burst(v, []int{12, 7})
	}
	// 9 mass-delete: four 5-minute buckets of 60 deletes. Decoy: two such buckets (min_buckets=3).
	{
		p, d := pair("mass-delete")
		u := t.dedicated(r, offFrankfurt, p.at)
		v := t.dedicated(r, offFrankfurt, d.at)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "4 five-minute buckets of 60 SharePoint deletes (per_bucket=50, min_buckets=3)"
		p.detail["hotBuckets"] = 4
		d.detail["note"] = "2 five-minute buckets of 60 SharePoint deletes: a one-off cleanup (min_buckets=3)"
		d.detail["hotBuckets"] = 2
		del := func(ui, buckets int) func(p *plan) {
			return func(p *plan) {
				us := &t.users[ui]
				p.rec(ui, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
				for b := 0; b < buckets; b++ {
					for i := 0; i < 60; i++ {
						f := p.t.addSpecial(special{file: fmt.Sprintf("Archive %d-%02d.%s", b, i, fileExts[i%3])})
						p.rec(ui, p.at+int64(b)*5*minMS+5*secMS+int64(i)*4500, opFileDeleted, us.corp, us.desktopUA, f, 0)
					}
				}
			}
		}
		p.emit, d.emit = del(u, 4), del(v, 2)
		// The decoy cleans up every day, so 120 deletes are no activity-spike either.
		t.users[v].heavyOp, t.users[v].heavyN = opFileDeleted, 70
	}
	// 10 ransomware-pattern: 25 files deleted and re-uploaded as .locked in one 10-minute bucket.
	// Decoy: 15 new versions uploaded and 15 old ones deleted (different stems, below min_ops=20).
	{
		p, d := pair("ransomware-pattern")
		u := t.dedicated(r, offParis, p.at)
		v := t.dedicated(r, offParis, d.at)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "25 files deleted and uploaded again as <name>.locked within one 10-minute bucket"
		p.detail["extension"] = "locked"
		d.detail["note"] = "15 uploads of new versions (_v2) and 15 deletes of old ones (_v1): below min_ops=20, no ransom extension"
		p.emit = func(p *plan) {
			us := &t.users[u]
			p.rec(u, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
			for i := 0; i < 25; i++ {
				name := fmt.Sprintf("%s %02d.%s", fileWords[i%20], i, fileExts[i%3])
				ts := p.at + 20*secMS + int64(i)*20*secMS
				p.rec(u, ts, opFileDeleted, us.corp, us.desktopUA, p.t.addSpecial(special{file: name}), 0)
				p.rec(u, ts+10*secMS, opFileUploaded, us.corp, us.desktopUA, p.t.addSpecial(special{file: name + ".locked"}), 0)
			}
		}
		d.emit = func(p *plan) {
			us := &t.users[v]
			p.rec(v, p.at, opUserLoggedIn, us.corp, us.desktopUA, -1, 0)
			for i := 0; i < 15; i++ {
				w := fileWords[i%20]
				ts := p.at + 20*secMS + int64(i)*30*secMS
				p.rec(v, ts, opFileUploaded, us.corp, us.desktopUA, p.t.addSpecial(special{file: fmt.Sprintf("%s_v2.docx", w)}), 0)
				p.rec(v, ts+10*secMS, opFileDeleted, us.corp, us.desktopUA, p.t.addSpecial(special{file: fmt.Sprintf("%s_v1.docx", w)}), 0)
			}
		}
	}
	// 11 mail-forwarding: two mailboxes forward to one external address (a rule and Set-Mailbox).
	// Decoy: a rule forwarding to a colleague (internal; the SQL lists it with external = false).
	{
		p, d := pair("mail-forwarding")
		u := t.dedicated(r, offNewYork, p.at)
		u2 := t.dedicated(r, offNewYork, p.at)
		v := t.dedicated(r, offNewYork, d.at)
		p.users, d.users = []int{u, u2}, []int{v}
		const dest = "j.collector@proton.me"
		colleague := t.users[0].upn
		p.detail["note"] = "two mailboxes forward to one external address: a forwarding inbox rule and Set-Mailbox ForwardingSmtpAddress"
		p.detail["destination"] = dest
		d.detail["note"] = "an inbox rule forwarding to an internal colleague"
		d.detail["destination"] = colleague
		p.emit = func(p *plan) {
			a, b := &t.users[u], &t.users[u2]
			ts := p.rec(u, p.at, opUserLoggedIn, a.home, a.desktopUA, -1, 0)
			p.rec(u, ts+2*minMS, opNewInboxRule, a.home, a.desktopUA, p.t.addSpecial(special{params: [][2]string{
				{"Name", "Sync"}, {"ForwardTo", dest}, {"StopProcessingRules", "False"}}}), 0)
			ts = p.rec(u2, p.at+40*minMS, opUserLoggedIn, b.home, b.desktopUA, -1, 0)
			p.rec(u2, ts+3*minMS, opSetMailbox, b.home, b.desktopUA, p.t.addSpecial(special{params: [][2]string{
				{"Identity", b.upn}, {"ForwardingSmtpAddress", "smtp:" + dest}, {"DeliverToMailboxAndForward", "True"}}}), 0)
		}
		d.emit = func(p *plan) {
			c := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
			p.rec(v, ts+2*minMS, opNewInboxRule, c.corp, c.desktopUA, p.t.addSpecial(special{params: [][2]string{
				{"Name", "Vacation cover"}, {"ForwardTo", colleague}, {"StopProcessingRules", "False"}}}), 0)
		}
	}
	// 12 inbox-manipulation-rules: rule "." hiding invoice/payment mail in RSS Feeds, marked read.
	// Decoy: a newsletter filing rule (score 1, min_score=2).
	{
		p, d := pair("inbox-manipulation-rules")
		u := t.dedicated(r, offLondon, p.at)
		v := t.dedicated(r, offLondon, d.at)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "New-InboxRule named \".\" moving mail with invoice/payment words to RSS Feeds and marking it read (score 7)"
		p.detail["ruleName"] = "."
		d.detail["note"] = "New-InboxRule \"Newsletters\" moving vendor mail to a folder (score 1, min_score=2)"
		d.detail["ruleName"] = "Newsletters"
		p.emit = func(p *plan) {
			c := &t.users[u]
			ts := p.rec(u, p.at, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
			p.rec(u, ts+90*secMS, opNewInboxRule, c.home, c.desktopUA, p.t.addSpecial(special{params: [][2]string{
				{"Name", "."}, {"SubjectOrBodyContainsWords", "invoice;payment;wire transfer"}, {"MoveToFolder", "RSS Feeds"},
				{"MarkAsRead", "True"}, {"StopProcessingRules", "True"}}}), 0)
		}
		d.emit = func(p *plan) {
			c := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
			p.rec(v, ts+90*secMS, opNewInboxRule, c.corp, c.desktopUA, p.t.addSpecial(special{params: [][2]string{
				{"Name", "Newsletters"}, {"From", "news@vendor.example"}, {"MoveToFolder", "Newsletters"}}}), 0)
		}
	}
	// 13 admin-untrusted-ip: an admin's routine operations from a home broadband address. Decoy:
	// the same from the corporate VPN.
	{
		p, d := pair("admin-untrusted-ip")
		u := t.dedicatedAdmin(r, offNewYork, p.at, opUpdateUser, opResetPassword, opUpdateGroup)
		v := t.dedicatedAdmin(r, offNewYork, d.at, opUpdateUser, opResetPassword, opUpdateGroup)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "routine admin operations from a home broadband address (no IP category, not a trusted prefix)"
		d.detail["note"] = "the same operations from the corporate VPN (category 4, trusted)"
		adm := func(ui int, vpn bool) func(p *plan) {
			return func(p *plan) {
				c := &t.users[ui]
				ip := c.home
				if vpn {
					ip = c.vpn
				}
				ts := p.rec(ui, p.at, opUserLoggedIn, ip, c.desktopUA, -1, 0)
				for i, op := range []uint16{opUpdateUser, opResetPassword, opUpdateUser} {
					tgt := p.t.users[(ui*7+i)%p.t.cfg.Users]
					s := p.t.addSpecial(special{objects: []string{tgt.upn, tgt.display}})
					p.rec(ui, ts+int64(i+1)*3*minMS, op, ip, c.desktopUA, s, flagAdmin)
				}
			}
		}
		p.emit, d.emit = adm(u, false), adm(v, true)
	}
	// 14 unusual-admin-activity: a user who never administered adds themself to a role. Decoy: an
	// admin's routine operation.
	{
		p, d := pair("unusual-admin-activity")
		u := t.dedicated(r, offChicago, p.at)
		v := t.dedicatedAdmin(r, offChicago, d.at, opUpdateUser, opUpdateGroup)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "first-time admin: \"Add member to role.\" (Global Administrator) by a user with no admin history"
		p.detail["operation"] = "Add member to role."
		d.detail["note"] = "an admin's routine \"Update user.\", done throughout the baseline"
		d.detail["operation"] = "Update user."
		p.emit = func(p *plan) {
			c := &t.users[u]
			ts := p.rec(u, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
			s := p.t.addSpecial(special{objects: []string{c.upn, "Global Administrator"}})
			p.rec(u, ts+4*minMS, opAddMemberToRole, c.corp, c.desktopUA, s, flagAdmin)
		}
		d.emit = func(p *plan) {
			c := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
			tgt := p.t.users[5]
			p.rec(v, ts+4*minMS, opUpdateUser, c.corp, c.desktopUA, p.t.addSpecial(special{objects: []string{tgt.upn, tgt.display}}), flagAdmin)
		}
	}
	// 15 defense-evasion-changes: admin audit logging switched off. Decoy: the same cmdlet keeping it on.
	{
		p, d := pair("defense-evasion-changes")
		u := t.dedicatedAdmin(r, offNewYork, p.at, opSetAdminAuditLogConfig, opUpdateUser, opSetMailbox)
		v := t.dedicatedAdmin(r, offNewYork, d.at, opSetAdminAuditLogConfig, opUpdateUser, opSetMailbox)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "Set-AdminAuditLogConfig -AdminAuditLogEnabled False"
		d.detail["note"] = "Set-AdminAuditLogConfig -AdminAuditLogEnabled True (and a longer age limit)"
		audit := func(ui int, val string) func(p *plan) {
			return func(p *plan) {
				c := &t.users[ui]
				ts := p.rec(ui, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
				s := p.t.addSpecial(special{params: [][2]string{{"AdminAuditLogEnabled", val}, {"AdminAuditLogAgeLimit", "365.00:00:00"}}})
				p.rec(ui, ts+5*minMS, opSetAdminAuditLogConfig, c.corp, uaPowerShell, s, flagAdmin)
			}
		}
		p.emit, d.emit = audit(u, "False"), audit(v, "True")
	}
	// 16 impersonation-review: a delegate reads another mailbox (LogonType 2) for the first time.
	// Decoy: delegate-type access to one's own mailbox (actor = owner).
	{
		p, d := pair("impersonation-review")
		u := t.dedicated(r, offNewYork, p.at)
		owner := t.dedicated(r, offNewYork, p.at)
		v := t.dedicated(r, offNewYork, d.at)
		p.users, d.users = []int{u, owner}, []int{v}
		p.detail["note"] = "12 MailItemsAccessed on another user's mailbox as delegate (LogonType 2), a new actor→target pair"
		p.detail["target"] = t.users[owner].upn
		d.detail["note"] = "MailItemsAccessed with LogonType 2 on the actor's own mailbox (actor = target)"
		d.detail["target"] = t.users[v].upn
		imp := func(ui, n int, target *int) func(p *plan) {
			return func(p *plan) {
				c := &t.users[ui]
				tgt := t.users[*target].upn
				ts := p.rec(ui, p.at, opUserLoggedIn, c.corp, c.desktopUA, -1, 0)
				for i := 0; i < n; i++ {
					s := p.t.addSpecial(special{owner: tgt, logonType: 2})
					p.rec(ui, ts+int64(i+1)*4*minMS, opMailItemsAccessed, c.corp, c.desktopUA, s, 0)
				}
			}
		}
		p.emit, d.emit = imp(u, 12, &owner), imp(v, 6, &v)
	}
	// 17 terminated-user-activity: an account is deleted, then signs in and downloads. Decoy: a
	// deleted account that only fails to sign in afterwards.
	{
		p, d := pair("terminated-user-activity")
		adm := t.dedicatedAdmin(r, offSanFrancisco, math.MaxInt64/2, opUpdateUser, opDeleteUser)
		t.users[adm].offboarder = true
		t.users[adm].adminOps = []uint16{opUpdateUser}
		u := t.dedicated(r, offSanFrancisco, p.at)
		v := t.dedicated(r, offSanFrancisco, d.at)
		p.users, d.users = []int{u, adm}, []int{v, adm}
		p.detail["note"] = "\"Delete user.\" of the account, then a sign-in and downloads by it 2 hours later"
		p.detail["deletedBy"] = t.users[adm].upn
		d.detail["note"] = "\"Delete user.\" of the account, then only failed sign-ins by it (excluded: login_fail)"
		d.detail["deletedBy"] = t.users[adm].upn
		del := func(ui int, after func(p *plan, ts int64)) func(p *plan) {
			return func(p *plan) {
				a, c := &t.users[adm], &t.users[ui]
				s := p.t.addSpecial(special{objects: []string{c.upn, c.display}})
				p.rec(adm, p.at, opDeleteUser, a.corp, a.desktopUA, s, flagAdmin)
				after(p, p.at+2*hourMS)
			}
		}
		p.emit = del(u, func(p *plan, ts int64) {
			c := &t.users[u]
			ts = p.rec(u, ts, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
			for i := 0; i < 3; i++ {
				p.rec(u, ts+int64(i+1)*minMS, opFileDownloaded, c.home, c.desktopUA, -1, 0)
			}
		})
		d.emit = del(v, func(p *plan, ts int64) {
			c := &t.users[v]
			for i := 0; i < 3; i++ {
				p.rec(v, ts+int64(i)*2*minMS, opUserLoginFailed, c.home, c.desktopUA, p.t.addSpecial(special{failReason: 50034}), 0)
			}
		})
	}
	// 18 new-client-fingerprint: python-requests from a new hosting address, then 6 downloads.
	// Decoy: a browser upgrade (new user agent) with 3 downloads (min_file_ops=5, not a tool).
	{
		p, d := pair("new-client-fingerprint")
		u := t.dedicated(r, offNewYork, p.at)
		v := t.dedicated(r, offNewYork, d.at)
		p.users, d.users = []int{u}, []int{v}
		do := t.addIP(ipInfo{addr: "159.203.77.42", place: plNewYork, isp: "DigitalOcean", carrier: "digitalocean llc",
			category: catCloud, tag: "0000003a0000000000000000"})
		p.detail["note"] = "sign-in with python-requests from a new DigitalOcean address, then 6 downloads"
		p.detail["userAgent"] = userAgents[uaPythonRequests].raw
		d.detail["note"] = "a new browser version (Chrome 132) from the usual home address, 3 downloads"
		d.detail["userAgent"] = userAgents[uaChromeWinNew].raw
		p.emit = func(p *plan) {
			ts := p.rec(u, p.at, opUserLoggedIn, do, uaPythonRequests, -1, 0)
			for i := 0; i < 6; i++ {
				p.rec(u, ts+int64(i+1)*20*secMS, opFileDownloaded, do, uaPythonRequests, -1, 0)
			}
		}
		d.emit = func(p *plan) {
			c := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, c.home, uaChromeWinNew, -1, 0)
			for i := 0; i < 3; i++ {
				p.rec(v, ts+int64(i+1)*2*minMS, opFileDownloaded, c.home, uaChromeWinNew, -1, 0)
			}
		}
	}
	// 19 ip-pivot: one hosting address used by three accounts. Decoy: an address used by one only.
	{
		p, d := pair("ip-pivot")
		for i := 0; i < 3; i++ {
			p.users = append(p.users, t.dedicated(r, offNewYork, p.at))
		}
		v := t.dedicated(r, offNewYork, d.at)
		d.users = []int{v}
		pv := t.fixedIP("45.77.152.9", plNewark, "Choopa, LLC", "the constant company%2C llc", catOther, false)
		solo := t.fixedIP("45.77.152.200", plNewark, "Choopa, LLC", "the constant company%2C llc", catOther, false)
		p.detail["note"] = "three accounts sign in and read files from one hosting address; pivot on it finds all three"
		p.detail["seedIP"], p.detail["usersOnIP"] = "45.77.152.9", 3
		d.detail["note"] = "one account alone on a hosting address; pivot on it finds no one else"
		d.detail["seedIP"], d.detail["usersOnIP"] = "45.77.152.200", 1
		p.emit = func(p *plan) {
			for i, ui := range p.users {
				c := &t.users[ui]
				ts := p.rec(ui, p.at+int64(i)*40*minMS, opUserLoggedIn, pv, c.desktopUA, -1, 0)
				p.rec(ui, ts+time.Minute.Milliseconds(), opFileAccessed, pv, c.desktopUA, -1, 0)
				p.rec(ui, ts+2*minMS, opFileDownloaded, pv, c.desktopUA, -1, 0)
			}
		}
		d.emit = func(p *plan) {
			c := &t.users[v]
			ts := p.rec(v, p.at, opUserLoggedIn, solo, c.desktopUA, -1, 0)
			p.rec(v, ts+time.Minute.Milliseconds(), opFileAccessed, solo, c.desktopUA, -1, 0)
		}
	}
	// 20 user-timeline: a night session (02:00–03:00 UTC) of HR downloads and a Box upload. Decoy:
	// the same volume in office hours from the office.
	{
		p, d := pair("user-timeline")
		u := t.dedicated(r, offLondon, p.at)
		v := t.dedicated(r, offLondon, d.at)
		p.users, d.users = []int{u}, []int{v}
		p.detail["note"] = "night session 02:00–03:00 UTC (London): 12 HR downloads, then an upload to Box"
		d.detail["note"] = "the same volume at 14:00 UTC from the office"
		story := func(ui int, hour int64, home bool) func(p *plan) {
			return func(p *plan) {
				c := &t.users[ui]
				ip := c.corp
				if home {
					ip = c.home
				}
				ts := p.at - p.at%dayMS + hour*hourMS
				if ts < p.at {
					ts += dayMS
				}
				if ts > p.t.end-3*hourMS {
					ts -= dayMS
				}
				ts = p.rec(ui, ts, opUserLoggedIn, ip, c.desktopUA, -1, 0)
				for i := 0; i < 12; i++ {
					f := p.t.addSpecial(special{file: fmt.Sprintf("HR Salaries %d.xlsx", 2014+i)})
					p.rec(ui, ts+int64(i+1)*40*secMS, opFileDownloaded, ip, c.desktopUA, f, 0)
				}
				p.rec(ui, ts+15*minMS, opBoxLogin, ip, c.desktopUA, -1, 0)
				p.rec(ui, ts+16*minMS, opBoxUpload, ip, c.desktopUA, p.t.addSpecial(special{file: "hr-export.zip"}), 0)
			}
		}
		p.emit, d.emit = story(u, 2, true), story(v, 14, false)
		// The night session may move to the next day: keep the users quiet from a day before.
		t.users[u].quietFrom -= dayMS
		t.users[v].quietFrom -= dayMS
	}
	return plans
}
