package synth

// Go transcriptions of the investigations' SQL (research/investigations.md), run directly on the
// generated activities so the baseline and the planted cases can be checked without DuckDB. They
// follow the SQL's thresholds and comparison operators exactly.

import (
	"encoding/json"
	"math"
	"regexp"
	"slices"
	"strings"
)

type row struct {
	i                   int
	ts                  int64
	user, app, cls, act string
	ip, country, isp    string
	ua                  string
	cat                 int8
	anon, admin         bool
	lat, lon            float64
	failed              bool
}

// rows builds the investigation view of a tenant (what the schema's columns would hold).
func rows(t *Tenant) []row {
	out := make([]row, t.Len())
	for i := range t.acts {
		a := &t.acts[i]
		od := &ops[a.op]
		ip := &t.ips[a.ip]
		pl := &places[ip.place]
		out[i] = row{i: i, ts: a.Timestamp, user: a.User, app: appNames[a.AppID], act: od.name, ip: a.IP,
			country: a.Country, isp: ip.isp, ua: userAgents[a.ua].raw, cat: a.IPCategory, anon: ip.anon, admin: a.Admin,
			lat: pl.lat, lon: pl.lon, cls: classOf(a.EventType, od.name)}
	}
	return out
}

// classOf is the classification view of investigations.md.
func classOf(eventType, action string) string {
	switch {
	case eventType == "EVENT_CATEGORY_FAILED_LOGIN":
		return "login_fail"
	case eventType == "EVENT_CATEGORY_LOGIN":
		return "login"
	case eventType == "EVENT_CATEGORY_DOWNLOAD_FILE" || action == "FileDownloaded" || action == "FileSyncDownloadedFull":
		return "download"
	case eventType == "EVENT_CATEGORY_UPLOAD_FILE" || action == "FileUploaded" || action == "FileSyncUploadedFull":
		return "upload"
	}
	switch action {
	case "FileDeleted", "FileRecycled", "FileDeletedFirstStageRecycleBin", "FileDeletedSecondStageRecycleBin":
		return "delete"
	case "AnonymousLinkCreated", "SharingInvitationCreated", "SharingSet", "CompanyLinkCreated":
		return "share"
	case "New-InboxRule", "Set-InboxRule", "UpdateInboxRules", "Set-Mailbox", "New-TransportRule", "Set-TransportRule":
		return "mail_rule"
	}
	return "other"
}

type window struct{ since, until int64 }

func (w window) in(ts int64) bool { return ts >= w.since && ts <= w.until }

func kmBetween(lat1, lon1, lat2, lon2 float64) float64 {
	return haversineKM(place{lat: lat1, lon: lon1}, place{lat: lat2, lon: lon2})
}

func byKey(rs []row, keep func(r *row) bool, key func(r *row) string) map[string][]*row {
	m := map[string][]*row{}
	for i := range rs {
		if keep(&rs[i]) {
			k := key(&rs[i])
			m[k] = append(m[k], &rs[i])
		}
	}
	return m
}

// slidingMax is the largest count of timestamps within [ts-span, ts] (RANGE … PRECEDING).
func slidingMax(list []*row, span int64) int {
	best, j := 0, 0
	for i := range list {
		for list[j].ts < list[i].ts-span {
			j++
		}
		best = max(best, i-j+1)
	}
	return best
}

func detectImpossibleTravel(rs []row, w window) map[string]bool {
	out := map[string]bool{}
	logins := byKey(rs, func(r *row) bool { return r.cls == "login" && w.in(r.ts) }, func(r *row) string { return r.user })
	for u, l := range logins {
		for i := 1; i < len(l); i++ {
			p, c := l[i-1], l[i]
			if p.country == c.country {
				continue
			}
			km := kmBetween(p.lat, p.lon, c.lat, c.lon)
			hours := math.Max(float64(c.ts-p.ts)/3.6e6, 1.0/60)
			trusted := func(x int8) bool { return x == catCorporate || x == catVPN }
			if km >= 500 && km/hours > 900 && !(trusted(p.cat) && trusted(c.cat)) {
				out[u] = true
			}
		}
	}
	return out
}

