package synth

import "math/rand/v2"

// planExecutableUploads plants executable-uploads: a user uploads two programs disguised as
// documents to OneDrive from home ("….pdf.exe", "….pdf.scr") and creates an anonymous link to one,
// a malware drop shared onward. Decoy: another user uploads files with two extensions that are
// no programs (a converted contract "….docx.pdf", a driver archive "….tar.gz").
func planExecutableUploads(t *Tenant, r *rand.Rand, p, d *plan) {
	u, v := t.dedicatedPair(r, offParis, p, d)
	p.detail["note"] = "uploads of Facture_2026-0412.pdf.exe and Scan_0412.pdf.scr to OneDrive, then an anonymous link to the first"
	p.detail["files"] = []string{"Facture_2026-0412.pdf.exe", "Scan_0412.pdf.scr"}
	d.detail["note"] = "uploads of Contrat signé.docx.pdf and drivers-2026.tar.gz (two extensions, no program)"
	d.detail["files"] = []string{"Contrat signé.docx.pdf", "drivers-2026.tar.gz"}
	upload := func(ui int, files []string, share bool) func(p *plan) {
		return func(p *plan) {
			c := &t.users[ui]
			ts := p.rec(ui, p.at, opUserLoggedIn, c.home, c.desktopUA, -1, 0)
			for _, f := range files {
				ts = p.rec(ui, ts+90*secMS, opODFileUploaded, c.home, c.desktopUA, p.t.addSpecial(special{file: f}), 0)
			}
			if share {
				p.rec(ui, ts+2*minMS, opAnonymousLinkCreated, c.home, c.desktopUA, p.t.addSpecial(special{file: files[0]}), 0)
			}
		}
	}
	p.emit = upload(u, []string{"Facture_2026-0412.pdf.exe", "Scan_0412.pdf.scr"}, true)
	d.emit = upload(v, []string{"Contrat signé.docx.pdf", "drivers-2026.tar.gz"}, false)
}
