package queries

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/output"
)

// A literal-row case: raw activity records, written to testdata/cases/<investigation>/<name>.ndjson
// (the Go spec below renders them; -update rewrites the files, and the test reads the file back),
// loaded through the real schema converter, one investigation run over a window, and exactly
// the rows it must return. A case that wants no rows is a benign look-alike: an ordinary shape of
// real tenants that resembles the attack.
type fixtureCase struct {
	inv  string
	name string
	why  string
	// since and until are the window asked (default: the investigation's own defaults, with now
	// = testNow); params are further --param values.
	since, until string
	params       map[string]string
	acts         []act
	// want lists the rows the investigation must return, each by the columns that identify it
	// (a row matches when every listed column has that value); no more rows may come.
	want []row
	// provisional, when set, is what the result's meta must say.
	provisional *bool
}

var (
	yes = func() *bool { b := true; return &b }()
	no  = func() *bool { b := false; return &b }()
)

type row map[string]any

// kind is "found" for a case that wants rows and "quiet" for a look-alike that wants none.
func (c fixtureCase) kind() string {
	if len(c.want) == 0 {
		return "quiet"
	}
	return "found"
}

// path is testdata/cases/<investigation>/<found|quiet>-<name>.ndjson: the kind in the name lets
// docs/investigations.md count each investigation's cases.
func (c fixtureCase) path() string {
	return filepath.Join("testdata", "cases", c.inv, c.kind()+"-"+c.name+".ndjson")
}

// ndjson renders the case's records as the API sends them, one per line.
func (c fixtureCase) ndjson() []byte {
	var b bytes.Buffer
	for i, a := range c.acts {
		b.Write(a.toJSON(i))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func (c fixtureCase) values() map[string]string {
	v := map[string]string{}
	for k, x := range c.params {
		v[k] = x
	}
	if c.since != "" {
		v["since"] = c.since
	}
	if c.until != "" {
		v["until"] = c.until
	}
	return v
}

// readNDJSON reads a case file back: the records the converter sees are the file's, not the spec's.
func readNDJSON(t testing.TB, path string) []json.RawMessage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []json.RawMessage
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			recs = append(recs, bytes.Clone(line))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return recs
}

// jsonText renders a value the way the result's NDJSON does, so 3 and 3.0, a time and its RFC 3339
// text, or []string and []any compare equal.
func jsonText(v any) string {
	if t, ok := v.(time.Time); ok {
		v = t.UTC().Format(time.RFC3339Nano)
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	var back any
	if err := json.Unmarshal(b, &back); err != nil {
		panic(err)
	}
	b, _ = json.Marshal(back)
	return string(b)
}

func (r row) matches(got map[string]any) bool {
	for k, want := range r {
		v, ok := got[k]
		if !ok || jsonText(v) != jsonText(want) {
			return false
		}
	}
	return true
}

func (r row) String() string {
	var parts []string
	for k, v := range r {
		parts = append(parts, k+"="+jsonText(v))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// checkRows requires each wanted row to match a distinct result row, and no other rows.
func checkRows(t *testing.T, res result, want []row) {
	t.Helper()
	used := make([]bool, len(res.rows))
	for _, w := range want {
		found := false
		for i, got := range res.rows {
			if !used[i] && w.matches(got) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			t.Errorf("no row %s", w)
		}
	}
	for i, u := range used {
		if !u && len(want) < len(res.rows) {
			t.Errorf("unexpected row %v", res.rows[i])
		}
	}
	if t.Failed() {
		t.Logf("result:\n%s", res.table)
	}
}

// runCase loads the case file into a fresh activities table and runs the case's investigation.
func runCase(t *testing.T, c fixtureCase) (result, output.Meta) {
	t.Helper()
	testkit.Golden(t, c.path(), c.ndjson())
	db := newActivitiesDB(t)
	loadRecords(t, db, readNDJSON(t, c.path()))
	s, err := Open(t.Context(), testConn(t, db), Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	return investigate(t, s, c.inv, Request{Values: c.values(), Now: testNow})
}

func TestCases(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range allCases() {
		id := c.inv + "/" + c.name
		if seen[id] {
			t.Fatalf("case %s defined twice", id)
		}
		seen[id] = true
		t.Run(c.inv+"/"+c.kind()+":"+c.name, func(t *testing.T) {
			t.Parallel()
			res, meta := runCase(t, c)
			checkRows(t, res, c.want)
			if c.provisional != nil && meta.Provisional != *c.provisional {
				t.Errorf("provisional %v, want %v; meta notes: %q", meta.Provisional, *c.provisional, meta.Notes)
			}
		})
	}
}

// The helpers below build the ordinary life around a case: sign-ins, daily habits.

// day is 09:00 UTC n days before testNow's date (negative n: after).
func day(n int) time.Time {
	d := testNow.Truncate(24*time.Hour).AddDate(0, 0, -n)
	return d.Add(9 * time.Hour)
}

// signIn is a successful Entra ID sign-in from an ordinary office address.
func signIn(user string, at time.Time) act {
	return act{At: at, User: user, EventType: "EVENT_CATEGORY_LOGIN", EventTypeValue: "EVENT_AAD_LOGIN", Action: "UserLoggedIn",
		IP: "198.51.100.10", Country: "US", City: "New York", Lat: 40.71, Lon: -74.01, ISP: "Contoso Networks", Category: 1}
}

// failedSignIn is a failed Entra ID sign-in.
func failedSignIn(user string, at time.Time) act {
	a := signIn(user, at)
	a.EventType, a.EventTypeValue, a.Action, a.Failed = "EVENT_CATEGORY_FAILED_LOGIN", "EVENT_AAD_LOGIN_FAILED", "UserLoginFailed", true
	return a
}

// daily repeats a at 09:00 plus offset on each day from `from` days ago to `to` days ago.
func daily(from, to int, offset time.Duration, f func(at time.Time) act) []act {
	var out []act
	for n := from; n >= to; n-- {
		out = append(out, f(day(n).Add(offset)))
	}
	return out
}

// tenantUsers are five ordinary users of contoso.com signing in every few days over the last 40
// days: what makes contoso.com the tenant's own domain.
func tenantUsers() []act {
	var out []act
	for i, u := range []string{"ann", "ben", "cat", "dan", "eva"} {
		for n := 40 - i; n >= 0; n -= 5 {
			out = append(out, signIn(u+"@contoso.com", day(n).Add(time.Duration(i)*time.Minute)))
		}
	}
	return out
}

func concat(parts ...[]act) []act {
	var out []act
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// repeat makes n copies of f(i), i from 0.
func repeat(n int, f func(i int) act) []act {
	out := make([]act, n)
	for i := range out {
		out[i] = f(i)
	}
	return out
}

// TestEveryInvestigationHasPrecisionCases: at least two cases each investigation must report
// and three benign look-alikes it must not.
func TestEveryInvestigationHasPrecisionCases(t *testing.T) {
	found, quiet := map[string]int{}, map[string]int{}
	for _, c := range allCases() {
		if c.kind() == "found" {
			found[c.inv]++
		} else {
			quiet[c.inv]++
		}
	}
	for _, inv := range All() {
		if found[inv.Name] < 2 || quiet[inv.Name] < 3 {
			t.Errorf("%s has %d found and %d quiet cases; want at least 2 and 3", inv.Name, found[inv.Name], quiet[inv.Name])
		}
	}
}