// detectNewCountry returns flagged users and the number of (user, country) rows.
func detectNewCountry(rs []row, w window) (map[string]bool, int) {
	hist := map[[2]string]bool{}
	first := map[string]int64{}
	for i := range rs {
		r := &rs[i]
		if r.ts >= w.since-30*dayMS && r.ts < w.since {
			hist[[2]string{r.user, r.country}] = true
		}
		if f, ok := first[r.user]; !ok || r.ts < f {
			first[r.user] = r.ts
		}
	}
	out, pairs := map[string]bool{}, map[[2]string]bool{}
	for i := range rs {
		r := &rs[i]
		k := [2]string{r.user, r.country}
		if w.in(r.ts) && r.cls != "login_fail" && !hist[k] && first[r.user] <= w.since-7*dayMS {
			out[r.user], pairs[k] = true, true
		}
	}
	return out, len(pairs)
}

func detectRisky(rs []row, w window) map[string]bool {
	out := map[string]bool{}
	for i := range rs {
		if w.in(rs[i].ts) && (rs[i].anon || rs[i].cat == catRisky) {
			out[rs[i].user] = true
		}
	}
	return out
}

func detectFailedBurst(rs []row, w window) map[string]bool {
	out := map[string]bool{}
	for _, l := range byKey(rs, func(r *row) bool { return r.cls == "login_fail" && w.in(r.ts) },
		func(r *row) string { return r.user + "\x00" + r.app }) {
		if slidingMax(l, 5*minMS) > 10 {
			out[l[0].user] = true
		}
	}
	return out
}

// detectSpray returns the flagged IPs.
func detectSpray(rs []row, w window) map[string]bool {
	users := map[string]map[int64]map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if r.cls != "login_fail" || !w.in(r.ts) {
			continue
		}
		if users[r.ip] == nil {
			users[r.ip] = map[int64]map[string]bool{}
		}
		b := r.ts - r.ts%(20*minMS)
		if users[r.ip][b] == nil {
			users[r.ip][b] = map[string]bool{}
		}
		users[r.ip][b][r.user] = true
	}
	out := map[string]bool{}
	for ip, buckets := range users {
		hit := false
		for _, u := range buckets {
			hit = hit || len(u) >= 5
		}
		if !hit {
			continue
		}
		failed, ok := map[string]bool{}, map[string]bool{}
		for i := range rs {
			if rs[i].ip == ip && w.in(rs[i].ts) {
				switch rs[i].cls {
				case "login_fail":
					failed[rs[i].user] = true
				case "login":
					ok[rs[i].user] = true
				}
			}
		}
		if len(failed) > len(ok) {
			out[ip] = true
		}
	}
	return out
}

func detectMassDownload(rs []row, w window) map[string]bool {
	out := map[string]bool{}
	for _, l := range byKey(rs, func(r *row) bool { return r.cls == "download" && w.in(r.ts) },
		func(r *row) string { return r.user + "\x00" + r.app }) {
		if slidingMax(l, minMS) > 50 {
			out[l[0].user] = true
		}
	}
	return out
}

// bucketCounts counts rows per (user, app, bucket).
func bucketCounts(rs []row, w window, cls string, span int64) map[[2]string]map[int64]int {
	m := map[[2]string]map[int64]int{}
	for i := range rs {
		r := &rs[i]
		if r.cls == cls && w.in(r.ts) {
			k := [2]string{r.user, r.app}
			if m[k] == nil {
				m[k] = map[int64]int{}
			}
			m[k][r.ts-r.ts%span]++
		}
	}
	return m
}

