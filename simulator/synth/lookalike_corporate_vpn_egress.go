package synth

import "math/rand/v2"

// secureEdge are the egress nodes of the corporate secure web gateway (a Zscaler-like service),
// one per city. The tenant tags their ranges Corporate.
var secureEdge = []struct {
	place int
	addr  string
}{
	{plNewYork, "165.225.216.20"}, {plChicago, "165.225.8.40"}, {plSanFrancisco, "165.225.242.30"},
	{plToronto, "165.225.208.40"}, {plLondon, "165.225.80.40"}, {plFrankfurt, "165.225.72.40"},
	{plParis, "165.225.76.40"}, {plAmsterdam, "165.225.240.40"}, {plZurich, "165.225.94.40"},
	{plSingapore, "165.225.112.40"},
}

func (t *Tenant) edgeIP(k int) int32 {
	n := secureEdge[k]
	return t.addIP(ipInfo{addr: n.addr, place: n.place, isp: "Zscaler, Inc.", carrier: "zscaler inc.", category: catCorporate})
}

// planCorporateVPNEgress plants corporate-vpn-egress: two users reach the tenant through the
// corporate gateway (Corporate category) every week, through the node of their city. On two days
// in the window the gateway sends them out abroad: a sign-in from home, then one through a node in
// another country minutes later, then through a node in a third.
func planCorporateVPNEgress(t *Tenant, r *rand.Rand, l *plan) bool {
	type hop struct {
		ui  int
		at  int64
		far [2]int32
	}
	var hops []hop
	for len(l.users) < 2 {
		ui := t.pick(r, homebody)
		if ui < 0 {
			break
		}
		u := &t.users[ui]
		home := offices[u.office]
		var far []int
		for k, n := range secureEdge {
			if n.place == home {
				u.vpn = t.edgeIP(k) // the gateway is the user's VPN, in history as well
			} else if places[n.place].country != places[home].country && haversineKM(places[n.place], places[home]) > 900 {
				far = append(far, k)
			}
		}
		l.users = append(l.users, ui)
		from, to := t.recentDays()
		for _, span := range [][2]int{{from, from + (to-from)/2}, {from + (to-from)/2 + 1, to}} {
			day, ok := t.workday(r, ui, span[0], span[1])
			if !ok {
				continue
			}
			a := r.Perm(len(far))
			hops = append(hops, hop{ui: ui, at: day.at(7.5 + r.Float64()), far: [2]int32{t.edgeIP(far[a[0]]), t.edgeIP(far[a[1]])}})
		}
	}
	if len(hops) == 0 {
		return false
	}
	l.detail["note"] = "sign-ins from home, then through the corporate gateway's nodes in two other countries minutes apart (category Corporate)"
	l.emit = func(l *plan) {
		for _, h := range hops {
			u := &t.users[h.ui]
			ts := l.rec(h.ui, h.at, opUserLoggedIn, u.home, u.desktopUA, -1, 0)
			l.rec(h.ui, ts+40*secMS, opMailItemsAccessed, u.home, u.desktopUA, -1, 0)
			ts = l.rec(h.ui, ts+10*minMS+l.r.Int64N(10*minMS), opUserLoggedIn, h.far[0], u.desktopUA, -1, 0)
			l.rec(h.ui, ts+30*secMS, opFileAccessed, h.far[0], u.desktopUA, -1, 0)
			l.rec(h.ui, ts+3*minMS, opTeamsMessageSent, h.far[0], u.desktopUA, -1, 0)
			ts = l.rec(h.ui, ts+35*minMS+l.r.Int64N(15*minMS), opUserLoggedIn, h.far[1], u.desktopUA, -1, 0)
			l.rec(h.ui, ts+50*secMS, opMailItemsAccessed, h.far[1], u.desktopUA, -1, 0)
		}
	}
	return true
}
