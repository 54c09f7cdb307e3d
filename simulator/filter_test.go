package simulator

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/simulator/synth"
)

// TestEachFilter runs every filter and operator through the documentation's scan loop and compares
// with a brute-force pass over the generator's records written here, not with the server's code.
func TestEachFilter(t *testing.T) {
	s, vc := newTestServer(t, Config{ReturnOversizedTies: true})
	tn := s.Tenant()
	now := vc.Now()
	// Values taken from the data so every case matches something.
	pick := tn.Activity(tn.Len() / 2)
	var admin *synth.Activity
	for i := range tn.Len() {
		if a := tn.Activity(i); a.Admin && a.Country != "" && a.IP != "" {
			admin = a
			break
		}
	}
	if admin == nil {
		t.Fatal("no admin activity in the test tenant")
	}
	ipPrefix := pick.IP[:strings.LastIndex(pick.IP, ".")+1]
	userPrefix := strings.ToUpper(pick.User[:3])
	midTS := tn.Activity(tn.Len() / 2).Timestamp
	dayMs := int64(24 * time.Hour / time.Millisecond)
	nowMs := now.UnixMilli()
	// A text needle: a token of the rendered record, found case-insensitively.
	needle := strings.ToUpper(pick.ID[:12])
	textIDs := map[string]bool{}
	for i := range tn.Len() {
		if bytes.Contains(bytes.ToLower(tn.AppendJSON(nil, i)), []byte(lower(needle))) {
			textIDs[tn.Activity(i).ID] = true
		}
	}

	cases := []struct {
		name    string
		filters string
		keep    func(a *synth.Activity) bool
	}{
		{"date gte", `{"date":{"gte":` + i64(midTS) + `}}`, func(a *synth.Activity) bool { return a.Timestamp >= midTS }},
		{"date gt", `{"date":{"gt":` + i64(midTS) + `}}`, func(a *synth.Activity) bool { return a.Timestamp > midTS }},
		{"date lte", `{"date":{"lte":` + i64(midTS) + `}}`, func(a *synth.Activity) bool { return a.Timestamp <= midTS }},
		{"date lt", `{"date":{"lt":` + i64(midTS) + `}}`, func(a *synth.Activity) bool { return a.Timestamp < midTS }},
		{"date range list of two", `{"date":{"range":[{"start":` + i64(midTS-dayMs) + `,"end":` + i64(midTS-dayMs/2) + `},{"start":` + i64(midTS) + `,"end":` + i64(midTS+dayMs/4) + `}]}}`,
			func(a *synth.Activity) bool {
				return (a.Timestamp >= midTS-dayMs && a.Timestamp <= midTS-dayMs/2) || (a.Timestamp >= midTS && a.Timestamp <= midTS+dayMs/4)
			}},
		{"date gte_ndays", `{"date":{"gte_ndays":2}}`, func(a *synth.Activity) bool { return a.Timestamp >= nowMs-2*dayMs }},
		{"date lte_ndays", `{"date":{"lte_ndays":3}}`, func(a *synth.Activity) bool { return a.Timestamp <= nowMs-3*dayMs }},
		{"created gte lt", `{"created":{"gte":` + i64(midTS) + `,"lt":` + i64(midTS+dayMs) + `}}`, func(a *synth.Activity) bool { return a.Created >= midTS && a.Created < midTS+dayMs }},
		{"created range object", `{"created":{"range":{"start":` + i64(midTS) + `,"end":` + i64(midTS+dayMs) + `}}}`, func(a *synth.Activity) bool { return a.Created >= midTS && a.Created <= midTS+dayMs }},
		{"created gte_ndays", `{"created":{"gte_ndays":1}}`, func(a *synth.Activity) bool { return a.Created >= nowMs-dayMs }},
		{"date and created", `{"date":{"lte":` + i64(midTS) + `},"created":{"gt":` + i64(midTS) + `}}`, func(a *synth.Activity) bool { return a.Timestamp <= midTS && a.Created > midTS }},
		{"service eq", `{"service":{"eq":[11161,20893]}}`, func(a *synth.Activity) bool { return a.AppID == 11161 || a.AppID == 20893 }},
		{"service neq", `{"service":{"neq":11161}}`, func(a *synth.Activity) bool { return a.AppID != 11161 }},
		{"instance eq", `{"instance":{"eq":[0]}}`, func(a *synth.Activity) bool { return a.Instance == 0 }},
		{"activity.id eq", `{"activity.id":{"eq":["` + pick.ID + `","` + admin.ID + `"]}}`, func(a *synth.Activity) bool { return a.ID == pick.ID || a.ID == admin.ID }},
		{"activity.eventType eq", `{"activity.eventType":{"eq":["EVENT_CATEGORY_FAILED_LOGIN"]}}`, func(a *synth.Activity) bool { return a.EventType == "EVENT_CATEGORY_FAILED_LOGIN" }},
		{"activity.eventType neq", `{"activity.eventType":{"neq":["` + pick.EventType + `"]}}`, func(a *synth.Activity) bool { return a.EventType != pick.EventType }},
		{"activity.type true", `{"activity.type":{"eq":true}}`, func(a *synth.Activity) bool { return a.Admin }},
		{"activity.type false string", `{"activity.type":{"eq":"False"}}`, func(a *synth.Activity) bool { return !a.Admin }},
		{"user.username eq any case", `{"user.username":{"eq":"` + strings.ToUpper(pick.User) + `"}}`, func(a *synth.Activity) bool { return strings.EqualFold(a.User, pick.User) }},
		{"user.username startswith", `{"user.username":{"startswith":"` + userPrefix + `"}}`, func(a *synth.Activity) bool { return strings.HasPrefix(lower(a.User), lower(userPrefix)) }},
		{"user.username doesnotstartwith", `{"user.username":{"doesnotstartwith":["` + userPrefix + `"]}}`, func(a *synth.Activity) bool { return !strings.HasPrefix(lower(a.User), lower(userPrefix)) }},
		{"ip.address eq", `{"ip.address":{"eq":["` + pick.IP + `"]}}`, func(a *synth.Activity) bool { return a.IP == pick.IP }},
		{"ip.address startswith", `{"ip.address":{"startswith":"` + ipPrefix + `"}}`, func(a *synth.Activity) bool { return strings.HasPrefix(a.IP, ipPrefix) }},
		{"ip.address doesnotstartwith", `{"ip.address":{"doesnotstartwith":"` + ipPrefix + `"}}`, func(a *synth.Activity) bool { return !strings.HasPrefix(a.IP, ipPrefix) }},
		{"ip.category eq", `{"ip.category":{"eq":[1,"4"]}}`, func(a *synth.Activity) bool { return a.IPCategory == 1 || a.IPCategory == 4 }},
		{"location.country eq", `{"location.country":{"eq":["` + lower(admin.Country) + `"]}}`, func(a *synth.Activity) bool { return strings.EqualFold(a.Country, admin.Country) }},
		{"location.country neq", `{"location.country":{"neq":["` + admin.Country + `"]}}`, func(a *synth.Activity) bool { return !strings.EqualFold(a.Country, admin.Country) }},
		{"location.country isnotset", `{"location.country":{"isnotset":true}}`, func(a *synth.Activity) bool { return a.Country == "" }},
		{"location.country isset", `{"location.country":{"isset":true}}`, func(a *synth.Activity) bool { return a.Country != "" }},
		{"device.type eq", `{"device.type":{"eq":["MOBILE","TABLET"]}}`, func(a *synth.Activity) bool { return a.DeviceType == "MOBILE" || a.DeviceType == "TABLET" }},
		{"source eq", `{"source":{"eq":["` + itoa(int(pick.Source)) + `"]}}`, func(a *synth.Activity) bool { return a.Source == pick.Source }},
		{"source neq", `{"source":{"neq":[` + itoa(int(pick.Source)) + `,5]}}`, func(a *synth.Activity) bool { return a.Source != pick.Source && a.Source != 5 }},
		{"source neq other", `{"source":{"neq":["5"]}}`, func(a *synth.Activity) bool { return a.Source != 5 }},
		{"text", `{"text":{"text":"` + needle + `"}}`, func(a *synth.Activity) bool { return textIDs[a.ID] }},
		{"anded", `{"activity.type":{"eq":true},"service":{"neq":[11161]},"date":{"gte_ndays":4}}`,
			func(a *synth.Activity) bool { return a.Admin && a.AppID != 11161 && a.Timestamp >= nowMs-4*dayMs }},
	}
	// Cases the generator's data cannot match: every record has a country and source 2.
	emptyCases := map[string]bool{"location.country isnotset": true, "source neq": true}
	for n, c := range cases {
		// Each case runs on one sort field, alternating, to keep the test quick; the scan tests
		// cover both fields in depth.
		field := []string{"date", "created"}[n%2]
		t.Run(c.name, func(t *testing.T) {
			var filters map[string]any
			if err := json.Unmarshal([]byte(c.filters), &filters); err != nil {
				t.Fatal(err)
			}
			want := expected(tn, now, c.keep)
			if (len(want) == 0) != emptyCases[c.name] {
				t.Fatalf("case matches %d records in the test tenant (empty expected: %v)", len(want), emptyCases[c.name])
			}
			got, _, err := scanLikeTheDocs(t, s, filters, map[string]any{"limit": 5000, "sortField": field})
			if err != nil {
				t.Fatal(err)
			}
			testkit.IDsExactlyOnce(t, recordIDs(got), want)
		})
	}
}
