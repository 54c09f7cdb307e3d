package bench

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// The second record shape of the offline step. The simulator's records are one tenant's: a
// few dozen apps and a rawDataJson of about 1 KB. Other tenants send records that look
// different, and the load must be fast for those too: a wide rawDataJson (4 to 50 KB, most
// near the low end), keys that differ only in case (ClientIP and clientIP side by side, as
// Office 365 audit records carry them), hundreds of apps and event types. writeWide
// generates them, deterministically from a seed, in the order a scan returns them (by time).
const (
	wideApps       = 400               // distinct apps
	wideUsers      = 20_000            // distinct users
	wideMinRawData = 4 << 10           // smallest rawDataJson
	wideMaxRawData = 50 << 10          // largest rawDataJson
	wideSkew       = 4                 // size = min·(max/min)^(u^skew): median ≈ 4.8 KB, mean ≈ 9 KB
	wideSpanMillis = 30 * 86_400 * 1e3 // the records cover 30 days
)

// wideWords is the vocabulary of property names and values: real records repeat a small
// vocabulary, which is what makes them compress about 4 to 6 times.
var wideWords = []string{
	"Sharepoint", "OneDrive", "Exchange", "AzureActiveDirectory", "MicrosoftTeams", "PowerBI", "Yammer",
	"SecurityComplianceCenter", "MicrosoftForms", "Dynamics365", "Planner", "Stream", "Sway", "Project",
	"FileAccessed", "FileModified", "FileDownloaded", "FileUploaded", "FilePreviewed", "SharingSet",
	"AddedToGroup", "UserLoggedIn", "MailItemsAccessed", "Send", "MoveToDeletedItems", "SoftDelete",
	"Update user.", "Add member to role.", "Set-Mailbox", "New-InboxRule", "Set-InboxRule", "Consent to application.",
	"UserAgent", "RequestType", "ResultStatusDetail", "KeepMeSignedIn", "UserAuthenticationMethod",
	"Succeeded", "Failed", "PartiallySucceeded", "True", "False", "Redirect", "OAuth2:Authorize", "Login:login",
	"Windows 10", "MacOs", "iOS", "Android", "Chrome", "Edge", "Firefox", "Safari", "Compliant", "Managed",
	"TrustType", "DisplayName", "OS", "BrowserType", "IsCompliantAndManaged", "SessionId", "DeviceId",
	"https://contoso.sharepoint.com/sites/Finance/Shared Documents", "Quarterly report.xlsx", "Budget 2027.docx",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "ListItemUniqueId", "SiteUrl",
}

var wideCountries = []string{"US", "GB", "DE", "FR", "NL", "IE", "ES", "IT", "SE", "PL", "IN", "JP", "AU", "CA", "BR", "SG", "ZA", "MX"}

// writeWide writes n records of the wide shape as NDJSON and returns the bytes written. The
// records' times run over the 30 days before end, in order, like a scan's pages.
func writeWide(w io.Writer, seed uint64, n int, end time.Time) (int64, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	start := end.UnixMilli() - wideSpanMillis
	var total int64
	buf := make([]byte, 0, 64<<10)
	// Each record has its own stream (seed, i), so any record can be generated alone; the
	// same on every platform.
	var src rand.PCG
	r := rand.New(&src)
	for i := range n {
		src.Seed(seed, uint64(i))
		ts := start + int64(float64(i)/float64(n)*wideSpanMillis) + int64(r.IntN(1000))
		buf = wideRecord(buf[:0], r, ts)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return total, fmt.Errorf("write wide records: %w", err)
		}
		total += int64(len(buf))
	}
	if err := bw.Flush(); err != nil {
		return total, fmt.Errorf("write wide records: %w", err)
	}
	return total, nil
}

