package queries

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/output"
)

// adminFromRows is admin work by three users from three untrusted addresses.
func adminFromRows() []act {
	return []act{
		adminFrom("svc-backup@contoso.com", "203.0.113.7", 6, day(2)),
		adminFrom("ops-admin@contoso.com", "198.51.100.77", 6, day(2).Add(time.Hour)),
		adminFrom("ops-admin@contoso.com", "203.0.113.40", 6, day(2).Add(2*time.Hour)),
		adminFrom("mallory@contoso.com", "185.81.68.20", 6, day(2).Add(3*time.Hour)),
	}
}

func sessionWith(t *testing.T, acts []act, allow string) *Session {
	t.Helper()
	db := newActivitiesDB(t)
	loadRecords(t, db, renderActs(acts))
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	if allow != "" {
		l, err := allowlist.Parse([]byte(allow), Names())
		if err != nil {
			t.Fatal(err)
		}
		l.Path = "allow-list.toml"
		if err := s.UseAllowList(t.Context(), l); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestAllowListSuppressesAndCounts(t *testing.T) {
	const allow = `
[global]
users = ["svc-backup@contoso.com"]
[investigation.admin-untrusted-ip]
ip_ranges = ["203.0.113.0/24"]
`
	s := sessionWith(t, adminFromRows(), allow)
	res, meta := investigate(t, s, "admin-untrusted-ip", Request{Now: testNow})
	checkRows(t, res, []row{{"user_name": "ops-admin@contoso.com", "ip": "198.51.100.77"}, {"user_name": "mallory@contoso.com"}})
	want := &output.Suppressed{Rows: 2, AllowList: "allow-list.toml", ByEntry: []output.SuppressedBy{
		{Scope: "global", Kind: "users", Value: "svc-backup@contoso.com", Rows: 1},
		{Scope: "admin-untrusted-ip", Kind: "ip_ranges", Value: "203.0.113.0/24", Rows: 1},
	}}
	if got := meta.Suppressed; got == nil || got.Rows != want.Rows || !slices.Equal(got.ByEntry, want.ByEntry) {
		t.Errorf("suppressed %+v, want %+v", got, want)
	}

	// --show-suppressed keeps them, marked
	res, meta = investigate(t, s, "admin-untrusted-ip", Request{Now: testNow, ShowSuppressed: true})
	checkRows(t, res, []row{
		{"user_name": "svc-backup@contoso.com", "suppressed_by": "global users svc-backup@contoso.com"},
		{"ip": "203.0.113.40", "suppressed_by": "admin-untrusted-ip ip_ranges 203.0.113.0/24"},
		{"ip": "198.51.100.77", "suppressed_by": nil},
		{"user_name": "mallory@contoso.com", "suppressed_by": nil},
	})
	if !meta.Suppressed.Shown || meta.Suppressed.Rows != 2 {
		t.Errorf("shown: %+v", meta.Suppressed)
	}

	// a pivot lists what it is asked for, allow-listed or not
	res, meta = investigate(t, s, "ip-pivot", Request{Now: testNow, Values: map[string]string{"ip": "203.0.113.7"}})
	if len(res.rows) != 1 || meta.Suppressed != nil {
		t.Errorf("ip-pivot: %d rows, suppressed %+v; want the address's row and no suppression", len(res.rows), meta.Suppressed)
	}
}

// TestAllowListNeedsEveryValue: a row naming several values of one kind is suppressed only when
// every one of them is allowed: an allowed office address beside an unknown one stays.
func TestAllowListNeedsEveryValue(t *testing.T) {
	start := day(2).Add(3 * time.Hour)
	ny := signIn("rita@contoso.com", start)
	ny.Category, ny.IP = 6, "203.0.113.10"
	lon := signIn("rita@contoso.com", start.Add(30*time.Minute))
	lon.Country, lon.City, lon.Lat, lon.Lon, lon.IP, lon.Category = "GB", "London", 51.51, -0.13, "185.81.68.20", 6
	s := sessionWith(t, []act{ny, lon}, "[global]\nip_ranges = [\"203.0.113.0/24\"]\n")
	res, meta := investigate(t, s, "impossible-travel", Request{Now: testNow})
	checkRows(t, res, []row{{"from_ip": "203.0.113.10", "to_ip": "185.81.68.20"}})
	if meta.Suppressed == nil || meta.Suppressed.Rows != 0 {
		t.Errorf("suppressed %+v, want a count of 0", meta.Suppressed)
	}
	s = sessionWith(t, []act{ny, lon}, "[global]\nip_ranges = [\"203.0.113.0/24\", \"185.81.68.0/24\"]\n")
	res, meta = investigate(t, s, "impossible-travel", Request{Now: testNow})
	checkRows(t, res, nil)
	if meta.Suppressed.Rows != 1 {
		t.Errorf("suppressed %+v, want the pair", meta.Suppressed)
	}
}

// TestOwnDomainsFromSignInsAndAllowList: the tenant's domains are those of at least min_users
// users' successful sign-ins; the allow-list adds and removes some.
func TestOwnDomainsFromSignInsAndAllowList(t *testing.T) {
	acts := tenantUsers()
	for i, u := range []string{"a", "b", "c"} {
		acts = append(acts, signIn(u+"@fabrikam.com", day(3).Add(time.Duration(i)*time.Minute)))
	}
	acts = append(acts, failedSignIn("x@evil.example", day(3)), failedSignIn("y@evil.example", day(3)))
	domains := func(s *Session) []string {
		t.Helper()
		rdr, err := s.SQL(t.Context(), "SELECT domain FROM own_domains ORDER BY domain")
		if err != nil {
			t.Fatal(err)
		}
		defer rdr.Release()
		var out []string
		for rdr.Next() {
			col := rdr.RecordBatch().Column(0)
			for i := 0; i < col.Len(); i++ {
				out = append(out, strings.Clone(col.ValueStr(i))) // the batch's memory goes with the reader
			}
		}
		return out
	}
	if got := domains(sessionWith(t, acts, "")); !slices.Equal(got, []string{"contoso.com"}) {
		t.Errorf("default: %v, want contoso.com (5 users; fabrikam.com has 3, evil.example only failures)", got)
	}
	got := domains(sessionWith(t, acts, "[tenant]\nmin_users = 3\nown_domains = [\"contoso.co.uk\"]\nnot_own_domains = [\"contoso.com\"]\n"))
	if !slices.Equal(got, []string{"contoso.co.uk", "fabrikam.com"}) {
		t.Errorf("edited: %v, want contoso.co.uk and fabrikam.com", got)
	}
}

func TestIPInRanges(t *testing.T) {
	s := sessionWith(t, nil, "")
	rdr, err := s.SQL(t.Context(), `SELECT ip, ip_in_ranges(ip, ['192.168.1.0/24', '2001:db8::/32']) FROM (VALUES
		('192.168.1.20'), ('192.168.10.5'), ('2001:db8::1'), ('::ffff:192.168.1.7'), ('not an ip'), (NULL)) t(ip) ORDER BY ip NULLS LAST`)
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var got []string
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			got = append(got, rec.Column(0).ValueStr(i)+"="+rec.Column(1).ValueStr(i))
		}
	}
	want := []string{"192.168.1.20=true", "192.168.10.5=false", "2001:db8::1=true", "::ffff:192.168.1.7=true", "not an ip=false", "(null)=false"}
	if !slices.Equal(got, want) {
		t.Errorf("ip_in_ranges: %v, want %v", got, want)
	}
}

