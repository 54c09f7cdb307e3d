package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
	"unsafe"
)

const (
	dayMS  = int64(24 * time.Hour / time.Millisecond)
	hourMS = int64(time.Hour / time.Millisecond)
	minMS  = int64(time.Minute / time.Millisecond)
	secMS  = int64(1000)

	// defaultPerUserDay gives ≈ 200k activities for 500 users over 37 days.
	defaultPerUserDay = 10.8

	// windowDays is the recent window in which incidents are planted and in which the baseline
	// avoids anything new (countries, ISPs, user agents, admin operations).
	windowDays = 7

	// warmupDays start the data: nobody travels yet and everyone uses all their networks.
	warmupDays = 6

	// dailyCap bounds each user's daily downloads, uploads, deletes, shares and admin operations
	// in the baseline, below the activity-spike min_count (20) and far below the volume thresholds.
	dailyCap = 15

	// internalDomain is the tenant's mail domain unless Config.Domain names another.
	internalDomain = "contoso.com"
)

// Flags on a record.
const (
	flagLate  uint8 = 1 << iota // created hours after timestamp
	flagLarge                   // a 100 KB+ description
	flagCase                    // rawDataJson keys differing only by case
	flagExtra                   // undocumented extra fields
	flagAdmin                   // eventRouting.adminEvent
	flagPlant                   // part of an incident, decoy or tie burst: no random quirks
)

// user is one account of the synthetic tenant.
type user struct {
	upn, display, objID, tag string
	office                   int   // place index of home and office
	corp, vpn, home, mobile  int32 // ip indexes
	cloud                    int32 // -1 when the user has no cloud automation
	desktopUA, mobileUA      uint8
	extraUA                  int16 // -1 none; e.g. PowerShell for admins, OneDrive sync
	admin                    bool
	adminOps                 []uint16
	trips                    []trip
	apps                     []uint16 // third-party login ops the user uses (Google, Box, ...)
	quietFrom                int64    // baseline stops here (ms); dedicated incident users go quiet before their incident
	noFails                  bool     // no random failed sign-ins (dedicated users)
	offboarder               bool     // deletes leavers' accounts
	adminNext                int      // round-robin position in adminOps
	heavyOp                  uint16
	heavyN                   int // > 0: this many heavyOp records every working day (a heavy, steady user)

	// Look-alikes (lookalikes.go); the zero values change nothing.
	rollAt         int64 // from then on the desktop browser is the next major version (a rollout)
	roams          bool  // abroad, the phone stays on the home carrier: its IP geolocates home
	saasShares     bool  // Google Workspace and Box work includes deletes and shares
	noSessions     bool  // a service account: its routine only, no sessions
	gapFrom, gapTo int64 // no activity in [gapFrom, gapTo): the account was deleted, then restored
	// routine runs on every day the user is at home, before the day's sessions: daily work of
	// the user's own (a script, a conversion job, a helpdesk queue).
	routine func(t *Tenant, ui int, r *rand.Rand, day dayInfo)
}

// dayInfo is one day of a user's life: its index from the first day of the data, the user's
// local midnight (ms) and whether it is a weekend there.
type dayInfo struct {
	index    int
	midnight int64
	weekend  bool
}

// localDay is day d (from firstDay, a UTC midnight) at place pl.
func localDay(firstDay int64, d, pl int) dayInfo {
	midnight := firstDay + int64(d)*dayMS - int64(places[pl].tz)*hourMS
	wd := time.UnixMilli(midnight + 12*hourMS).UTC().Weekday()
	return dayInfo{index: d, midnight: midnight, weekend: wd == time.Saturday || wd == time.Sunday}
}

// at is the time hours after the local midnight.
func (d dayInfo) at(hours float64) int64 { return d.midnight + int64(hours*float64(hourMS)) }

// trip is a stay away from home: days [start, end] (day indexes), with two travel days either side.
type trip struct {
	start, end int
	place      int
	ip         int32
}

// special carries what an incident record needs beyond its op: parameters, objects, overrides.
type special struct {
	params     [][2]string // rawDataJson.Parameters
	objects    []string    // extra mainInfo.eventObjects names (recipients, targets)
	file       string      // file name override
	owner      string      // MailboxOwnerUPN (impersonation)
	logonType  int         // rawDataJson.LogonType
	failReason int         // AAD error code for failed sign-ins (0 = default)
	note       string
	opProps    [][2]string // rawDataJson.OperationProperties of a mailbox audit record (default: a Bind)
	valueFirst bool        // Parameters entries written {"Value":…,"Name":…}: key order is not fixed
	modProps   [][3]string // rawDataJson.ModifiedProperties of a directory record: {Name, OldValue, NewValue}
	region     string      // the cloud region an AWS record names (awsRegion)
}

// rawEvent is a record before sorting; serial fixes its id.
type rawEvent struct {
	ts, created int64
	w0, w1      uint64
	serial      uint32
	user, ip    int32
	special     int32
	op          uint16
	ua          uint8
	flags       uint8
}