func detectBuckets(rs []row, w window, cls string, span int64, per, minHot int) map[string]bool {
	out := map[string]bool{}
	for k, b := range bucketCounts(rs, w, cls, span) {
		hot := 0
		for _, n := range b {
			if n > per {
				hot++
			}
		}
		if hot >= minHot {
			out[k[0]] = true
		}
	}
	return out
}

func detectRansomware(rs []row, w window, objects func(i int) []string) map[string]bool {
	type agg struct{ up, del, known int }
	m := map[string]*agg{}
	exts := []string{"locked", "encrypted", "crypt", "enc", "crypted", "locky"}
	for i := range rs {
		r := &rs[i]
		if (r.cls != "upload" && r.cls != "delete") || !w.in(r.ts) {
			continue
		}
		k := r.user + "\x00" + string(rune(r.ts/(10*minMS)))
		if m[k] == nil {
			m[k] = &agg{}
		}
		for _, o := range objects(r.i) {
			if r.cls == "upload" {
				m[k].up++
				if slices.Contains(exts, strings.ToLower(extOf(o))) && !strings.ContainsAny(extOf(o), "/\\") {
					m[k].known++
				}
			} else {
				m[k].del++
			}
		}
	}
	out := map[string]bool{}
	for k, a := range m {
		if a.known > 0 || (a.up >= 20 && a.del >= 20) {
			out[strings.SplitN(k, "\x00", 2)[0]] = true
		}
	}
	return out
}

var forwardRe = regexp.MustCompile(`"Name"\s*:\s*"(?:ForwardTo|RedirectTo|ForwardAsAttachmentTo|ForwardingSmtpAddress|ForwardingAddress|RedirectMessageTo|BlindCopyTo)"\s*,\s*"Value"\s*:\s*"(?:smtp:|SMTP:)?([^"]+)"`)

// detectForwarding returns the users forwarding anywhere and those forwarding outside.
func detectForwarding(rs []row, w window, raw func(i int) string) (any, external map[string]bool) {
	any, external = map[string]bool{}, map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if r.cls != "mail_rule" || !w.in(r.ts) {
			continue
		}
		for _, m := range forwardRe.FindAllStringSubmatch(raw(r.i), -1) {
			for _, d := range strings.Split(m[1], ";") {
				d = strings.ToLower(strings.TrimSpace(d))
				if d == "" {
					continue
				}
				any[r.user] = true
				if _, dom, _ := strings.Cut(d, "@"); dom != internalDomain {
					external[r.user] = true
				}
			}
		}
	}
	return any, external
}

var ruleNameRe = regexp.MustCompile(`"Name"\s*:\s*"Name"\s*,\s*"Value"\s*:\s*"([^"]*)"`)
var nonAlnum = regexp.MustCompile(`[^A-Za-z0-9]`)

func inboxScore(raw string) int {
	score := 0
	for _, k := range []string{"DeleteMessage", "SoftDeleteMessage", "MoveToFolder", "MarkAsRead", "RSS Feeds", "RSS Subscriptions",
		"Junk Email", "Deleted Items", "Conversation History", "Archive"} {
		if strings.Contains(raw, k) {
			score++
		}
	}
	low := strings.ToLower(raw)
	for _, k := range []string{"helpdesk", "alert", "suspicious", "fake", "malicious", "phishing", "spam", "do not click", "do not open",
		"hijacked", "fatal", "invoice", "payment", "wire", "payroll", "w2", "deposit", "docusign", "wetransfer", "postmaster"} {
		if strings.Contains(low, k) {
			score += 2
			break
		}
	}
	name := ""
	if m := ruleNameRe.FindStringSubmatch(raw); m != nil {
		name = m[1]
	}
	if len(nonAlnum.ReplaceAllString(name, "")) < 2 {
		score += 2
	}
	return score
}

