package queries

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/simulator/synth"
)

// TestDetectionHeadersDeclareTriage: every detection declares a severity, tactics, techniques,
// entity columns, a counterpart, its sources and a bucket, each ATT&CK id has a name, and every
// pivot declares none of the triage keys. (Parse refuses most of this already; the test names
// the file.)
func TestDetectionHeadersDeclareTriage(t *testing.T) {
	for _, inv := range All() {
		if inv.Kind == Pivot {
			if inv.Severity != "" || len(inv.Techniques) > 0 || len(inv.Tactics) > 0 || inv.Bucket > 0 {
				t.Errorf("%s is a pivot and declares triage", inv.Name)
			}
			continue
		}
		var missing []string
		for _, m := range []struct {
			what string
			ok   bool
		}{{"severity", severityRank(inv.Severity) > 0}, {"tactics", len(inv.Tactics) > 0}, {"techniques", len(inv.Techniques) > 0},
			{"entities", len(inv.Entities) > 0}, {"counterpart", inv.Counterpart != ""}, {"sources", len(inv.Sources) > 0},
			{"bucket", inv.Bucket > 0}} {
			if !m.ok {
				missing = append(missing, m.what)
			}
		}
		if len(missing) > 0 {
			t.Errorf("queries/sql/%s.sql: the header declares no %s", inv.Name, strings.Join(missing, ", "))
		}
		for _, id := range append(slices.Clone(inv.Tactics), inv.Techniques...) {
			if AttackName(id) == "" {
				t.Errorf("%s: ATT&CK id %s has no name in attackNames (queries/triage.go): add it from attack.mitre.org", inv.Name, id)
			}
		}
	}
}

// rawArgs binds inv's defaults for its own SQL alone (a parameter only a severity clause names is
// left out).
func rawArgs(t *testing.T, inv *Investigation) []any {
	t.Helper()
	args, err := inv.Bind(requiredValues(inv), testNow)
	if err != nil {
		t.Fatal(err)
	}
	var out []any
	for _, a := range args {
		if n := a.(sql.NamedArg); regexp.MustCompile(`\$` + n.Name + `\b`).MatchString(inv.SQL) {
			out = append(out, a)
		}
	}
	return out
}

// TestDetectionsReturnTriageColumns: each detection's own SQL returns first_seen and last_seen
// (timestamps), evidence_ids (a list of text) and every entity column its header names; the
// runner's answer starts with severity and ends with first_seen, last_seen, techniques,
// evidence_ids and portal_url.
func TestDetectionsReturnTriageColumns(t *testing.T) {
	db := newActivitiesDB(t)
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	for _, inv := range All() {
		t.Run(inv.Name, func(t *testing.T) {
			rdr, err := s.arrow.QueryContext(t.Context(), "SELECT * FROM ("+strings.TrimSuffix(strings.TrimSpace(inv.SQL), ";")+") LIMIT 0", rawArgs(t, inv)...)
			if err != nil {
				t.Fatal(err)
			}
			own := rdr.Schema()
			rdr.Release()
			if inv.Kind == Pivot {
				return
			}
			field := func(sc *arrow.Schema, name string) (arrow.Field, bool) {
				idx := sc.FieldIndices(name)
				if len(idx) == 0 {
					return arrow.Field{}, false
				}
				return sc.Field(idx[0]), true
			}
			for _, name := range []string{ColFirstSeen, ColLastSeen} {
				if f, ok := field(own, name); !ok || f.Type.ID() != arrow.TIMESTAMP {
					t.Errorf("queries/sql/%s.sql returns no %s timestamp (%v): every detection returns the span of its evidence", inv.Name, name, f.Type)
				}
			}
			if f, ok := field(own, ColEvidenceIDs); !ok || !arrow.TypeEqual(f.Type, arrow.ListOf(arrow.BinaryTypes.String)) &&
				!arrow.TypeEqual(f.Type, arrow.ListOfNonNullable(arrow.BinaryTypes.String)) {
				t.Errorf("queries/sql/%s.sql returns no evidence_ids list of text (%v)", inv.Name, f.Type)
			}
			for kind, cols := range inv.Entities {
				for _, c := range cols {
					if _, ok := field(own, c); !ok {
						t.Errorf("queries/sql/%s.sql: the %s entity column %s is not in its result", inv.Name, kind, c)
					}
				}
			}
			res, err := s.Investigate(t.Context(), inv, Request{Values: requiredValues(inv), Now: testNow})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Release()
			var names []string
			for _, f := range res.Schema().Fields() {
				names = append(names, f.Name)
			}
			if names[0] != ColSeverity || !slices.Equal(names[len(names)-5:], []string{ColFirstSeen, ColLastSeen, ColTechniques, ColEvidenceIDs, ColPortalURL}) {
				t.Errorf("columns %v: want severity first and first_seen, last_seen, techniques, evidence_ids, portal_url last", names)
			}
			if len(names) != own.NumFields()+3 {
				t.Errorf("%d columns, want the detection's %d and 3 more", len(names), own.NumFields())
			}
		})
	}
}