// Tenant is a generated tenant: its users, places and activities.
type Tenant struct {
	cfg        Config
	start, end int64
	seed       uint64
	aadTenant  string
	tenantID   int64
	users      []user
	ips        []ipInfo
	specials   []special
	acts       []Activity
	idbuf      []byte
	truth      GroundTruth

	// generation state
	events  []rawEvent
	serial  uint32
	ipIndex map[string]int32
	taken   map[string]bool // local parts in use
	// org is the organisation's name, the first label of Config.Domain (contoso), and orgName
	// the same capitalised (Contoso): the SharePoint host, the Exchange organisation, the ISP
	// of the offices.
	org, orgName string

	fixedSpecials int     // specials made before the baseline (incidents), kept when it is regenerated
	claimed       []bool  // ordinary users a look-alike took (while the look-alikes are set up)
	laterFrom     int     // the first user of the kinds planted after the look-alikes (laterIncidentKinds)
	totalRate     float64 // with Total: the activities per user-day the baseline was generated at
}

// New generates the tenant described by cfg.
func New(cfg Config) *Tenant {
	cfg = withDefaults(cfg)
	t := &Tenant{cfg: cfg, seed: uint64(cfg.Seed), ipIndex: map[string]int32{}}
	t.org, _, _ = strings.Cut(cfg.Domain, ".")
	t.orgName = strings.ToUpper(t.org[:1]) + t.org[1:]
	t.end = cfg.End.UnixMilli()
	t.start = t.end - int64(cfg.Days)*dayMS
	r := t.rng(0xA11CE)
	t.aadTenant = guid(r)
	t.tenantID = 97000000 + int64(r.IntN(999999))
	t.buildUsers()
	var plans, looks, later, laterLooks []*plan
	withLooks := cfg.Lookalikes == LookalikesOn || cfg.Lookalikes == LookalikesWithIncidents && cfg.Incidents
	if cfg.Incidents {
		plans = t.setupIncidents()
	}
	if withLooks {
		looks = t.setupLookalikes()
	}
	// The kinds added after the look-alikes come after everything else: their users are added
	// last, and their baseline and records are generated last, so the records of every kind
	// before them keep their serials, hence their ids and their bytes.
	t.laterFrom = len(t.users)
	if cfg.Incidents {
		later = t.setupLaterIncidents()
	}
	if withLooks {
		laterLooks = t.setupLaterLookalikes()
	}
	t.claimed = nil
	t.fixedSpecials = len(t.specials)
	t.generateBaseline()
	for _, p := range plans {
		p.emit(p)
	}
	for _, l := range looks {
		l.emit(l)
	}
	bursts := t.plantTieBursts()
	t.generateLaterBaseline()
	for _, p := range later {
		p.emit(p)
	}
	for _, l := range laterLooks {
		l.emit(l)
	}
	t.fitTotal()
	t.finish(append(plans, later...), append(looks, laterLooks...), bursts)
	return t
}

func withDefaults(cfg Config) Config {
	if cfg.Users <= 0 {
		cfg.Users = 500
	}
	if cfg.Domain = strings.ToLower(strings.TrimSpace(cfg.Domain)); cfg.Domain == "" || strings.HasPrefix(cfg.Domain, ".") {
		cfg.Domain = internalDomain
	}
	if cfg.SecondDomain == "" {
		cfg.SecondDomain = secondDomain
		if cfg.Domain != internalDomain {
			org, _, _ := strings.Cut(cfg.Domain, ".")
			cfg.SecondDomain = org + "-acquired.com"
		}
	}
	if cfg.Days <= 0 {
		cfg.Days = 37
	}
	if cfg.End.IsZero() {
		cfg.End = time.Now()
	}
	cfg.End = time.UnixMilli(cfg.End.UnixMilli()).UTC()
	if cfg.PerUserDay <= 0 {
		cfg.PerUserDay = defaultPerUserDay
	}
	cfg.LateArrivals = rate(cfg.LateArrivals, 0.01)
	cfg.LargeFields = rate(cfg.LargeFields, 0.00005)
	cfg.CaseCollisions = rate(cfg.CaseCollisions, 0.02)
	cfg.ExtraFields = rate(cfg.ExtraFields, 0.05)
	return cfg
}

func rate(v, def float64) float64 {
	switch {
	case v == 0:
		return def
	case v < 0:
		return 0
	case v > 1:
		return 1
	}
	return v
}

// Config returns the configuration with its defaults filled in.
func (t *Tenant) Config() Config { return t.cfg }

// Start is the oldest time the data spans; End the newest.
func (t *Tenant) Start() time.Time { return time.UnixMilli(t.start).UTC() }

// End is the newest time the data spans.
func (t *Tenant) End() time.Time { return time.UnixMilli(t.end).UTC() }

// Len is the number of activities.
func (t *Tenant) Len() int { return len(t.acts) }

