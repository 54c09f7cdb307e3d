package synth

import (
	"fmt"
	"math/rand/v2"
)

// instanceSpecial is an EC2 call on instance id in region.
func instanceSpecial(t *Tenant, id, region string) int32 {
	return t.addSpecial(special{file: id, region: region})
}

// planCloudResourceAbuse plants cloud-resource-abuse: an administrator launches 16 EC2 instances in
// eight minutes in a region the organisation never used (ap-southeast-3), the shape of a
// cryptomining or staging foothold. Decoy: another administrator launches 7 instances in ten
// minutes in the organisation's usual region (min_creates 10).
func planCloudResourceAbuse(t *Tenant, r *rand.Rand, p, d *plan) {
	u := t.dedicatedAdmin(r, offNewYork, p.at, opAWSRunInstances, opUpdateUser)
	v := t.dedicatedAdmin(r, offNewYork, d.at, opAWSRunInstances, opUpdateUser)
	p.users, d.users = []int{u}, []int{v}
	p.detail["note"] = "16 RunInstances in 8 minutes in ap-southeast-3, a region the tenant never used"
	p.detail["region"], p.detail["instances"] = "ap-southeast-3", 16
	d.detail["note"] = "7 RunInstances in 10 minutes in us-east-1 (min_creates 10)"
	d.detail["region"], d.detail["instances"] = "us-east-1", 7
	launch := func(ui, n int, every int64, region string) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.at, opAWSConsoleLogin, c.corp, c.desktopUA, -1, 0)
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("i-0%x", p.r.Uint64()>>8)
				ts = p.rec(ui, ts+every, opAWSRunInstances, c.corp, uaAWSCLI, instanceSpecial(p.t, id, region), flagAdmin)
			}
		}
	}
	p.emit = launch(u, 16, 30*secMS, "ap-southeast-3")
	d.emit = launch(v, 7, 85*secMS, "us-east-1")
}
