package synth

import (
	"fmt"
	"math/rand/v2"
)

// planCIBuildAgents plants ci-build-agents: the build pipeline's service account launches 10 to 14
// EC2 build agents in us-east-1 every working morning and terminates them every evening, from the
// build server's private address, with the AWS CLI. Mass launches and terminations are its day.
func planCIBuildAgents(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterUser(r, offNewYork)
	u := &t.users[ui]
	u.upn, u.display = "svc-ci-builds@"+t.cfg.Domain, "CI build pipeline"
	ip := t.addIP(ipInfo{addr: "10.40.0.21", place: offices[offNewYork], category: catNone})
	u.corp, u.vpn, u.home, u.mobile, u.cloud = ip, ip, ip, ip, -1
	u.apps, u.noFails, u.noSessions = nil, true, true
	u.routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if day.weekend {
			return
		}
		n := 10 + r.IntN(5)
		ids := make([]string, n)
		ts := day.at(7 + r.Float64()/4)
		for k := range ids {
			ids[k] = fmt.Sprintf("i-0%x", r.Uint64()>>8)
			t.emitIn(ui, ts, opAWSRunInstances, ip, uaAWSCLI, instanceSpecial(t, ids[k], "us-east-1"), flagAdmin, r)
			ts += 20*secMS + r.Int64N(40*secMS)
		}
		ts = day.at(19 + r.Float64()/2)
		for _, id := range ids {
			t.emitIn(ui, ts, opAWSTerminateInstances, ip, uaAWSCLI, instanceSpecial(t, id, "us-east-1"), flagAdmin, r)
			ts += 5*secMS + r.Int64N(10*secMS)
		}
	}
	l.users = []int{ui}
	l.detail["note"] = "the build pipeline's account launches 10 to 14 EC2 build agents in us-east-1 every working morning and terminates them every evening"
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == ui })
	}
	return true
}