func detectInboxRules(rs []row, w window, raw func(i int) string) map[string]bool {
	out := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if (r.act == "New-InboxRule" || r.act == "Set-InboxRule" || r.act == "UpdateInboxRules") && w.in(r.ts) && inboxScore(raw(r.i)) >= 2 {
			out[r.user] = true
		}
	}
	return out
}

func detectAdminUntrusted(rs []row, w window) map[string]bool {
	out := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if r.admin && w.in(r.ts) && r.cat != catCorporate && r.cat != catAdmin && r.cat != catVPN && !strings.HasPrefix(r.ip, "10.") {
			out[r.user] = true
		}
	}
	return out
}

// detectUnusualAdmin returns flagged users and the number of (user, operation) rows.
func detectUnusualAdmin(rs []row, w window) (map[string]bool, int) {
	hist := map[[2]string]bool{}
	for i := range rs {
		r := &rs[i]
		if r.admin && r.ts >= w.since-30*dayMS && r.ts < w.since {
			hist[[2]string{r.user, r.act}] = true
		}
	}
	out, pairs := map[string]bool{}, map[[2]string]bool{}
	for i := range rs {
		r := &rs[i]
		k := [2]string{r.user, r.act}
		if r.admin && w.in(r.ts) && !hist[k] {
			out[r.user], pairs[k] = true, true
		}
	}
	return out, len(pairs)
}

var auditOffRe = regexp.MustCompile(`"AdminAuditLogEnabled"\s*,\s*"Value"\s*:\s*"False"`)

func detectDefenseEvasion(rs []row, w window, raw func(i int) string) map[string]bool {
	out := map[string]bool{}
	prot := regexp.MustCompile(`AntiPhish|SafeAttachment|SafeLinks|Dlp|Audit`)
	for i := range rs {
		r := &rs[i]
		if !w.in(r.ts) {
			continue
		}
		hit := (r.act == "Set-AdminAuditLogConfig" && auditOffRe.MatchString(raw(r.i))) ||
			((strings.HasPrefix(r.act, "Remove-") || strings.HasPrefix(r.act, "Disable-")) && prot.MatchString(r.act)) ||
			slices.Contains([]string{"Disable Strong Authentication.", "StopLogging", "DeleteTrail", "UpdateTrail"}, r.act) ||
			strings.Contains(strings.ToLower(r.act), "conditional access policy")
		if hit {
			out[r.user] = true
		}
	}
	return out
}

type rawRecord struct {
	RawDataJSON struct {
		LogonType       *int   `json:"LogonType"`
		MailboxOwnerUPN string `json:"MailboxOwnerUPN"`
	} `json:"rawDataJson"`
	MainInfo struct {
		EventObjects []struct {
			Name string `json:"name"`
		} `json:"eventObjects"`
	} `json:"mainInfo"`
}

func parseRaw(b string) rawRecord {
	var r rawRecord
	_ = json.Unmarshal([]byte(b), &r)
	return r
}

// impersonated reports whether a record is impersonated activity (LogonType 1 admin or 2 delegate).
func impersonated(raw string) (bool, string) {
	r := parseRaw(raw)
	lt := r.RawDataJSON.LogonType
	return lt != nil && (*lt == 1 || *lt == 2), strings.ToLower(r.RawDataJSON.MailboxOwnerUPN)
}

func detectImpersonation(rs []row, w window, raw func(i int) string) map[string]bool {
	out := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if !w.in(r.ts) || r.app != appNames[appExchange] {
			continue
		}
		if ok, target := impersonated(raw(r.i)); ok && target != r.user {
			out[r.user] = true
		}
	}
	return out
}

