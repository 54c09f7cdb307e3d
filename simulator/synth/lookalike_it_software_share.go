package synth

import (
	"math/rand/v2"
	"time"
)

// installers are what an IT packager shares with the service desk.
var installers = []string{"Setup-7zip-24.08-x64.msi", "TeamViewer_Host_15.exe", "Update-DeviceAgent.ps1", "VPNClient-5.2.1.msi",
	"PrinterDriver_Setup.exe", "FixOutlookProfile.cmd", "Install-Fonts.ps1", "GoogleChromeStandaloneEnterprise64.msi"}

// planITSoftwareShare plants it-software-share: an IT packager uploads installers and scripts
// (.msi, .exe, .ps1, .cmd) to the IT site every Monday for the service desk. Programs are what
// they upload.
func planITSoftwareShare(t *Tenant, r *rand.Rand, l *plan) bool {
	ui := t.laterUser(r, offNewYork)
	l.users = []int{ui}
	l.detail["note"] = "an IT packager's weekly upload of installers and scripts (.msi, .exe, .ps1, .cmd) to the IT site"
	t.users[ui].routine = func(t *Tenant, ui int, r *rand.Rand, day dayInfo) {
		if day.weekday() != time.Monday {
			return
		}
		u := &t.users[ui]
		ts := day.at(10 + r.Float64()*4)
		for k := 2 + r.IntN(3); k > 0; k-- {
			f := installers[r.IntN(len(installers))]
			t.emitIn(ui, ts, opFileUploaded, u.corp, u.desktopUA, t.addSpecial(special{file: f}), 0, r)
			ts += 40*secMS + r.Int64N(2*minMS)
		}
	}
	l.emit = func(l *plan) {
		l.markRecent(func(e *rawEvent) bool { return int(e.user) == ui && e.op == opFileUploaded && e.special >= 0 })
	}
	return true
}
