package synth

import "math/rand/v2"

// planEstablishedTraveller plants established-traveller: a user who works four days in another
// continent every other week (London ↔ New York). The laptop uses the same hotel network each
// time; the phone stays on the home carrier, whose addresses geolocate at home, so sign-ins
// alternate between the two countries within hours, on every trip.
func planEstablishedTraveller(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.pick(r, homebody)
	if ui < 0 {
		return false
	}
	u := &t.users[ui]
	dest := plNewYork
	if c := places[offices[u.office]].country; c == "US" || c == "CA" {
		dest = plLondon
	}
	var trips []trip
	for s := t.cfg.Days - 6; s-2 >= warmupDays; s -= 14 {
		trips = append([]trip{{start: s, end: s + 3, place: dest}}, trips...)
	}
	if len(trips) == 0 {
		return false
	}
	hotel := t.hotelIP(r, u, dest)
	for i := range trips {
		trips[i].ip = hotel
	}
	u.trips, u.roams = trips, true
	last := trips[len(trips)-1]
	from := t.firstDay() + int64(last.start-1)*dayMS
	until := t.firstDay() + int64(last.end+2)*dayMS
	// Every morning away the phone checks mail before the laptop signs in.
	var mornings []int64
	for d := last.start; d <= last.end && d < t.cfg.Days; d++ {
		mornings = append(mornings, localDay(t.firstDay(), d, dest).at(6.5+r.Float64()))
	}
	l.users = []int{ui}
	l.detail["note"] = "works in " + places[dest].city + " every other week: the laptop on the same hotel network, the phone roaming on the home carrier (geolocated at home)"
	l.detail["trips"] = len(trips)
	l.emit = func(l *plan) {
		u := &t.users[ui]
		for _, at := range mornings {
			ts := l.rec(ui, at, opUserLoggedIn, u.mobile, u.mobileUA, -1, 0)
			l.rec(ui, ts+20*secMS, opMailItemsAccessed, u.mobile, u.mobileUA, -1, 0)
			ts = l.rec(ui, ts+40*minMS+l.r.Int64N(30*minMS), opUserLoggedIn, hotel, u.desktopUA, -1, 0)
			l.rec(ui, ts+40*secMS, opFileAccessed, hotel, u.desktopUA, -1, 0)
		}
		l.markRecent(func(e *rawEvent) bool {
			return int(e.user) == ui && e.op == opUserLoggedIn && e.ts >= from && e.ts < until
		})
	}
	return true
}