// TestEventsWidenAfterARun: an investigation narrows events to its window and history; the
// session's next ad-hoc query sees every event again.
func TestEventsWidenAfterARun(t *testing.T) {
	acts := []act{signIn("old@contoso.com", day(60)), signIn("new@contoso.com", day(1))}
	s := sessionWith(t, acts, "")
	investigate(t, s, "new-country", Request{Now: testNow})
	rdr, err := s.SQL(t.Context(), "SELECT count(*) FROM events")
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	if !rdr.Next() || rdr.RecordBatch().Column(0).ValueStr(0) != "2" {
		t.Errorf("events does not hold both rows after a run")
	}
}

// TestEntitiesNameResultColumns: every entity column a header names is a column of its result,
// so the allow-list can never silently match nothing.
func TestEntitiesNameResultColumns(t *testing.T) {
	s := sessionWith(t, nil, "")
	for _, inv := range All() {
		res, err := s.Investigate(t.Context(), inv, Request{Values: requiredValues(inv), Now: testNow})
		if err != nil {
			t.Fatal(err)
		}
		for kind, cols := range inv.Entities {
			for _, c := range cols {
				if len(res.Schema().FieldIndices(c)) == 0 {
					t.Errorf("%s: entities %s=%s names no column of the result", inv.Name, kind, c)
				}
			}
		}
		res.Release()
	}
}