// wideRecord appends one record. Strings are generated from ASCII letters, digits and the
// vocabulary, so they need no JSON escaping.
func wideRecord(b []byte, r *rand.Rand, ts int64) []byte {
	id := make([]byte, 0, 64)
	for range 4 {
		id = fmt.Appendf(id, "%016x", r.Uint64())
	}
	app := int(float64(wideApps) * math.Pow(r.Float64(), 2)) // a few apps busy, hundreds occasional
	user := fmt.Sprintf("user%05d@fabrikam.com", r.IntN(wideUsers))
	ip := fmt.Sprintf("%d.%d.%d.%d", 20+r.IntN(180), r.IntN(256), r.IntN(256), 1+r.IntN(254))
	country := wideCountries[r.IntN(len(wideCountries))]
	op := wideWords[14+r.IntN(18)]
	created := ts + int64(r.IntN(600_000))
	b = append(b, `{"_id":"`...)
	b = append(b, id...)
	b = append(b, `","uid":"`...)
	b = append(b, id...)
	b = append(b, '"')
	b = appendKV(b, "appId", strconv.Itoa(10000+app*37))
	b = appendKV(b, "saasId", strconv.Itoa(10000+app*37))
	b = appendKQ(b, "appName", fmt.Sprintf("App %03d %s", app, wideWords[app%14]))
	b = appendKV(b, "timestamp", strconv.FormatInt(ts, 10))
	b = appendKV(b, "timestampRaw", strconv.FormatInt(ts, 10))
	b = appendKV(b, "created", strconv.FormatInt(created, 10))
	b = appendKQ(b, "eventTypeName", fmt.Sprintf("EVENT_CATEGORY_%s", []string{"LOGIN", "DOWNLOAD_FILE", "UPLOAD_FILE", "SHARE_FILE", "EDIT_FILE", "UNSPECIFIED", "CHANGE_SETTINGS", "FAILED_LOGIN"}[r.IntN(8)]))
	b = appendKQ(b, "eventTypeValue", fmt.Sprintf("EVENT_APP%03d_%s", app, op))
	b = appendKQ(b, "description", op+" on "+wideWords[r.IntN(len(wideWords))])
	b = append(b, `,"device":{"clientIP":"`...)
	b = append(b, ip...)
	b = append(b, `","countryCode":"`...)
	b = append(b, country...)
	b = append(b, `","userAgent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0"}`...)
	b = fmt.Appendf(b, `,"location":{"countryCode":"%s","city":"city %d","latitude":%d.%04d,"longitude":%d.%04d,"organizationSearchable":"ISP %d","anonymousProxy":%t,"category":%d}`,
		country, r.IntN(500), r.IntN(60), r.IntN(10000), r.IntN(120), r.IntN(10000), r.IntN(300), r.IntN(50) == 0, 1+r.IntN(6))
	b = fmt.Appendf(b, `,"mainInfo":{"rawOperationName":"%s","activityResult":{"isSuccess":%t},"eventObjects":[{"name":"%s","id":"%s","objType":%d}]}`,
		op, r.IntN(10) != 0, user, user, r.IntN(30))
	b = fmt.Appendf(b, `,"user":{"userName":"%s"},"userAgent":{"deviceType":"%s"},"eventRouting":{"adminEvent":%t}`,
		user, []string{"DESKTOP", "MOBILE", "TABLET", "OTHER"}[r.IntN(4)], r.IntN(20) == 0)
	b = append(b, `,"rawDataJson":`...)
	b = wideRawData(b, r, ts, user, ip, op)
	return append(b, '}')
}

// wideRawData appends an Office 365 audit record of 4 to 50 KB whose keys repeat in another
// case (ClientIP and clientIP, UserId and userId, Name and name), with long property lists.
func wideRawData(b []byte, r *rand.Rand, ts int64, user, ip, op string) []byte {
	size := int(float64(wideMinRawData) * math.Pow(float64(wideMaxRawData)/wideMinRawData, math.Pow(r.Float64(), wideSkew)))
	start := len(b)
	b = fmt.Appendf(b, `{"CreationTime":"%s","Id":"%016x-%016x","Operation":"%s","RecordType":%d,"UserType":0,"Version":1,"Workload":"%s"`,
		time.UnixMilli(ts).UTC().Format("2006-01-02T15:04:05"), r.Uint64(), r.Uint64(), op, r.IntN(200), wideWords[r.IntN(14)])
	b = fmt.Appendf(b, `,"ClientIP":"%s","clientIP":"%s","UserId":"%s","userId":"%s","ObjectId":"%016x","objectId":"%016x"`, ip, ip, user, user, r.Uint64(), r.Uint64())
	if r.IntN(8) == 0 {
		b = fmt.Appendf(b, `,"Parameters":[{"Name":"Identity","Value":"%s"},{"Name":"ForwardingSmtpAddress","Value":"smtp:ext%d@example.net"}]`, user, r.IntN(1000))
	}
	b = append(b, `,"ExtendedProperties":[`...)
	for k := 0; len(b)-start < size-200; k++ {
		if k > 0 {
			b = append(b, ',')
		}
		name := wideWords[r.IntN(len(wideWords))]
		switch r.IntN(4) {
		case 0: // a value that differs per record: an id
			b = fmt.Appendf(b, `{"Name":"%s","name":"%s","Value":"%016x%016x"}`, name, name, r.Uint64(), r.Uint64())
		case 1:
			b = fmt.Appendf(b, `{"Name":"%s","Value":"%d","Type":%d}`, name, r.IntN(100000), r.IntN(9))
		default:
			b = fmt.Appendf(b, `{"Name":"%s","Value":"%s %s"}`, name, wideWords[r.IntN(len(wideWords))], wideWords[r.IntN(len(wideWords))])
		}
	}
	return append(b, "]}"...)
}

func appendKV(b []byte, k, v string) []byte {
	b = append(b, ',', '"')
	b = append(b, k...)
	b = append(b, '"', ':')
	return append(b, v...)
}

func appendKQ(b []byte, k, v string) []byte {
	b = appendKV(b, k, `"`)
	b = append(b, v...)
	return append(b, '"')
}

// wideNDJSON returns the cached file of n wide records from seed, generating it when missing
// (through a temporary file and a rename, so an interrupted run leaves no half file).
func (h *Harness) wideNDJSON(seed uint64, n int) (string, error) {
	path := filepath.Join(h.cfg.cacheDir(), fmt.Sprintf("wide-s%d-n%d.ndjson", seed, n))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	h.logf("generating %s", path)
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("generate wide records: %w", err)
	}
	// A fixed end keeps the cached file the same whatever the day it is generated.
	end := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := writeWide(f, seed, n, end); err != nil {
		f.Close()
		os.Remove(tmp)
		return "", err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("generate wide records: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("generate wide records: %w", err)
	}
	return path, nil
}
