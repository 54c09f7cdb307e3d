package delivery

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
)

// TestKeyID pins the finding id: a golden value (a change would make receivers see every old
// finding as new), a different id for a change in any part, and no ambiguity where parts meet.
func TestKeyID(t *testing.T) {
	base := sample().Key
	if got, want := base.ID(), "e2e8e2cd49933446fd6e6ff90adf8e66"; got != want {
		t.Errorf("ID() = %s, want %s: the id scheme changed, which re-announces every finding", got, want)
	}
	if len(base.ID()) != 32 {
		t.Errorf("ID() has %d characters, want 32", len(base.ID()))
	}
	variants := map[string]func(k *Key){
		"tenant":        func(k *Key) { k.Tenant = "fabrikam" },
		"investigation": func(k *Key) { k.Investigation = "new-country" },
		"user":          func(k *Key) { k.Entities.User = "bob@contoso.com" },
		"ip":            func(k *Key) { k.Entities.IP = "198.51.100.1" },
		"app":           func(k *Key) { k.Entities.App = "Box" },
		"object":        func(k *Key) { k.Entities.Object = "report.xlsx" },
		"bucket":        func(k *Key) { k.Bucket = "2026-12-06" },
		// The same bytes split differently between two parts must not collide.
		"boundary": func(k *Key) { k.Tenant, k.Investigation = "contosoi", "mpossible-travel" },
	}
	seen := map[string]string{base.ID(): "base"}
	for name, change := range variants {
		k := base
		change(&k)
		id := k.ID()
		if prev, dup := seen[id]; dup {
			t.Errorf("%s gives the same id as %s", name, prev)
		}
		seen[id] = name
	}
	if !idPattern.MatchString(base.ID()) {
		t.Errorf("Key.ID() %q does not pass Validate's id pattern", base.ID())
	}
}

// TestWireFormat pins the JSON of a finding (testdata/finding.json; -update rewrites it) and
// reads it back.
func TestWireFormat(t *testing.T) {
	f := sample()
	f.PreviousSeverity, f.Reason, f.Notification = Medium, ReasonSeverityRose, 2
	got, err := f.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(got), "\n") {
		t.Errorf("the wire JSON spans lines: %s", got)
	}
	if !strings.Contains(string(got), "activity.id=eq(a1b2,)") || strings.Contains(string(got), `\u0026`) {
		t.Errorf("URLs are HTML-escaped or missing: %s", got)
	}
	testkit.Golden(t, "testdata/finding.json", append(got, '\n'))

	var back Finding
	if err := json.Unmarshal(got, &back); err != nil {
		t.Fatal(err)
	}
	want := f
	want.Row = nil
	back.Row = nil
	if !reflect.DeepEqual(back, want) {
		t.Errorf("read back\n%+v\nwant\n%+v", back, want)
	}
	var row map[string]any
	if err := json.Unmarshal(got, &struct {
		Row *map[string]any `json:"row"`
	}{&row}); err != nil || row["kmh"] != 9000.0 {
		t.Errorf("row = %v (%v), want the investigation's row as an object", row, err)
	}

	// Every documented field is present, with empty lists as [] rather than null.
	var m map[string]json.RawMessage
	empty := Finding{ID: "x", Notification: 1, Key: Key{Investigation: "i"}, Severity: Low,
		Status: StatusNew, Reason: ReasonNew, FirstSeen: t0, LastSeen: t0}
	b, _ := json.Marshal(empty)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"type", "version", "id", "notification", "reason", "key", "title", "summary",
		"severity", "techniques", "first_seen", "last_seen", "evidence_ids", "portal_urls", "status", "row"} {
		if _, ok := m[k]; !ok {
			t.Errorf("field %s missing from %s", k, b)
		}
	}
	for _, k := range []string{"techniques", "evidence_ids", "portal_urls"} {
		if string(m[k]) != "[]" {
			t.Errorf("%s = %s, want []", k, m[k])
		}
	}
	if err := json.Unmarshal([]byte(strings.Replace(string(b), `"version":1`, `"version":2`, 1)), &back); err == nil {
		t.Error("a newer wire version was read without complaint")
	}
}

func TestValidate(t *testing.T) {
	cases := map[string]struct {
		change func(f *Finding)
		want   string
	}{
		"valid":               {func(*Finding) {}, ""},
		"no id":               {func(f *Finding) { f.ID = "" }, "id"},
		"id with space":       {func(f *Finding) { f.ID = "a b" }, "id"},
		"id too long":         {func(f *Finding) { f.ID = strings.Repeat("a", 129) }, "id"},
		"notification 0":      {func(f *Finding) { f.Notification = 0 }, "notification 0"},
		"no investigation":    {func(f *Finding) { f.Key.Investigation = "" }, "no investigation"},
		"severity":            {func(f *Finding) { f.Severity = "critical" }, `severity "critical"`},
		"previous severity":   {func(f *Finding) { f.PreviousSeverity = "huge" }, `previous severity "huge"`},
		"status":              {func(f *Finding) { f.Status = "open" }, `status "open"`},
		"reason":              {func(f *Finding) { f.Reason = "again" }, `reason "again"`},
		"no times":            {func(f *Finding) { f.FirstSeen = time.Time{} }, "first_seen"},
		"last before first":   {func(f *Finding) { f.LastSeen = f.FirstSeen.Add(-time.Second) }, "first_seen"},
		"row not an object":   {func(f *Finding) { f.Row = json.RawMessage(`[1,2]`) }, "row"},
		"row not JSON at all": {func(f *Finding) { f.Row = json.RawMessage(`{"a":`) }, "row"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f := sample()
			c.change(&f)
			err := f.Validate()
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Fatalf("Validate = %v, want an error naming %q", err, c.want)
			}
		})
	}
}

func TestParseSeverity(t *testing.T) {
	for in, want := range map[string]Severity{"High": High, " medium ": Medium, "LOW": Low, "informational": Informational} {
		if got, err := ParseSeverity(in); err != nil || got != want {
			t.Errorf("ParseSeverity(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseSeverity("critical"); err == nil || !strings.Contains(err.Error(), "informational, low, medium, high") {
		t.Errorf("ParseSeverity(critical) = %v, want an error listing the severities", err)
	}
	if !(Informational.Rank() < Low.Rank() && Low.Rank() < Medium.Rank() && Medium.Rank() < High.Rank()) {
		t.Error("severities do not rank informational < low < medium < high")
	}
}