// Activity returns the i-th activity in (Timestamp, ID) order.
func (t *Tenant) Activity(i int) *Activity { return &t.acts[i] }

// GroundTruth returns what was planted.
func (t *Tenant) GroundTruth() GroundTruth { return t.truth }

// Users returns every user principal name, ordinary users first, then dedicated incident users,
// then the look-alikes' service account.
func (t *Tenant) Users() []string {
	out := make([]string, len(t.users))
	for i := range t.users {
		out[i] = t.users[i].upn
	}
	return out
}

// rng returns a generator for one purpose; streams never overlap between purposes.
func (t *Tenant) rng(stream uint64) *rand.Rand {
	return rand.New(rand.NewPCG(t.seed^0x9E3779B97F4A7C15, stream*0xBF58476D1CE4E5B9+1))
}

func mix64(x uint64) uint64 {
	x += 0x9E3779B97F4A7C15
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9
	x = (x ^ (x >> 27)) * 0x94D049BB133111EB
	return x ^ (x >> 31)
}

// idWords are the four 64-bit words of a record's id; word 0 is a bijection of the serial for a
// given seed, so ids never collide.
func (t *Tenant) idWord(serial uint32, j int) uint64 {
	if j == 0 {
		return mix64(t.seed*0xD1B54A32D192ED03 ^ uint64(serial))
	}
	return mix64(mix64(t.seed+uint64(j)*0x632BE59BD9B4E019) ^ uint64(serial)*0x9E3779B97F4A7C15)
}

func guid(r *rand.Rand) string {
	const hx = "0123456789abcdef"
	var b [36]byte
	for i := range b {
		switch i {
		case 8, 13, 18, 23:
			b[i] = '-'
		default:
			b[i] = hx[r.IntN(16)]
		}
	}
	b[14] = '4'
	return string(b[:])
}

// addIP registers an address (idempotent by address).
func (t *Tenant) addIP(ip ipInfo) int32 {
	if i, ok := t.ipIndex[ip.addr]; ok {
		return i
	}
	t.ips = append(t.ips, ip)
	i := int32(len(t.ips) - 1)
	t.ipIndex[ip.addr] = i
	return i
}

func ispAddr(r *rand.Rand, s isp) string {
	return fmt.Sprintf("%d.%d.%d.%d", s.a, s.b, r.IntN(254)+1, r.IntN(253)+2)
}

var cloudByCountry = map[string]struct {
	place int
	a, b  byte
}{
	"US": {plAshburn, 20, 185}, "GB": {plLondon, 51, 140}, "DE": {plFrankfurt, 20, 79}, "FR": {plParis, 20, 74},
	"SG": {plSingapore, 20, 195}, "CA": {plToronto, 20, 151},
}

func (t *Tenant) corpIP(office int) int32 {
	return t.addIP(ipInfo{addr: fmt.Sprintf("198.51.100.%d", 10+office), place: offices[office], isp: t.orgName + " Ltd",
		carrier: t.org + " ltd", category: catCorporate})
}

func (t *Tenant) vpnIP(office int) int32 {
	return t.addIP(ipInfo{addr: fmt.Sprintf("198.51.100.%d", 130+office), place: offices[office], isp: t.orgName + " VPN",
		carrier: t.org + " ltd", category: catVPN})
}

// newUser creates a user at an office (index into offices) with fresh personal IPs.
func (t *Tenant) newUser(r *rand.Rand, office int, taken map[string]bool) user {
	var first, last, local string
	for n := 0; ; n++ {
		first, last = firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		local = asciiLocal(first) + "." + asciiLocal(last)
		if n > 20 {
			local += fmt.Sprint(r.IntN(90) + 10)
		}
		if !taken[local] {
			break
		}
	}
	taken[local] = true
	pl := offices[office]
	country := places[pl].country
	isps := homeISPs[country]
	homeISP := isps[r.IntN(len(isps)-1)]
	mob := isps[len(isps)-1]
	u := user{
		upn: local + "@" + t.cfg.Domain, display: first + " " + last, objID: guid(r),
		tag:    fmt.Sprintf("5f01dbbc68df27c17aa6c%03x", r.IntN(4096)),
		office: office, corp: t.corpIP(office), vpn: t.vpnIP(office), cloud: -1, extraUA: -1,
		quietFrom: math.MaxInt64,
	}
	u.home = t.addIP(ipInfo{addr: ispAddr(r, homeISP), place: pl, isp: homeISP.name, carrier: homeISP.carrier})
	u.mobile = t.addIP(ipInfo{addr: ispAddr(r, mob), place: pl, isp: mob.name, carrier: mob.carrier})
	desk := []uint8{uaChromeWin, uaChromeWin, uaEdgeWin, uaEdgeWin, uaSafariMac, uaFirefoxLinux}
	u.desktopUA = desk[r.IntN(len(desk))]
	if r.IntN(5) == 0 {
		u.mobileUA = uaTeamsAndroid
	} else if r.IntN(6) == 0 {
		u.mobileUA = uaSafariIPad
	} else {
		u.mobileUA = uaOutlookIOS
	}
	if r.IntN(4) == 0 {
		u.extraUA = uaOneDriveSync
	}
	if c, ok := cloudByCountry[country]; ok && r.IntN(10) == 0 {
		u.cloud = t.addIP(ipInfo{addr: fmt.Sprintf("%d.%d.%d.%d", c.a, c.b, r.IntN(254)+1, r.IntN(253)+2), place: c.place,
			isp: "Microsoft Azure", carrier: "microsoft corporation", category: catCloud, tag: "0000002d0000000000000000"})
	}
	for _, o := range []struct {
		op uint16
		p  int
	}{{opGoogleLogin, 6}, {opBoxLogin, 8}, {opSalesforceLogin, 5}} {
		if r.IntN(o.p) == 0 {
			u.apps = append(u.apps, o.op)
		}
	}
	return u
}