// TestTriageOfRows: on the impossible-travel fixture, each row's severity follows the header
// (high when the arrival is anonymous), techniques are the header's, evidence_ids are cut to the
// request's number, each portal link opens its evidence id, and the meta counts the severities
// and says how links are made.
func TestTriageOfRows(t *testing.T) {
	db := newActivitiesDB(t)
	loadRecords(t, db, renderActs(travelFixture()))
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	values := map[string]string{"since": "2026-03-08", "until": "2026-03-09"}
	t.Run("no portal named", func(t *testing.T) {
		res, meta := investigate(t, s, "impossible-travel", Request{Values: values, Now: testNow})
		if len(res.rows) != 2 {
			t.Fatalf("%d rows:\n%s", len(res.rows), res.table)
		}
		for _, row := range res.rows {
			if links := row[ColPortalURL].([]any); len(links) != 0 {
				t.Errorf("links %v without a portal", links)
			}
		}
		if meta.Portal == nil || meta.Portal.Links != "" || meta.Portal.Note == "" || meta.EvidenceCap != DefaultEvidence {
			t.Errorf("meta portal %+v, cap %d", meta.Portal, meta.EvidenceCap)
		}
		if !slices.ContainsFunc(meta.Summary(), func(l string) bool { return strings.HasPrefix(l, "no portal links: ") }) {
			t.Errorf("the summary does not say why there are no links: %q", meta.Summary())
		}
	})
	p, err := NewPortal(ClassicPortal, "http://127.0.0.1:8080")
	if err != nil {
		t.Fatal(err)
	}
	s.UsePortal(p)
	res, meta := investigate(t, s, "impossible-travel", Request{Values: values, Now: testNow, Evidence: 1})
	want := map[string]string{"alice@contoso.com": "high", "dave@contoso.com": "medium"}
	for _, row := range res.rows {
		user := row["user_name"].(string)
		if row[ColSeverity] != want[user] {
			t.Errorf("%s: severity %v, want %s", user, row[ColSeverity], want[user])
		}
		if jsonText(row[ColTechniques]) != `["T1078.004"]` {
			t.Errorf("%s: techniques %v", user, row[ColTechniques])
		}
		ids, links := row[ColEvidenceIDs].([]any), row[ColPortalURL].([]any)
		if len(ids) != 1 || len(links) != 1 {
			t.Fatalf("%s: evidence %v, links %v; want one of each (Evidence: 1)", user, ids, links)
		}
		if links[0] != "http://127.0.0.1:8080/#/audits?activity.id=eq("+ids[0].(string)+",)" {
			t.Errorf("%s: link %v for evidence %v", user, links[0], ids[0])
		}
		if row[ColFirstSeen] != row["from_ts"] || row[ColLastSeen] != row["to_ts"] {
			t.Errorf("%s: seen %v to %v, want the two sign-ins", user, row[ColFirstSeen], row[ColLastSeen])
		}
	}
	if meta.Severities["high"] != 1 || meta.Severities["medium"] != 1 || meta.EvidenceCap != 1 ||
		meta.Portal == nil || meta.Portal.Links != "http://127.0.0.1:8080/#/audits?activity.id=eq({id},)" {
		t.Errorf("meta severities %v, cap %d, portal %+v", meta.Severities, meta.EvidenceCap, meta.Portal)
	}
}

func TestNewPortal(t *testing.T) {
	cases := []struct {
		template, api, want, err string
	}{
		{ClassicPortal, "https://contoso.eu2.portal.cloudappsecurity.com/api/v1/activities/", "https://contoso.eu2.portal.cloudappsecurity.com/#/audits?activity.id=eq({id},)", ""},
		{ClassicPortal, "https://portal.cloudappsecurity.com/cas", "https://portal.cloudappsecurity.com/#/audits?activity.id=eq({id},)", ""},
		{ClassicPortal, "http://127.0.0.1:41234", "http://127.0.0.1:41234/#/audits?activity.id=eq({id},)", ""},
		{ClassicPortal, "", "", "no portal host"},
		{ClassicPortal, "file", "", "no portal host"},
		{DefenderPortal, "", "https://security.microsoft.com/cloudapps/activity-log?activity.id=eq({id},)", ""},
		{"https://siem.example/activity/{id}", "", "https://siem.example/activity/{id}", ""},
		{"https://siem.example/activity", "", "", "put {id}"},
		{"ftp://siem.example/{id}", "", "", "http or https"},
		{"{id}", "", "", "http or https"},
	}
	for _, c := range cases {
		p, err := NewPortal(c.template, c.api)
		switch {
		case c.err == "" && (err != nil || p.Links != c.want):
			t.Errorf("NewPortal(%q, %q) = %q, %v; want %q", c.template, c.api, p.Links, err, c.want)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("NewPortal(%q, %q) = %q, %v; want an error saying %q", c.template, c.api, p.Links, err, c.err)
		}
	}
	if _, err := NewPortal(ClassicPortal, ""); !errors.Is(err, ErrNoPortalHost) {
		t.Errorf("no host: %v, want ErrNoPortalHost", err)
	}
}

