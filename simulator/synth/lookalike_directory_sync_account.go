package synth

import (
	"fmt"
	"math/rand/v2"
)

// planDirectorySyncAccount plants directory-sync-account: the on-premises directory sync service
// account (Microsoft Entra Connect) updates users and groups all day, every day, from the sync
// server's private address, which has no IP category and no geolocation of its own. It is a user
// of its own, added after the ordinary and dedicated users.
func planDirectorySyncAccount(t *Tenant, r *rand.Rand, l *plan) bool {
	u := t.newUser(r, offNewYork, t.taken)
	u.upn = fmt.Sprintf("Sync_ADC01_%012x@%s.onmicrosoft.com", r.Uint64()>>16, t.org)
	u.display = "On-Premises Directory Synchronization Service Account"
	ip := t.addIP(ipInfo{addr: "10.20.0.15", place: offices[offNewYork], category: catNone})
	u.corp, u.vpn, u.home, u.mobile, u.cloud = ip, ip, ip, ip, -1
	u.apps, u.noFails, u.noSessions = nil, true, true
	u.routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		// a sync cycle every half hour; 14 to 19 changes a day (never 20, the spike's min_count)
		n := 14 + r.IntN(6)
		for k := 0; k < n; k++ {
			ts := day.midnight + int64(k)*dayMS/int64(n) + r.Int64N(20*minMS)
			op, s := uint16(opUpdateUser), int32(-1)
			switch {
			case k == 0:
				op = opUpdateGroup
				s = t.addSpecial(special{objects: []string{sites[r.IntN(len(sites))] + " team"}})
			case k == 1 && r.IntN(3) == 0:
				op = opAddUser // a new hire, every third day or so
			default:
				who := &t.users[r.IntN(t.cfg.Users)]
				s = t.addSpecial(special{objects: []string{who.upn, who.display}})
			}
			t.emitIn(ui, ts, op, ip, uaADConnect, s, flagAdmin, r)
		}
	}
	t.users = append(t.users, u)
	sync := len(t.users) - 1
	l.users = []int{sync}
	l.detail["note"] = "the directory sync service account's routine user and group updates, all day every day, from the sync server's private address (no IP category)"
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == sync })
	}
	return true
}