func detectTerminated(rs []row, w window, raw func(i int) string) map[string]bool {
	deleted := map[string]int64{}
	for i := range rs {
		r := &rs[i]
		if r.act == "Delete user." {
			for _, o := range parseRaw(raw(r.i)).MainInfo.EventObjects {
				n := strings.ToLower(o.Name)
				if d, ok := deleted[n]; !ok || r.ts < d {
					deleted[n] = r.ts
				}
			}
		}
	}
	local := func(s string) string { l, _, _ := strings.Cut(s, "@"); return l }
	byLocal := map[string]int64{}
	for n, ts := range deleted {
		if d, ok := byLocal[local(n)]; !ok || ts < d {
			byLocal[local(n)] = ts
		}
	}
	out := map[string]bool{}
	for i := range rs {
		r := &rs[i]
		if !w.in(r.ts) || r.cls == "login_fail" {
			continue
		}
		u := strings.ToLower(r.user)
		if d, ok := deleted[u]; ok && r.ts > d {
			out[r.user] = true
		}
		if d, ok := byLocal[local(u)]; ok && r.ts > d {
			out[r.user] = true
		}
	}
	return out
}

var toolUA = regexp.MustCompile(`python|curl|wget|azurehound|powershell|go-http-client|okhttp|postman|rclone|headless`)

// detectFingerprint returns flagged users and the number of (user, user agent) rows.
func detectFingerprint(rs []row, w window) (map[string]bool, int) {
	uas, isps := map[[2]string]bool{}, map[[2]string]bool{}
	for i := range rs {
		r := &rs[i]
		if r.ts >= w.since-30*dayMS && r.ts < w.since {
			uas[[2]string{r.user, r.ua}] = true
			isps[[2]string{r.user, r.isp}] = true
		}
	}
	type agg struct{ nonFail, sensitive int }
	m := map[[2]string]*agg{}
	for i := range rs {
		r := &rs[i]
		if !w.in(r.ts) {
			continue
		}
		if uas[[2]string{r.user, r.ua}] && isps[[2]string{r.user, r.isp}] {
			continue
		}
		k := [2]string{r.user, r.ua}
		if m[k] == nil {
			m[k] = &agg{}
		}
		if r.cls != "login_fail" {
			m[k].nonFail++
		}
		switch r.cls {
		case "download", "upload", "share", "delete", "mail_rule":
			m[k].sensitive++
		}
	}
	out, n := map[string]bool{}, 0
	for k, a := range m {
		if (toolUA.MatchString(strings.ToLower(k[1])) && a.nonFail > 0) || a.sensitive >= 5 {
			out[k[0]] = true
			n++
		}
	}
	return out, n
}

// detectSpike returns flagged users and the number of (user, metric, day) rows.
func detectSpike(rs []row, w window, raw func(i int) string) (map[string]bool, int) {
	type key struct {
		user, metric string
		day          int64
	}
	daily := map[key]int{}
	for i := range rs {
		r := &rs[i]
		if r.ts < w.since-30*dayMS || r.ts >= w.until {
			continue
		}
		metric := r.cls
		if r.app == appNames[appExchange] && r.act == "MailItemsAccessed" {
			if ok, target := impersonated(raw(r.i)); ok && target != "" {
				metric = "impersonated"
			}
		} else if r.admin {
			metric = "admin"
		}
		switch metric {
		case "download", "share", "delete", "upload", "admin", "impersonated":
			daily[key{r.user, metric, r.ts / dayMS}]++
		}
	}
	sinceDay := w.since / dayMS
	sum, sq := map[[2]string]float64{}, map[[2]string]float64{}
	for k, n := range daily {
		if k.day < sinceDay {
			sum[[2]string{k.user, k.metric}] += float64(n)
			sq[[2]string{k.user, k.metric}] += float64(n * n)
		}
	}
	out, rowsN := map[string]bool{}, 0
	for k, n := range daily {
		if k.day < sinceDay || n < 20 {
			continue
		}
		mk := [2]string{k.user, k.metric}
		mu := sum[mk] / 30
		sd := math.Sqrt(math.Max(sq[mk]/30-mu*mu, 0))
		if (float64(n)-mu)/math.Max(sd, 1) >= 3 {
			out[k.user] = true
			rowsN++
		}
	}
	return out, rowsN
}