func FuzzNewPortal(f *testing.F) {
	f.Add(ClassicPortal, "https://contoso.portal.cloudappsecurity.com")
	f.Add(DefenderPortal, "")
	f.Add("https://x/{id}/{portal}", "http://[::1]:80/a")
	f.Fuzz(func(t *testing.T, template, api string) {
		p, err := NewPortal(template, api)
		if err != nil {
			return
		}
		if strings.Contains(p.Links, "{portal}") || !strings.Contains(p.Links, "{id}") {
			t.Fatalf("links %q", p.Links)
		}
		u, err := url.Parse(strings.ReplaceAll(p.Links, "{id}", "1"))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("links %q make no http URL: %v", p.Links, err)
		}
	})
}

// checkEvidence checks the triage of a detection's rows on a simulated tenant: each row has a
// severity of the header's levels, the header's techniques, first_seen not after last_seen, and
// evidence ids that are activities of the warehouse, the first at first_seen and none outside
// [first_seen, last_seen]; each link opens its id; and a row that reports the plant rests on some
// of the plant's own activities.
func checkEvidence(t *testing.T, s *Session, inv *Investigation, res result, plant *synth.Incident) {
	t.Helper()
	if inv.Kind != Detection {
		return
	}
	var all []string
	for _, row := range res.rows {
		for _, id := range row[ColEvidenceIDs].([]any) {
			all = append(all, id.(string))
		}
	}
	stored := activityTimes(t, s, all)
	plantIDs := map[string]bool{}
	if plant != nil {
		for _, id := range plant.IDs {
			plantIDs[id] = true
		}
	}
	restsOnPlant := plant == nil
	for i, row := range res.rows {
		if !slices.Contains(Severities, fmt.Sprint(row[ColSeverity])) || jsonText(row[ColTechniques]) != jsonText(inv.Techniques) {
			t.Errorf("row %d: severity %v, techniques %v", i, row[ColSeverity], row[ColTechniques])
		}
		first, err1 := time.Parse(time.RFC3339Nano, fmt.Sprint(row[ColFirstSeen]))
		last, err2 := time.Parse(time.RFC3339Nano, fmt.Sprint(row[ColLastSeen]))
		ids, links := row[ColEvidenceIDs].([]any), row[ColPortalURL].([]any)
		if err1 != nil || err2 != nil || last.Before(first) || len(ids) == 0 || len(ids) > DefaultEvidence || len(links) != len(ids) {
			t.Errorf("row %d: first_seen %v, last_seen %v, %d evidence ids, %d links", i, row[ColFirstSeen], row[ColLastSeen], len(ids), len(links))
			continue
		}
		for j, v := range ids {
			id := v.(string)
			at, ok := stored[id]
			switch {
			case !ok:
				t.Errorf("row %d: evidence id %s is no activity of the warehouse", i, id)
			case at.Before(first) || at.After(last) || (j == 0 && !at.Equal(first)):
				t.Errorf("row %d: evidence %s at %s, outside the span %s to %s (or not its start)", i, id, at, first, last)
			}
			if want := "http://127.0.0.1:1/#/audits?activity.id=eq(" + url.QueryEscape(id) + ",)"; links[j] != want {
				t.Errorf("row %d: link %v, want %s", i, links[j], want)
			}
			restsOnPlant = restsOnPlant || plantIDs[id]
		}
	}
	if !restsOnPlant {
		t.Errorf("no row rests on an activity of the planted incident (%d ids in the truth):\n%s", len(plantIDs), res.table)
	}
}

// activityTimes returns the time of each id that is an event of the session's warehouse (an
// activity, or a row of the stream that is no activity too).
func activityTimes(t *testing.T, s *Session, ids []string) map[string]time.Time {
	t.Helper()
	out := map[string]time.Time{}
	for len(ids) > 0 {
		n := min(len(ids), 500)
		q := "SELECT id, ts FROM all_events WHERE id IN (" + strings.TrimSuffix(strings.TrimPrefix(sqlList(ids[:n]), "["), "]::VARCHAR[]") + ")"
		ids = ids[n:]
		rows, err := s.conn.QueryContext(t.Context(), q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id string
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				t.Fatal(err)
			}
			out[id] = at.UTC()
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// simPortal is the portal of a simulator at 127.0.0.1:1, as a scan of it names it.
func simPortal(t testing.TB) output.Portal {
	t.Helper()
	p, err := NewPortal(ClassicPortal, "http://127.0.0.1:1/api/v1/activities/")
	if err != nil {
		t.Fatal(err)
	}
	return p
}
