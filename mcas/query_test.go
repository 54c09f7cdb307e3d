package mcas

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseFilters(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // canonical JSON, or "" when an error is expected
		err  string // substring of the error
	}{
		{"scalar eq", `{"service":{"eq":11161}}`, `{"service":{"eq":11161}}`, ""},
		{"list eq", `{"service":{"eq":[11161,20893]}}`, `{"service":{"eq":[11161,20893]}}`, ""},
		{"big ms exact", `{"date":{"gte":1762041599999,"lte":1762041599999}}`, `{"date":{"gte":1762041599999,"lte":1762041599999}}`, ""},
		{"range object", `{"created":{"range":{"start":1,"end":2}}}`, `{"created":{"range":{"end":2,"start":1}}}`, ""},
		{"user and type", ` {"user.username":{"eq":["a@b.c"]},"activity.type":{"eq":true}} `, `{"activity.type":{"eq":true},"user.username":{"eq":["a@b.c"]}}`, ""},
		{"days", `{"date":{"gte_ndays":7}}`, `{"date":{"gte_ndays":7}}`, ""},
		{"unknown key", `{"colour":{"eq":"red"}}`, "", `unknown filter key "colour": accepted keys are`},
		{"bad operator", `{"service":{"gte":1}}`, "", `filter "service" does not take operator "gte": use one of eq, neq`},
		{"bound not a number", `{"date":{"gte":"yesterday"}}`, "", "want a number"},
		{"isset not bool", `{"location.country":{"isset":"yes"}}`, "", "want true or false"},
		{"bad range", `{"date":{"range":[{"start":1}]}}`, "", `want {"start":ms,"end":ms}`},
		{"no operator", `{"service":{}}`, "", "has no operator"},
		{"not an object", `[1,2]`, "", "want a JSON object"},
		{"operator not an object", `{"service":11161}`, "", `want {"key":{"operator":value}}`},
		{"trailing", `{"service":{"eq":1}} {}`, "", "trailing data"},
		{"empty", ``, "", "want a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := ParseFilters([]byte(tt.in))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseFilters(%s) = %v, want an error containing %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFilters(%s): %v", tt.in, err)
			}
			if got := f.Canonical(); got != tt.want {
				t.Errorf("Canonical = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestParseFilterArgFile(t *testing.T) {
	f, err := ParseFilterArg("@testdata/filters.json", os.ReadFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(f) != 5 || f["ip.address"]["startswith"] != "10." {
		t.Errorf("parsed %s", f.Canonical())
	}
	if _, err := ParseFilterArg("@testdata/missing.json", os.ReadFile); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := ParseFilterArg("@", os.ReadFile); err == nil {
		t.Error("bare @ accepted")
	}
}

func TestFilterBuilders(t *testing.T) {
	from := time.UnixMilli(1761955200000)
	to := time.UnixMilli(1762041599999)
	f := Filters{}.DateRange(from, to).CreatedRange(from, time.Time{}).Service(11161).User("alice@contoso.com").EventType("EVENT_CATEGORY_LOGIN")
	want := `{"activity.eventType":{"eq":["EVENT_CATEGORY_LOGIN"]},"created":{"gte":1761955200000},"date":{"gte":1761955200000,"lte":1762041599999},"service":{"eq":[11161]},"user.username":{"eq":["alice@contoso.com"]}}`
	if got := f.Canonical(); got != want {
		t.Fatalf("built %s\nwant  %s", got, want)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("built filters do not validate: %v", err)
	}
	back, err := ParseFilters([]byte(f.Canonical()))
	if err != nil || back.Canonical() != want {
		t.Errorf("round trip: %v %s", err, back.Canonical())
	}
	if _, err := f.Merge(Filters{}.Service(1)); err == nil {
		t.Error("Merge allowed the same operator twice")
	}
	m, err := f.Merge(Filters{}.Set("ip.category", "eq", []int{3}))
	if err != nil || m["ip.category"] == nil || f["ip.category"] != nil {
		t.Errorf("Merge: %v, changed the original: %v", err, f["ip.category"] != nil)
	}
}

func TestResumeAt(t *testing.T) {
	q := Query{Filters: Filters{}.CreatedRange(time.UnixMilli(1000), time.UnixMilli(9000)), SortField: SortCreated, SortDirection: Asc}
	r := q.ResumeAt(5000)
	if got := r.Filters.Canonical(); got != `{"created":{"gte":5000,"lte":9000}}` {
		t.Errorf("asc resume: %s", got)
	}
	if q.Filters["created"]["gte"] != int64(1000) {
		t.Error("ResumeAt changed the original query")
	}
	q.SortDirection = Desc
	if got := q.ResumeAt(5000).Filters.Canonical(); got != `{"created":{"gte":1000,"lte":5000}}` {
		t.Errorf("desc resume: %s", got)
	}
}

// FuzzParseFilters: never panics; whatever it accepts validates and survives a round trip
// through its canonical JSON unchanged.
func FuzzParseFilters(f *testing.F) {
	seeds := []string{
		`{"service":{"eq":[11161]}}`, `{"date":{"range":[{"start":1,"end":2}]}}`, `{"date":{"gte":1.5e3}}`,
		`{"ip.address":{"startswith":["10.","192."]}}`, `{"created":{"eq":[1,"x",{"a":1}]}}`, `{}`, `{"a":null}`,
		`{"service":{"eq":null}}`, `{"date":{"range":{"start":1,"end":2,"x":3}}}`,
	}
	if b, err := os.ReadFile("testdata/filters.json"); err == nil {
		seeds = append(seeds, string(b))
	}
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := ParseFilters([]byte(in))
		if err != nil {
			return
		}
		if err := got.Validate(); err != nil {
			t.Fatalf("accepted filters fail Validate: %v", err)
		}
		canon := got.Canonical()
		again, err := ParseFilters([]byte(canon))
		if err != nil {
			t.Fatalf("canonical form %s does not parse: %v", canon, err)
		}
		if again.Canonical() != canon {
			t.Fatalf("round trip changed %s into %s", canon, again.Canonical())
		}
		if !json.Valid([]byte(canon)) {
			t.Fatalf("canonical form is not JSON: %s", canon)
		}
	})
}
