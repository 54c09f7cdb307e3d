package queries

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/output"
	"github.com/mcasload/mcasload/simulator/synth"
)

// synthEnd is the newest activity of every generated test tenant.
var synthEnd = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// tenantJSON renders every record of ten as the API sends it.
func tenantJSON(ten *synth.Tenant) []json.RawMessage {
	recs := make([]json.RawMessage, ten.Len())
	var buf []byte
	for i := range recs {
		buf = ten.AppendJSON(buf[:0], i)
		recs[i] = bytes.Clone(buf)
	}
	return recs
}

// tenantSession generates a tenant, loads every record through the real converter into an
// in-memory activities table, and opens a locked session over it.
func tenantSession(t testing.TB, cfg synth.Config) (*Session, synth.GroundTruth) {
	t.Helper()
	start := time.Now()
	ten := synth.New(cfg)
	recs := tenantJSON(ten)
	db := newActivitiesDB(t)
	loadRecords(t, db, recs)
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("tenant seed %d: %d users, %d activities, loaded in %s", cfg.Seed, cfg.Users, ten.Len(), time.Since(start).Round(time.Millisecond))
	return s, ten.GroundTruth()
}

// result is an investigation's output as rows of Go values (ndjson decoded), with the column
// types.
type result struct {
	cols  []arrow.Field
	rows  []map[string]any
	table string // the rendered table, for failure messages
}

func runResult(t *testing.T, s *Session, name string, values map[string]string) result {
	t.Helper()
	res, _ := investigate(t, s, name, Request{Values: values, Now: synthEnd})
	return res
}

// investigate runs one investigation and returns its rows and its meta.
func investigate(t *testing.T, s *Session, name string, req Request) (result, output.Meta) {
	t.Helper()
	inv, err := Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := s.Investigate(t.Context(), inv, req)
	if err != nil {
		t.Fatal(err)
	}
	defer answer.Release()
	rdr, err := answer.Reader()
	if err != nil {
		t.Fatal(err)
	}
	defer rdr.Release()
	var recs []arrow.RecordBatch
	for rdr.Next() {
		rec := rdr.RecordBatch()
		rec.Retain()
		recs = append(recs, rec)
	}
	if err := rdr.Err(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, r := range recs {
			r.Release()
		}
	}()
	render := func(f output.Format) []byte {
		r, err := array.NewRecordReader(rdr.Schema(), recs)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Release()
		var b bytes.Buffer
		if _, err := output.Write(&b, r, output.Options{Format: f, Width: 200}); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	res := result{cols: rdr.Schema().Fields(), table: string(render(output.Table))}
	dec := json.NewDecoder(bytes.NewReader(render(output.NDJSON)))
	for dec.More() {
		var row map[string]any
		if err := dec.Decode(&row); err != nil {
			t.Fatal(err)
		}
		res.rows = append(res.rows, row)
	}
	return res, answer.Meta
}

// strings lists every text value in a row, list elements included, lower-cased.
func rowStrings(row map[string]any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, strings.ToLower(v))
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	for _, v := range row {
		walk(v)
	}
	return out
}

