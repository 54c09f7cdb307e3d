package queries

import (
	"database/sql"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/timearg"
)

func TestCatalogHoldsTheInvestigations(t *testing.T) {
	want := []string{"account-created-deleted", "activity-spike", "admin-untrusted-ip", "cloud-resource-abuse",
		"defense-evasion-changes", "ediscovery-export", "executable-uploads", "failed-login-burst", "federation-changes",
		"hosting-provider-sign-in", "impersonation-list", "impersonation-review", "impossible-travel", "inbox-manipulation-rules",
		"ip-pivot", "mail-forwarding", "mailbox-activity-spike", "mailbox-permission-grants", "mass-delete", "mass-download",
		"mass-share", "mfa-change-after-risky-sign-in", "new-client-fingerprint", "new-country", "oauth-consent",
		"off-hours-sensitive-access", "password-spray", "privileged-role-assignment", "ransomware-pattern", "risky-ip-activity",
		"terminated-user-activity", "unusual-admin-activity", "user-timeline"}
	if got := Names(); !slices.Equal(got, want) {
		t.Fatalf("investigations %v, want %v", got, want)
	}
	for _, inv := range All() {
		if inv.Description == "" || inv.Question == "" || !strings.HasSuffix(inv.Question, "?") {
			t.Errorf("%s: header needs a question ending in ? and a description", inv.Name)
		}
		// Every investigation reads the normalized events (or the views over them), never a
		// source's table: a second source or a tenant filter reaches them all through the view.
		if !strings.Contains(inv.SQL, "FROM events") && !strings.Contains(inv.SQL, "FROM impersonations") {
			t.Errorf("%s does not read the events view", inv.Name)
		}
		if regexp.MustCompile(`(?i)\b(FROM|JOIN)\s+(activities|all_events)\b`).MatchString(inv.SQL) {
			t.Errorf("%s reads a table other than events", inv.Name)
		}
		pivot := slices.Contains([]string{"user-timeline", "ip-pivot", "impersonation-list"}, inv.Name)
		if (inv.Kind == Pivot) != pivot {
			t.Errorf("%s is a %s; the pivots are user-timeline, ip-pivot and impersonation-list", inv.Name, inv.Kind)
		}
		if strings.Contains(inv.SQL, "json_extract") {
			t.Errorf("%s extracts JSON from raw; filter first and use the shared views", inv.Name)
		}
	}
}

