package delivery

import (
	"net"
	"strconv"
	"strings"
	"time"
)

// CEF header values (docs/detect.md, "CEF").
const (
	cefVendor  = "mcasload"
	cefProduct = "mcasload"
	// cefValueMax is the longest extension value written: 1023 characters is the smallest limit
	// the CEF standard sets for a string key (msg, suser, request), so every parser takes it.
	cefValueMax = 1023
)

// cefSeverity maps a finding's severity onto CEF's 0–10 scale, at the middle of the standard's
// bands: 0–3 low, 4–6 medium, 7–8 high, 9–10 very high. Nothing is "very high": a detection
// from activity logs is a lead, not a confirmed compromise.
func cefSeverity(s Severity) int {
	switch s {
	case High:
		return 8
	case Medium:
		return 5
	case Low:
		return 3
	}
	return 1
}

// cefHeader escapes a header field: '\' and '|' with a backslash; line breaks and other control
// characters, which a header may not hold, become spaces.
func cefHeader(s string) string { return cefEscape(s, true) }

// cefValue escapes an extension value: '\' and '=' with a backslash, CR and LF as \r and \n;
// other control characters become spaces. '|' needs no escape in the extension.
func cefValue(s string) string { return cefEscape(s, false) }

func cefEscape(s string, header bool) string {
	special := '='
	if header {
		special = '|'
	}
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '\\' || r == special:
			b.WriteByte('\\')
			b.WriteRune(r)
		case !header && r == '\n':
			b.WriteString(`\n`)
		case !header && r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cefList joins values with commas, stopping before the list would pass cefValueMax, so a
// long evidence list is cut between ids, never inside one.
func cefList(values []string) string {
	var b strings.Builder
	for _, v := range values {
		if b.Len()+len(v)+1 > cefValueMax {
			break
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(v)
	}
	return b.String()
}

func epochMillis(t time.Time) string { return strconv.FormatInt(t.UnixMilli(), 10) }

// cefMessage is the finding as one CEF:0 event. sent is when it is sent (rt).
func cefMessage(f *Finding, version string, sent time.Time) string {
	var b strings.Builder
	b.WriteString("CEF:0|")
	for _, h := range []string{cefVendor, cefProduct, version, f.Key.Investigation, f.title()} {
		b.WriteString(cefHeader(shorten(h, cefValueMax)))
		b.WriteByte('|')
	}
	b.WriteString(strconv.Itoa(cefSeverity(f.Severity)))
	b.WriteByte('|')
	ipKey := "src"
	if ip := f.Key.Entities.IP; ip != "" && net.ParseIP(ip) == nil {
		ipKey = "shost" // src takes an address only
	}
	portal := ""
	if len(f.PortalURLs) > 0 {
		portal = f.PortalURLs[0]
	}
	ext := [][2]string{
		{"externalId", f.ID},
		{"rt", epochMillis(sent)},
		{"start", epochMillis(f.FirstSeen)},
		{"end", epochMillis(f.LastSeen)},
		{"msg", f.summary()},
		{"suser", f.Key.Entities.User},
		{ipKey, f.Key.Entities.IP},
		{"destinationServiceName", f.Key.Entities.App},
		{"cnt", strconv.Itoa(len(f.EvidenceIDs))},
		{"cs1Label", "portalURL"}, {"cs1", portal},
		{"cs2Label", "techniques"}, {"cs2", cefList(f.Techniques)},
		{"cs3Label", "evidenceIds"}, {"cs3", cefList(f.EvidenceIDs)},
		{"cs4Label", "tenant"}, {"cs4", f.Key.Tenant},
		{"cs5Label", "reason"}, {"cs5", string(f.Reason)},
		{"cs6Label", "object"}, {"cs6", f.Key.Entities.Object},
		{"cn1Label", "notification"}, {"cn1", strconv.Itoa(f.Notification)},
		{"flexString1Label", "status"}, {"flexString1", string(f.Status)},
		{"flexString2Label", "bucket"}, {"flexString2", f.Key.Bucket},
	}
	first := true
	for i := 0; i < len(ext); i++ {
		k, v := ext[i][0], ext[i][1]
		if strings.HasSuffix(k, "Label") {
			// A label goes out only with its value.
			if ext[i+1][1] == "" {
				i++
				continue
			}
		} else if v == "" {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(cefValue(shorten(v, cefValueMax)))
	}
	return b.String()
}