func asciiLocal(s string) string {
	repl := strings.NewReplacer("ü", "ue", "ö", "oe", "ä", "ae", "ß", "ss", "é", "e", "è", "e", "ç", "c", "ł", "l", "Ł", "l",
		"ó", "o", "Ó", "o", "ú", "u", "á", "a", "í", "i", "ø", "o", "Ø", "o", "å", "a", "Å", "a", "ễ", "e", "ı", "i", "ğ", "g",
		"ř", "r", "ž", "z", "ñ", "n", "ë", "e", "'", "", " ", "", "Ü", "ue", "Ö", "oe", "ś", "s", "ć", "c", "ą", "a", "ę", "e",
		"ż", "z", "ź", "z", "ń", "n", "ř", "r", "š", "s", "č", "c", "ý", "y", "î", "i")
	s = repl.Replace(s)
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c < 128 && (c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			b.WriteRune(c)
		}
	}
	return b.String()
}

var adminOpPool = []uint16{opUpdateUser, opAddUser, opResetPassword, opUpdateGroup, opSetMailbox, opAzureVMWrite,
	opAzureStorageListKeys, opAWSRunInstances, opAddMemberToRole, opAddMailboxPermission}

func (t *Tenant) buildUsers() {
	r := t.rng(1)
	taken := map[string]bool{}
	t.users = make([]user, 0, t.cfg.Users+64)
	for i := 0; i < t.cfg.Users; i++ {
		u := t.newUser(r, weighted(r, officeWeights), taken)
		if i%20 == 3 { // 5 % admins
			u.admin = true
			perm := r.Perm(len(adminOpPool))
			for _, k := range perm[:4+r.IntN(2)] {
				u.adminOps = append(u.adminOps, adminOpPool[k])
			}
			u.extraUA = uaPowerShell
		}
		if i == 3 {
			u.offboarder = true
		}
		if !u.admin && r.IntN(100) < 15 {
			t.planTrips(r, &u) // admins stay home: their work needs the office or the VPN
		}
		t.users = append(t.users, u)
	}
	t.taken = taken
}