func TestParseHeader(t *testing.T) {
	good := `-- name: x
-- question: what?
-- description: one
-- description: two
-- kind: detection
-- chart: timeline, bar
-- history: 30d
-- entities: user=who ip=ips,ip2
-- severity: low
-- severity-rises: high when n >= 100; medium when anon
-- tactics: TA0006, TA0001
-- techniques: T1110.001, T1078.004
-- counterpart: Sentinel X.yaml;
-- counterpart: Sigma y.yml
-- sources: activities
-- bucket: 1d
-- param: since timestamp 7d start
-- param: until timestamp now end
-- param: words list "a b,c" the words
-- param: who string required a user
-- param: size choice(s|m|l) m the size
SELECT $since, $until, $words, $who, $size`
	inv, err := Parse(good)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Description != "one two" || !slices.Equal(inv.Charts, []string{"timeline", "bar"}) || len(inv.Params) != 5 {
		t.Fatalf("parsed %+v", inv)
	}
	if inv.Kind != Detection || inv.History != 30*24*time.Hour || !slices.Equal(inv.Entities["ip"], []string{"ips", "ip2"}) {
		t.Fatalf("kind, history, entities: %+v", inv)
	}
	if inv.Severity != "low" || !slices.Equal(inv.Rises, []Rise{{"high", "n >= 100"}, {"medium", "anon"}}) ||
		!slices.Equal(inv.Tactics, []string{"TA0006", "TA0001"}) || !slices.Equal(inv.Techniques, []string{"T1110.001", "T1078.004"}) ||
		inv.Counterpart != "Sentinel X.yaml; Sigma y.yml" || !slices.Equal(inv.Sources, []string{"activities"}) || inv.Bucket != 24*time.Hour {
		t.Fatalf("triage: %+v", inv)
	}
	if got := inv.severityExpr(); got != "CASE WHEN coalesce((n >= 100), false) THEN 'high' WHEN coalesce((anon), false) THEN 'medium' ELSE 'low' END" {
		t.Errorf("severity expression %s", got)
	}
	if p, _ := inv.Param("words"); p.Default != "a b,c" || p.Doc != "the words" {
		t.Fatalf("quoted default: %+v", p)
	}
	if p, _ := inv.Param("who"); !p.Required {
		t.Fatalf("required: %+v", p)
	}
	if p, _ := inv.Param("size"); p.TypeName() != "choice(s|m|l)" || p.Default != "m" {
		t.Fatalf("choice: %+v", p)
	}
	bad := map[string]string{
		"no name":             strings.Replace(good, "-- name: x\n", "", 1),
		"no question":         strings.Replace(good, "-- question: what?\n", "", 1),
		"no chart":            strings.Replace(good, "-- chart: timeline, bar\n", "", 1),
		"bad chart":           strings.Replace(good, "timeline, bar", "pie", 1),
		"no since":            strings.Replace(good, "-- param: since timestamp 7d start\n", "", 1),
		"unused param":        strings.Replace(good, "$size", "1", 1),
		"bad type":            strings.Replace(good, "who string", "who text", 1),
		"bad default":         strings.Replace(good, "choice(s|m|l) m", "choice(s|m|l) xl", 1),
		"duplicate param":     strings.Replace(good, "-- param: who string", "-- param: words string", 1),
		"bad name":            strings.Replace(good, "param: who", "param: Who", 1),
		"no sql":              good[:strings.Index(good, "SELECT")],
		"unterminated":        strings.Replace(good, `"a b,c"`, `"a b,c`, 1),
		"no kind":             strings.Replace(good, "-- kind: detection\n", "", 1),
		"bad kind":            strings.Replace(good, "kind: detection", "kind: alert", 1),
		"bad history":         strings.Replace(good, "history: 30d", "history: 30 days", 1),
		"history of text":     strings.Replace(good, "history: 30d", "history: who", 1),
		"no entities":         strings.Replace(good, "-- entities: user=who ip=ips,ip2\n", "", 1),
		"bad entity kind":     strings.Replace(good, "user=who", "person=who", 1),
		"bad entity":          strings.Replace(good, "user=who", "user", 1),
		"no severity":         strings.Replace(good, "-- severity: low\n", "", 1),
		"bad severity":        strings.Replace(good, "severity: low", "severity: critical", 1),
		"rise not above":      strings.Replace(good, "medium when anon", "low when anon", 1),
		"rise without when":   strings.Replace(good, "medium when anon", "medium if anon", 1),
		"rise to nowhere":     strings.Replace(good, "medium when anon", "urgent when anon", 1),
		"no tactics":          strings.Replace(good, "-- tactics: TA0006, TA0001\n", "", 1),
		"bad tactic":          strings.Replace(good, "TA0006, TA0001", "TA0006, Credential Access", 1),
		"no techniques":       strings.Replace(good, "-- techniques: T1110.001, T1078.004\n", "", 1),
		"bad technique":       strings.Replace(good, "T1110.001, T1078.004", "T1110.1", 1),
		"no counterpart":      strings.Replace(strings.Replace(good, "-- counterpart: Sentinel X.yaml;\n", "", 1), "-- counterpart: Sigma y.yml\n", "", 1),
		"no sources":          strings.Replace(good, "-- sources: activities\n", "", 1),
		"bad source":          strings.Replace(good, "sources: activities", "sources: activities, syslog", 1),
		"no bucket":           strings.Replace(good, "-- bucket: 1d\n", "", 1),
		"bad bucket":          strings.Replace(good, "bucket: 1d", "bucket: daily", 1),
		"pivot with severity": strings.Replace(strings.Replace(good, "kind: detection", "kind: pivot", 1), "-- entities: user=who ip=ips,ip2\n", "", 1),
	}
	for name, text := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse(text); err == nil {
				t.Fatalf("Parse accepted:\n%s", text)
			}
		})
	}
}