func mentions(row map[string]any, any ...string) bool {
	vals := rowStrings(row)
	for _, s := range any {
		if slices.Contains(vals, strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// hasTimeIn reports whether a time or date column of row falls in [from, to] (dates: the day).
func (r result) hasTimeIn(row map[string]any, from, to time.Time) bool {
	for _, f := range r.cols {
		v, ok := row[f.Name].(string)
		if !ok {
			continue
		}
		switch f.Type.ID() {
		case arrow.TIMESTAMP:
			ts, err := time.Parse(time.RFC3339Nano, v)
			if err == nil && !ts.Before(from) && !ts.After(to) {
				return true
			}
		case arrow.DATE32:
			d, err := time.Parse("2006-01-02", v)
			if err == nil && !d.Before(from.Truncate(24*time.Hour)) && !d.After(to) {
				return true
			}
		}
	}
	return false
}

func (r result) hasColumn(names ...string) bool {
	for _, f := range r.cols {
		if slices.Contains(names, f.Name) {
			return true
		}
	}
	return false
}

// paramsFor gives the parameters a lookup investigation needs for an incident.
func paramsFor(inc synth.Incident) map[string]string {
	switch inc.Kind {
	case "ip-pivot":
		return map[string]string{"ip": fmt.Sprint(inc.Detail["seedIP"])}
	case "user-timeline":
		return map[string]string{"user": inc.User}
	}
	return nil
}

// incidentKind is the planted incident an investigation must find: the pivot impersonation-list
// lists what impersonation-review's plant did.
func incidentKind(inv string) string {
	if inv == "impersonation-list" {
		return "impersonation-review"
	}
	return inv
}

func TestInvestigationsFindPlantedIncidentsNotDecoys(t *testing.T) {
	users := 100
	if testing.Short() {
		users = 60
	}
	for _, seed := range []int64{1, 2} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			s, truth := tenantSession(t, synth.Config{Seed: seed, Users: users, Days: 37, End: synthEnd, Incidents: true})
			s.UsePortal(simPortal(t))
			byKind := map[string][2]*synth.Incident{}
			for i := range truth.Incidents {
				inc := &truth.Incidents[i]
				pair := byKind[inc.Kind]
				if inc.Decoy {
					pair[1] = inc
				} else {
					pair[0] = inc
				}
				byKind[inc.Kind] = pair
			}
			for _, inv := range All() {
				t.Run(inv.Name, func(t *testing.T) {
					pair, ok := byKind[incidentKind(inv.Name)]
					if !ok || pair[0] == nil || pair[1] == nil {
						t.Fatalf("the ground truth has no incident and decoy of kind %s", incidentKind(inv.Name))
					}
					checkIncident(t, s, inv, *pair[0], *pair[1])
				})
			}
			// A window wider than the warehouse: 40 days over 37. There is no history before it,
			// so the result is provisional, and each day is judged against the days before it in
			// the window: the planted new country (in the last week) is still found.
			t.Run("new-country/since=40d", func(t *testing.T) {
				inc := byKind["new-country"][0]
				res, meta := investigate(t, s, "new-country", Request{Values: map[string]string{"since": "40d"}, Now: synthEnd})
				if !meta.Provisional || meta.History == nil || meta.History.AvailableDays != 0 || len(meta.Notes) == 0 {
					t.Errorf("meta %+v, want provisional with no history available and a note", meta)
				}
				found := false
				for _, row := range res.rows {
					found = found || mentions(row, inc.User) && mentions(row, inc.IPs...)
				}
				if !found {
					t.Errorf("the planted new country of %s is lost at --since 40d:\n%s", inc.User, res.table)
				}
			})
		})
	}
}

// checkIncident runs the incident's investigation over the last 7 days and requires a row naming
// the incident's user (or, keyed by address, its IP), one of its IPs where the result has an IP
// column, and a time inside its span (buckets allowed); and no row naming the decoy.
func checkIncident(t *testing.T, s *Session, inv *Investigation, inc, decoy synth.Incident) {
	t.Helper()
	res := runResult(t, s, inv.Name, paramsFor(inc))
	slack := 15 * time.Minute
	from, to := inc.Start.Add(-slack), inc.End.Add(slack)
	if inc.Kind == "user-timeline" {
		from = inc.Start.Truncate(time.Hour)
	}
	users := append([]string{inc.User}, inc.Users...)
	found := false
	for _, row := range res.rows {
		keyed := mentions(row, users...)
		switch inc.Kind {
		case "password-spray", "user-timeline":
			keyed = mentions(row, inc.IPs...) // keyed by address, or the user is the parameter
		}
		ipOK := !res.hasColumn("ip", "ips", "to_ip", "from_ip") || mentions(row, inc.IPs...)
		if keyed && ipOK && res.hasTimeIn(row, from, to) {
			found = true
		}
	}
	if !found {
		t.Errorf("%s: no row for user %s, IPs %v, between %s and %s:\n%s", inv.Name, inc.User, inc.IPs,
			inc.Start.Format(time.RFC3339), inc.End.Format(time.RFC3339), res.table)
	}
	checkEvidence(t, s, inv, res, &inc)
	decoyKeys := []string{decoy.User}
	switch inc.Kind {
	case "password-spray", "ip-pivot":
		decoyKeys = decoy.IPs
	case "user-timeline":
		decoyKeys = nil // one user's story: the decoy user cannot appear
	}
	if inv.Kind == Pivot && inv.Name != "ip-pivot" {
		decoyKeys = nil // a pivot lists the benign too
	}
	for _, row := range res.rows {
		if len(decoyKeys) > 0 && mentions(row, decoyKeys...) {
			t.Errorf("%s reports the decoy (%s, %v: %v):\n%s", inc.Kind, decoy.User, decoy.IPs, decoy.Detail["note"], res.table)
			break
		}
	}
}