func weighted(r *rand.Rand, w []int) int {
	sum := 0
	for _, x := range w {
		sum += x
	}
	n := r.IntN(sum)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

// planTrips gives a traveller up to three short trips after the warm-up days. Trips in the
// recent window only go back to places visited before it, so nothing is new there; two empty
// travel days either side keep every move slower than 600 km/h.
func (t *Tenant) planTrips(r *rand.Rand, u *user) {
	days := t.cfg.Days
	home := places[offices[u.office]].country
	day := warmupDays + r.IntN(4)
	var visited []int
	for len(u.trips) < 3 && day < days-1 {
		length := 2 + r.IntN(3)
		var pl int
		if day >= days-windowDays-2 {
			if len(visited) == 0 {
				break
			}
			pl = visited[r.IntN(len(visited))]
		} else {
			for {
				pl = tripPlaces[r.IntN(len(tripPlaces))]
				if places[pl].country != home {
					break
				}
			}
		}
		end := min(day+length-1, days)
		u.trips = append(u.trips, trip{start: day, end: end, place: pl, ip: t.hotelIP(r, u, pl)})
		visited = append(visited, pl)
		day = end + 7 + r.IntN(6)
	}
}

// hotelIP is the user's network at a place abroad (the same each visit).
func (t *Tenant) hotelIP(r *rand.Rand, u *user, pl int) int32 {
	for _, tr := range u.trips {
		if tr.place == pl {
			return tr.ip
		}
	}
	s := hotelISP
	if isps, ok := homeISPs[places[pl].country]; ok && r.IntN(2) == 0 {
		s = isps[0]
	}
	return t.addIP(ipInfo{addr: ispAddr(r, s), place: pl, isp: s.name, carrier: s.carrier})
}

// where tells where the user is on a day: the trip place and its IP, or -1 at home, or -2 on
// a travel day (no activity).
func (u *user) where(day int) (int, int32) {
	for _, tr := range u.trips {
		if day >= tr.start && day <= tr.end {
			return tr.place, tr.ip
		}
		if day >= tr.start-2 && day <= tr.end+2 {
			return -2, -1
		}
	}
	return -1, -1
}

// emit appends one record and returns its index in t.events.
func (t *Tenant) emit(u int, ts int64, op uint16, ip int32, ua uint8, spec int32, flags uint8, r *rand.Rand) int {
	if ops[op].st != stLogin && ops[op].st != stFailed && ops[op].st != stAzure && ops[op].st != stSaaS {
		ts -= ts % secMS // O365 audit records carry whole seconds
	}
	created := ts + 170*secMS + r.Int64N(170*secMS)
	s := t.serial
	t.serial++
	t.events = append(t.events, rawEvent{ts: ts, created: created, serial: s, user: int32(u), ip: ip, special: spec,
		op: op, ua: ua, flags: flags})
	return len(t.events) - 1
}

func (t *Tenant) addSpecial(s special) int32 {
	t.specials = append(t.specials, s)
	return int32(len(t.specials) - 1)
}

// metricOf is the activity-spike metric a baseline record counts towards (0 none).
func metricOf(op uint16, admin bool) int {
	if admin {
		return 5
	}
	switch ops[op].category {
	case catDownload:
		return 1
	case catUpload:
		return 2
	case catDelObj:
		return 3
	case catShare:
		return 4
	}
	return 0
}

// workOps are ordinary users' operations with their weights.
var workOps = []struct {
	op uint16
	w  int
}{
	{opFileAccessed, 200}, {opFilePreviewed, 80}, {opFileDownloaded, 60}, {opFileUploaded, 35}, {opFileModified, 80},
	{opFileDeleted, 10}, {opFileRecycled, 8}, {opSharingSet, 12}, {opCompanyLinkCreated, 5}, {opSharingInvitationCreated, 4},
	{opAnonymousLinkCreated, 2}, {opODFileAccessed, 70}, {opODFileDownloaded, 25}, {opODFileUploaded, 20}, {opODFileDeleted, 5},
	{opMailItemsAccessed, 150}, {opSend, 80}, {opMailboxLogin, 10}, {opTeamsMessageSent, 100}, {opTeamsMeetingJoined, 30},
	{opSetInboxRule, 1}, {opNewInboxRule, 1},
}

// appWork are the operations after a third-party sign-in; the first one counts towards no metric.
var appWork = map[uint16][]uint16{
	opGoogleLogin:     {opGoogleView, opGoogleDownload},
	opBoxLogin:        {opBoxPreview, opBoxUpload},
	opSalesforceLogin: {opSalesforceReport},
}

var workWeights = func() []int {
	w := make([]int, len(workOps))
	for i, o := range workOps {
		w[i] = o.w
	}
	return w
}()

// generateBaseline writes the normal life of every user: sessions in office hours with a weekly
// rhythm, sign-ins first, occasional failed sign-ins, bursts, trips, admin work, offboarding.
// It writes the users before laterFrom; generateLaterBaseline writes the others once the earlier
// kinds' records are out.
func (t *Tenant) generateBaseline() {
	if t.cfg.Total <= 0 {
		t.generateBaselineRate(t.cfg.PerUserDay, 0, t.laterFrom)
		return
	}
	// Generate somewhat more than needed and trim in fitTotal; retry richer when short. The
	// earlier users' share of the records is generated here, the later users' at the same rate
	// in generateLaterBaseline.
	need := (t.cfg.Total + t.cfg.Total/50 + 64) * t.laterFrom / len(t.users)
	for mult := 1.0; ; mult *= 1.3 {
		t.events, t.serial, t.specials = t.events[:0], 0, t.specials[:t.fixedSpecials]
		t.totalRate = float64(t.cfg.Total) / float64(len(t.users)*t.cfg.Days) * 1.08 * mult
		t.generateBaselineRate(t.totalRate, 0, t.laterFrom)
		if len(t.events) >= need || t.totalRate > 1e6 {
			return
		}
	}
}

// generateLaterBaseline writes the normal life of the users added after the look-alikes.
func (t *Tenant) generateLaterBaseline() {
	rate := t.cfg.PerUserDay
	if t.cfg.Total > 0 {
		rate = t.totalRate
	}
	t.generateBaselineRate(rate, t.laterFrom, len(t.users))
}

// generateBaselineRate writes the baseline of users [from, to).
func (t *Tenant) generateBaselineRate(perUserDay float64, from, to int) {
	// ≈ 2.2 sessions per user-day; each has a sign-in, some third-party and admin work, and its
	// operations, a quarter more of them through same-second bursts.
	perSession := max((perUserDay/2.2-1.5)/1.25, 0.3)
	firstDay := t.start - t.start%dayMS
	for ui := from; ui < to; ui++ {
		t.userBaseline(ui, firstDay, perSession)
	}
}

func (t *Tenant) userBaseline(ui int, firstDay int64, perSession float64) {
	u := &t.users[ui]
	r := t.rng(1000 + uint64(ui))
	nDays := t.cfg.Days + 1
	counts := make([][6]int, nDays+1)
	warm := 0
	// In the warm-up days every network and client of the user is used in turn, so the
	// 30-day history of each user holds all of them and nothing later looks new.
	type combo struct {
		ip int32
		ua uint8
	}
	combos := []combo{{u.corp, u.desktopUA}, {u.home, u.desktopUA}, {u.vpn, u.desktopUA}, {u.mobile, u.mobileUA}}
	if u.cloud >= 0 {
		combos = append(combos, combo{u.cloud, uaOneDriveSync})
	}
	for d := 0; d <= nDays; d++ {
		pl, tripIP := u.where(d)
		if pl == -2 {
			continue
		}
		atHome := pl == -1
		if atHome {
			pl = offices[u.office]
		}
		day := localDay(firstDay, d, pl)
		localMidnight, weekend := day.midnight, day.weekend
		if u.routine != nil && atHome {
			u.routine(t, ui, r, day)
		}
		if u.noSessions {
			continue
		}
		nSess := 0
		if weekend {
			if r.IntN(4) == 0 {
				nSess = 1
			}
		} else {
			nSess = 1 + poisson(r, 2)
		}
		if u.offboarder && d%4 == 1 && d < nDays-1 && !weekend {
			// Offboarding: delete a leaver's account, from the office.
			ts := localMidnight + 10*hourMS + r.Int64N(6*hourMS)
			t.emitIn(ui, ts, opDeleteUser, u.corp, uaChromeWin, t.addSpecial(special{objects: t.leaverObjects(r)}), flagAdmin, r)
		}
		if u.heavyN > 0 && atHome && !weekend {
			// A steady heavy worker: the volume is spread over the working day, so no minute or
			// bucket is busy, and it is the user's normal, so a busy day is no spike.
			start := localMidnight + 9*hourMS
			for k := 0; k < u.heavyN; k++ {
				t.emitIn(ui, start+int64(k)*8*hourMS/int64(u.heavyN)+r.Int64N(60*secMS), u.heavyOp, u.corp, u.desktopUA, -1, 0, r)
			}
		}
		for s := 0; s < nSess; s++ {
			hour := sessionHour(r, weekend)
			ts := localMidnight + int64(hour*float64(hourMS))
			ip, ua := t.sessionIP(r, u, atHome, weekend, tripIP)
			if d < warmupDays && atHome {
				c := combos[warm%len(combos)]
				ip, ua = c.ip, c.ua
				warm++
			}
			if u.rollAt != 0 && ts >= u.rollAt {
				ua = rolledOut(ua)
			}
			n := poisson(r, perSession)
			t.session(ui, r, ts, ip, ua, n, &counts[d], weekend)
		}
	}
}

func (t *Tenant) leaverObjects(r *rand.Rand) []string {
	for {
		first, last := firstNames[r.IntN(len(firstNames))], lastNames[r.IntN(len(lastNames))]
		local := asciiLocal(first) + "." + asciiLocal(last) + fmt.Sprint(900+r.IntN(99))
		if !t.taken[local] {
			t.taken[local] = true
			return []string{local + "@" + t.cfg.Domain, first + " " + last}
		}
	}
}

// emitIn emits a baseline record unless it falls outside the data span or after the user went quiet.
func (t *Tenant) emitIn(ui int, ts int64, op uint16, ip int32, ua uint8, spec int32, flags uint8, r *rand.Rand) {
	u := &t.users[ui]
	if ts < t.start || ts > t.end-30*minMS || ts >= u.quietFrom || ts >= u.gapFrom && ts < u.gapTo {
		return
	}
	t.emit(ui, ts, op, ip, ua, spec, flags, r)
}

func poisson(r *rand.Rand, mean float64) int {
	if mean > 30 {
		return max(0, int(mean+r.NormFloat64()*math.Sqrt(mean)+0.5))
	}
	l, k, p := math.Exp(-mean), 0, 1.0
	for {
		p *= r.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// sessionHour is a local start hour: mostly office hours, some early and evening work.
func sessionHour(r *rand.Rand, weekend bool) float64 {
	switch {
	case weekend:
		return 9 + r.Float64()*12
	case r.IntN(10) == 0:
		return 19 + r.Float64()*3.5
	case r.IntN(12) == 0:
		return 6.5 + r.Float64()*1.5
	}
	return 8 + r.Float64()*9.5
}

func (t *Tenant) sessionIP(r *rand.Rand, u *user, atHome, weekend bool, tripIP int32) (int32, uint8) {
	if !atHome {
		if r.IntN(4) == 0 {
			if u.roams {
				return u.mobile, u.mobileUA
			}
			return tripIP, u.mobileUA
		}
		return tripIP, u.desktopUA
	}
	n := r.IntN(100)
	if weekend {
		if n < 60 {
			return u.home, u.desktopUA
		}
		return u.mobile, u.mobileUA
	}
	switch {
	case n < 55:
		return u.corp, u.desktopUA
	case n < 75:
		return u.home, u.desktopUA
	case n < 87:
		return u.vpn, u.desktopUA
	case n < 97 || u.cloud < 0:
		return u.mobile, u.mobileUA
	}
	return u.cloud, uaOneDriveSync
}

// session writes one sitting: a sign-in (sometimes after a failed one), then n operations spaced
// seconds to minutes apart, with an occasional same-second burst of reads.
func (t *Tenant) session(ui int, r *rand.Rand, ts int64, ip int32, ua uint8, n int, cnt *[6]int, weekend bool) {
	u := &t.users[ui]
	cloud := t.ips[ip].category == catCloud
	if !cloud {
		if !u.noFails && r.IntN(25) == 0 {
			for k := r.IntN(2); k >= 0; k-- {
				t.emitIn(ui, ts, opUserLoginFailed, ip, ua, -1, 0, r)
				ts += 5*secMS + r.Int64N(40*secMS)
			}
		}
		t.emitIn(ui, ts, opUserLoggedIn, ip, ua, -1, 0, r)
		ts += 2*secMS + r.Int64N(20*secMS)
	}
	trusted := t.ips[ip].category == catCorporate || t.ips[ip].category == catVPN
	if u.admin && trusted && !weekend {
		for k := 2 + r.IntN(4); k > 0; k-- {
			// Round robin: every routine operation recurs, so none is new in the window.
			op := u.adminOps[u.adminNext%len(u.adminOps)]
			u.adminNext++
			if cnt[5] >= dailyCap-3 {
				break
			}
			cnt[5]++
			aua := ua
			if ops[op].st == stMailbox && u.extraUA >= 0 {
				aua = uint8(u.extraUA)
			}
			t.emitIn(ui, ts, op, ip, aua, -1, flagAdmin, r)
			ts += 20*secMS + r.Int64N(3*minMS)
		}
	}
	if !cloud && len(u.apps) > 0 && r.IntN(3) == 0 {
		app := u.apps[r.IntN(len(u.apps))]
		t.emitIn(ui, ts, app, ip, ua, -1, 0, r)
		ts += 3*secMS + r.Int64N(30*secMS)
		work := appWork[app]
		if u.saasShares {
			work = appWorkShares[app]
		}
		for k := 1 + r.IntN(3); k > 0; k-- {
			op := work[r.IntN(len(work))]
			if m := metricOf(op, false); m > 0 {
				if cnt[m] >= dailyCap {
					op = work[0]
				} else {
					cnt[m]++
				}
			}
			spec := int32(-1)
			if ops[op].category == catShare {
				// shared with a colleague
				spec = t.addSpecial(special{objects: []string{t.users[r.IntN(t.cfg.Users)].upn}})
			}
			t.emitIn(ui, ts, op, ip, ua, spec, 0, r)
			ts += 10*secMS + r.Int64N(2*minMS)
		}
	}
	for k := 0; k < n; k++ {
		op := workOps[weighted(r, workWeights)].op
		if cloud {
			op = []uint16{opODFileAccessed, opMailItemsAccessed, opFileAccessed}[r.IntN(3)]
		}
		if m := metricOf(op, false); m > 0 {
			if cnt[m] >= dailyCap {
				op = opFileAccessed
			} else {
				cnt[m]++
			}
		}
		spec := int32(-1)
		if op == opNewInboxRule || op == opSetInboxRule {
			spec = t.addSpecial(benignInboxRule(r, t.cfg.Domain))
		}
		if r.IntN(60) == 0 && (op == opFileAccessed || op == opMailItemsAccessed) {
			// A sync or client burst: many reads stamped with the same second.
			for b := 3 + r.IntN(25); b > 0; b-- {
				t.emitIn(ui, ts, op, ip, ua, -1, 0, r)
			}
		} else {
			t.emitIn(ui, ts, op, ip, ua, spec, 0, r)
		}
		gap := int64(r.ExpFloat64() * float64(90*secMS))
		ts += 2*secMS + min(gap, 20*minMS)
	}
}

// benignInboxRule is an ordinary filing rule: it scores below the inbox-manipulation threshold
// (one hiding action, no keyword, a real name) and forwards nowhere.
func benignInboxRule(r *rand.Rand, domain string) special {
	names := []string{"Project updates", "Newsletters", "Team Calendar", "Jira notifications", "Büro", "Vendors"}
	folders := []string{"Projects", "Newsletters", "Calendar", "Tickets", "Vendors"}
	n := names[r.IntN(len(names))]
	return special{params: [][2]string{{"Name", n}, {"From", "notifications@" + domain},
		{"MoveToFolder", folders[r.IntN(len(folders))]}, {"StopProcessingRules", "False"}}}
}

// fitTotal trims the baseline to exactly Config.Total records, keeping every planted record.
func (t *Tenant) fitTotal() {
	if t.cfg.Total <= 0 || len(t.events) <= t.cfg.Total {
		return
	}
	var free []int
	for i := range t.events {
		if t.events[i].flags&flagPlant == 0 {
			free = append(free, i)
		}
	}
	drop := len(t.events) - t.cfg.Total
	if drop > len(free) {
		drop = len(free)
	}
	r := t.rng(7)
	r.Shuffle(len(free), func(i, j int) { free[i], free[j] = free[j], free[i] })
	gone := make([]bool, len(t.events))
	for _, i := range free[:drop] {
		gone[i] = true
	}
	out := t.events[:0]
	for i, e := range t.events {
		if !gone[i] {
			out = append(out, e)
		}
	}
	t.events = out
}

// finish assigns quirks, sorts, builds the compact index and the ground truth.
func (t *Tenant) finish(plans, looks []*plan, bursts []*burstPlan) {
	late := 0
	for i := range t.events {
		e := &t.events[i]
		e.w0, e.w1 = t.idWord(e.serial, 0), t.idWord(e.serial, 1)
		if e.flags&flagPlant != 0 {
			continue
		}
		q := mix64(e.w1 ^ 0x5bd1e995)
		if unit(q) < t.cfg.LateArrivals {
			e.flags |= flagLate
			e.created = e.ts + 2*hourMS + int64(mix64(q)%uint64(10*hourMS))
			late++
		}
		q = mix64(q)
		if unit(q) < t.cfg.CaseCollisions {
			e.flags |= flagCase
		}
		q = mix64(q)
		if unit(q) < t.cfg.ExtraFields {
			e.flags |= flagExtra
		}
		q = mix64(q)
		if unit(q) < t.cfg.LargeFields && ops[e.op].st != stMailbox {
			e.flags |= flagLarge
		}
	}
	// Remember which serials the plans point at before sorting moves them.
	pos := make(map[uint32]int, 1024)
	slices.SortFunc(t.events, func(a, b rawEvent) int {
		switch {
		case a.ts != b.ts:
			return cmpI64(a.ts, b.ts)
		case a.w0 != b.w0:
			if a.w0 < b.w0 {
				return -1
			}
			return 1
		}
		return 0
	})
	for i := range t.events {
		if t.events[i].flags&flagPlant != 0 {
			pos[t.events[i].serial] = i
		}
	}
	n := len(t.events)
	t.idbuf = make([]byte, 64*n)
	t.acts = make([]Activity, n)
	const hx = "0123456789abcdef"
	for i := range t.events {
		e := &t.events[i]
		b := t.idbuf[64*i : 64*i+64]
		for j := 0; j < 4; j++ {
			w := e.w0
			if j == 1 {
				w = e.w1
			} else if j > 1 {
				w = t.idWord(e.serial, j)
			}
			for k := 0; k < 16; k++ {
				b[j*16+k] = hx[(w>>(60-4*k))&15]
			}
		}
		u := &t.users[e.user]
		ip := &t.ips[e.ip]
		od := &ops[e.op]
		a := &t.acts[i]
		a.ID = unsafe.String(&t.idbuf[64*i], 64)
		a.Timestamp, a.Created = e.ts, e.created
		a.AppID = od.app
		a.User = u.upn
		a.EventType = od.category
		a.Admin = e.flags&flagAdmin != 0
		a.IP = ip.addr
		a.IPCategory = ip.category
		a.Country = places[ip.place].country
		a.DeviceType = userAgents[e.ua].deviceType
		a.Source = 2
		a.user, a.ip, a.special, a.op, a.ua, a.flags, a.h = e.user, e.ip, e.special, e.op, e.ua, e.flags, e.w1
	}
	t.events = nil
	t.ipIndex = nil
	t.truth = GroundTruth{Seed: t.cfg.Seed, Start: t.Start(), End: t.End(), Users: len(t.users), Activities: n,
		LateArrivals: late, Incidents: []Incident{}, Lookalikes: []Lookalike{}, TieBursts: []TieBurstRun{}}
	for _, p := range plans {
		t.truth.Incidents = append(t.truth.Incidents, p.incident(t, pos))
	}
	for _, l := range looks {
		t.truth.Lookalikes = append(t.truth.Lookalikes, l.lookalike(t, pos))
	}
	for _, b := range bursts {
		run := TieBurstRun{At: time.UnixMilli(b.at).UTC(), Size: b.size, Field: b.field}
		for _, s := range b.serials {
			run.IDs = append(run.IDs, t.acts[pos[s]].ID)
		}
		slices.Sort(run.IDs)
		t.truth.TieBursts = append(t.truth.TieBursts, run)
	}
}

func unit(x uint64) float64 { return float64(x>>11) / (1 << 53) }

func cmpI64(a, b int64) int {
	if a < b {
		return -1
	}
	return 1
}
