package xdrstream_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/simulator/xdrstream"
)

// streamLine is what the tests read back of a rendered line.
type streamLine struct {
	Properties struct {
		ReportID     string    `json:"ReportId"`
		Timestamp    time.Time `json:"Timestamp"`
		IPAddress    *string   `json:"IPAddress"`
		ActionType   string    `json:"ActionType"`
		ActivityType string    `json:"ActivityType"`
	} `json:"properties"`
}

func parseLines(t *testing.T, lines [][]byte) map[string]streamLine {
	t.Helper()
	out := map[string]streamLine{}
	for _, b := range lines {
		var l streamLine
		if err := json.Unmarshal(b, &l); err != nil {
			t.Fatal(err)
		}
		if _, dup := out[l.Properties.ReportID]; dup {
			t.Fatalf("ReportId %s twice", l.Properties.ReportID)
		}
		out[l.Properties.ReportID] = l
	}
	return out
}

// TestDefaultDifferences: by default the stream differs from the API as real feeds do, and
// Exact turns every difference off.
func TestDefaultDifferences(t *testing.T) {
	tn := simTenant()
	through := end.Add(time.Hour)
	lines, truth, err := xdrstream.Lines(xdrstream.Config{Tenant: tn}, through)
	if err != nil {
		t.Fatal(err)
	}
	exact, _, err := xdrstream.Lines(xdrstream.Config{Tenant: tn, Differences: xdrstream.Differences{Exact: true}}, through)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != tn.Len() || len(exact) != tn.Len() || truth.Events != len(lines) || len(truth.Dropped)+len(truth.ReIDs)+len(truth.Extra) != 0 {
		t.Fatalf("%d and %d lines for %d activities, truth %+v", len(lines), len(exact), tn.Len(), truth.Differences)
	}
	got, want := parseLines(t, lines), parseLines(t, exact)
	var later, noIP, logon int
	for id, w := range want {
		g, ok := got[id]
		if !ok {
			t.Fatalf("%s: missing from the default stream", id)
		}
		dt := g.Properties.Timestamp.Sub(w.Properties.Timestamp)
		switch {
		case dt > 0 && dt < 10*time.Second:
			later++
		case dt != 0:
			t.Errorf("%s: %s apart", id, dt)
		}
		if g.Properties.IPAddress == nil && w.Properties.IPAddress != nil {
			noIP++
		}
		if g.Properties.ActionType != w.Properties.ActionType {
			logon++
			if !strings.HasPrefix(g.Properties.ActionType, "Logon") || (g.Properties.ActionType == "LogonFailed") != (w.Properties.ActivityType == "Failed login") {
				t.Errorf("%s: ActionType %s for %s (%s)", id, g.Properties.ActionType, w.Properties.ActionType, w.Properties.ActivityType)
			}
		}
	}
	n := len(want)
	if later < n/5 || later > n/2 || noIP < n/40 || noIP > n/10 || logon == 0 {
		t.Errorf("of %d events: %d later, %d without IP, %d reworded sign-ins", n, later, noIP, logon)
	}
}

// TestSettingsDifferences: the settings drop, re-id and add exactly the counts asked for, the
// truth lists exactly those, and the lines show them.
func TestSettingsDifferences(t *testing.T) {
	tn := simTenant()
	d := xdrstream.Differences{Drop: 7, ReID: 5, Extra: 4}
	lines, truth, err := xdrstream.Lines(xdrstream.Config{Tenant: tn, Differences: d}, end.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(truth.Dropped) != d.Drop || len(truth.ReIDs) != d.ReID || len(truth.Extra) != d.Extra || truth.Differences != d {
		t.Fatalf("truth: %d dropped, %d re-id'd, %d extra, settings %+v", len(truth.Dropped), len(truth.ReIDs), len(truth.Extra), truth.Differences)
	}
	if len(lines) != tn.Len()-d.Drop+d.Extra {
		t.Fatalf("%d lines for %d activities with %+v", len(lines), tn.Len(), d)
	}
	got := parseLines(t, lines)
	for _, c := range truth.Dropped {
		if _, ok := got[c.ReportID]; ok || !strings.HasPrefix(c.ReportID, c.ActivityID+"_") {
			t.Errorf("dropped %s (%s) is in the stream", c.ActivityID, c.ReportID)
		}
	}
	for _, c := range truth.ReIDs {
		if _, ok := got[c.ReportID]; !ok || strings.HasPrefix(c.ReportID, c.ActivityID) {
			t.Errorf("re-id'd %s: %s not in the stream or still its id", c.ActivityID, c.ReportID)
		}
	}
	for _, c := range truth.Extra {
		if _, ok := got[c.ReportID]; !ok || c.ActivityID != "" {
			t.Errorf("extra %s not in the stream", c.ReportID)
		}
	}
}