func TestBindChecksNamesAndTypes(t *testing.T) {
	inv, err := Lookup("mass-share")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	args, err := inv.Bind(map[string]string{"per_window": "12", "internal_domains": "contoso.com, fabrikam.com", "since": "36h"}, now)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]any{}
	for _, a := range args {
		na := namedArg(a)
		got[na.name] = na.value
	}
	if got["per_window"] != int64(12) || got["min_windows"] != int64(2) ||
		!slices.Equal(got["internal_domains"].([]string), []string{"contoso.com", "fabrikam.com"}) ||
		!got["since"].(time.Time).Equal(now.Add(-36*time.Hour)) || !got["until"].(time.Time).Equal(now) {
		t.Fatalf("bound %v", got)
	}
	for _, c := range []struct {
		values map[string]string
		want   string
	}{
		{map[string]string{"per_windows": "1"}, `no parameter "per_windows"; accepted: since (timestamp), until (timestamp), per_window (int)`},
		{map[string]string{"per_window": "1.5"}, `per_window: int: "1.5" is not an integer`},
		{map[string]string{"since": "yesterday"}, "not a time; use a duration"},
		{map[string]string{"since": "now", "until": "1d"}, "must be before until"},
	} {
		_, err := inv.Bind(c.values, now)
		if !errors.Is(err, ErrBadParam) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Bind(%v) = %v, want ErrBadParam mentioning %q", c.values, err, c.want)
		}
	}
	if _, err := Lookup("no-such"); !errors.Is(err, ErrUnknownInvestigation) || !strings.Contains(err.Error(), "accepted: account-created-deleted, activity-spike") {
		t.Fatalf("Lookup: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, inv := range All() {
		f.Add("-- name: " + inv.Name + "\n-- question: " + inv.Question + "\n-- kind: " + inv.Kind + "\n-- chart: " +
			strings.Join(inv.Charts, ",") + "\n" + historyLine(inv) + entitiesLine(inv) + paramLines(inv) + inv.SQL)
	}
	f.Add("-- param: x list \"a,b\n")
	f.Fuzz(func(t *testing.T, text string) {
		inv, err := Parse(text)
		if err != nil {
			return
		}
		// Whatever parses binds its own defaults (required ones given).
		if _, err := inv.Bind(requiredValues(inv), time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)); err != nil &&
			!strings.Contains(err.Error(), "must be before until") && !errors.Is(err, timearg.ErrBadTime) &&
			!strings.Contains(err.Error(), "is not one of") {
			t.Fatalf("Parse accepted a header whose defaults do not bind: %v", err)
		}
	})
}

func historyLine(inv *Investigation) string {
	switch {
	case inv.HistoryParam != "":
		return "-- history: " + inv.HistoryParam + "\n"
	case inv.History > 0:
		return "-- history: " + FormatDuration(inv.History) + "\n"
	}
	return ""
}

func entitiesLine(inv *Investigation) string {
	var parts []string
	for _, k := range entityKinds {
		if cols := inv.Entities[k]; len(cols) > 0 {
			parts = append(parts, k+"="+strings.Join(cols, ","))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "-- entities: " + strings.Join(parts, " ") + "\n"
}

func paramLines(inv *Investigation) string {
	var b strings.Builder
	for _, p := range inv.Params {
		def := p.Default
		if p.Required {
			def = "required"
		} else if def == "" || strings.ContainsAny(def, " ") {
			def = `"` + def + `"`
		}
		b.WriteString("-- param: " + p.Name + " " + p.TypeName() + " " + def + " " + p.Doc + "\n")
	}
	return b.String()
}

type named struct {
	name  string
	value any
}

func namedArg(a any) named {
	na := a.(sql.NamedArg)
	return named{na.Name, na.Value}
}

// FuzzBind feeds arbitrary --param values to every investigation: binding either succeeds or
// fails with ErrBadParam, never panics, and never lets a value change the SQL text.
func FuzzBind(f *testing.F) {
	f.Add("per_min", "50")
	f.Add("since", "7d")
	f.Add("internal_domains", "a.com,b.com")
	f.Add("user", "x' OR 1=1 --")
	f.Add("bucket", "day")
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, key, value string) {
		for _, inv := range All() {
			before := inv.SQL
			values := requiredValues(inv)
			values[key] = value
			args, err := inv.Bind(values, now)
			if err != nil {
				if !errors.Is(err, ErrBadParam) {
					t.Fatalf("%s: %v does not wrap ErrBadParam", inv.Name, err)
				}
				continue
			}
			used := 0
			for _, p := range inv.Params {
				if inv.uses(p.Name) {
					used++
				}
			}
			if len(args) != used || inv.SQL != before {
				t.Fatalf("%s: %d args for %d params the SQL uses", inv.Name, len(args), used)
			}
		}
	})
}

// TestFormatDuration: a header's history is written back as written.
func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{30 * 24 * time.Hour: "30d", 36 * time.Hour: "36h", 90 * time.Minute: "90m", time.Hour: "1h"} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
