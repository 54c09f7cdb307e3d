package report

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/queries"
)

func TestRedactor(t *testing.T) {
	r := NewRedactor([]byte("k1"))
	r.AddUser("SYSTEM account")
	cases := []struct {
		in       string
		contains []string // must survive
		gone     []string // must be replaced
	}{
		{"alice@contoso.com", nil, []string{"alice@contoso.com"}},
		{"Alice@Contoso.com signed in from 203.0.113.7", []string{"signed in from"}, []string{"Alice", "203.0.113.7"}},
		{"pair 2001:db8::1 and 10.0.0.1", []string{"pair", "and"}, []string{"2001:db8::1", "10.0.0.1"}},
		{"at 2026-03-01 10:20:30, 12:34:56", []string{"2026-03-01 10:20:30", "12:34:56"}, nil},
		{"version 999.1.1.1 and Chrome/120.0.6099.109", []string{"999.1.1.1", "120.0.6099.109"}, nil},
		{"SYSTEM account", nil, []string{"SYSTEM"}},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got := r.Text(tc.in)
			for _, s := range tc.contains {
				if !strings.Contains(got, s) {
					t.Errorf("%q lost %q: %q", tc.in, s, got)
				}
			}
			for _, s := range tc.gone {
				if strings.Contains(got, s) {
					t.Errorf("%q kept %q: %q", tc.in, s, got)
				}
			}
		})
	}
	t.Run("stable per key, different across keys, case-insensitive for names", func(t *testing.T) {
		a := r.Text("alice@contoso.com")
		if a != r.Text("ALICE@contoso.com") || a != r.Text("alice@contoso.com") {
			t.Error("the same user got two pseudonyms")
		}
		if !regexp.MustCompile(`^user-[0-9a-f]{8}$`).MatchString(a) {
			t.Errorf("pseudonym %q", a)
		}
		if a == NewRedactor([]byte("k2")).Text("alice@contoso.com") {
			t.Error("two keys gave the same pseudonym")
		}
		if a == r.Text("bob@contoso.com") {
			t.Error("two users share a pseudonym")
		}
		if !strings.HasPrefix(r.Text("198.51.100.4"), "ip-") {
			t.Error("an IP is not called ip-…")
		}
	})
}

func FuzzRedactorText(f *testing.F) {
	for _, s := range []string{"a@b.co", "1.2.3.4", "::1", "x 10:20:30 y", "fe80::1%eth0 z@z.io", ""} {
		f.Add(s)
	}
	r := NewRedactor([]byte("fuzz"))
	f.Fuzz(func(t *testing.T, s string) {
		got := r.Text(s)
		if m := emailRE.FindString(got); m != "" && strings.Contains(s, m) {
			t.Fatalf("%q kept the address %q: %q", s, m, got)
		}
		if r.Text(s) != got {
			t.Fatal("not deterministic")
		}
	})
}

func TestCharts(t *testing.T) {
	marks := regexp.MustCompile(` data-mark `)
	t.Run("hbars skips zero segments and labels totals", func(t *testing.T) {
		c := hbars("x", "t", []string{"a<b", "c"}, []series{
			{name: "ok", color: palette[0], values: []float64{3, 0}},
			{name: "failed", color: palette[4], values: []float64{1, 2}},
		})
		if c.Count != 3 || len(marks.FindAllString(string(c.SVG), -1)) != 3 {
			t.Errorf("count %d, marks %d; want 3", c.Count, len(marks.FindAllString(string(c.SVG), -1)))
		}
		if !strings.Contains(string(c.SVG), "a&lt;b") || strings.Contains(string(c.SVG), "a<b") {
			t.Error("labels are not escaped")
		}
		if !strings.Contains(string(c.SVG), `class="val">4 (1 failed)<`) || len(c.Legend) != 2 {
			t.Error("no total label or legend")
		}
		if !strings.Contains(string(c.SVG), `role="img"`) || !strings.Contains(string(c.SVG), `<title id="x-t">t</title>`) {
			t.Error("the chart has no accessible title")
		}
	})
	t.Run("columns", func(t *testing.T) {
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		c := columns("y", "t", start, 3*time.Hour, []series{{name: "s", color: palette[0], values: []float64{1, 0, 5, 7}}})
		if c.Count != 3 || len(marks.FindAllString(string(c.SVG), -1)) != 3 {
			t.Errorf("count %d; want 3", c.Count)
		}
	})
	t.Run("timeline", func(t *testing.T) {
		start := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		pts := []point{{t: start.Add(time.Hour), lane: 0}, {t: start.Add(30 * time.Hour), lane: 1}}
		c := timeline("z", "t", start, start.Add(48*time.Hour), []string{"a", "b"}, pts)
		if c.Count != 2 || len(regexp.MustCompile(`<circle data-mark`).FindAllString(string(c.SVG), -1)) != 2 {
			t.Errorf("count %d; want 2", c.Count)
		}
	})
	for _, tc := range []struct{ in, want float64 }{{0, 1}, {7, 8}, {560, 600}, {1000, 1000}, {1001, 1500}} {
		if got := niceCeil(tc.in); got != tc.want {
			t.Errorf("niceCeil(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		span, want time.Duration
	}{{24 * time.Hour, time.Hour}, {7 * 24 * time.Hour, 3 * time.Hour}, {37 * 24 * time.Hour, 12 * time.Hour}} {
		if got := bucketStep(tc.span); got != tc.want {
			t.Errorf("bucketStep(%s) = %s, want %s", tc.span, got, tc.want)
		}
	}
}

// fakeSource answers the report's queries from canned tables, so Build can be tested without
// DuckDB; the command's tests run it on a real warehouse.
type fakeSource struct {
	mem  memory.Allocator
	runs []string
}

func (f *fakeSource) table(fields []arrow.Field, rows ...[]any) array.RecordReader {
	s := arrow.NewSchema(fields, nil)
	b := array.NewRecordBuilder(f.mem, s)
	defer b.Release()
	for _, row := range rows {
		for i, v := range row {
			switch fb := b.Field(i).(type) {
			case *array.StringBuilder:
				fb.Append(v.(string))
			case *array.Int64Builder:
				fb.Append(int64(v.(int)))
			case *array.TimestampBuilder:
				fb.Append(arrow.Timestamp(v.(time.Time).UnixMicro()))
			case *array.ListBuilder:
				fb.Append(true)
				for _, e := range v.([]string) {
					fb.ValueBuilder().(*array.StringBuilder).Append(e)
				}
			}
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rdr, _ := array.NewRecordReader(s, []arrow.RecordBatch{rec})
	return rdr
}

var (
	fStr  = func(n string) arrow.Field { return arrow.Field{Name: n, Type: arrow.BinaryTypes.String} }
	fInt  = func(n string) arrow.Field { return arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int64} }
	fTime = func(n string) arrow.Field {
		return arrow.Field{Name: n, Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}}
	}
)

var testSince = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func (f *fakeSource) SQL(_ context.Context, q string) (array.RecordReader, error) {
	switch {
	case strings.Contains(q, "DISTINCT 'user'"):
		return f.table([]arrow.Field{fStr("kind"), fStr("v")}, []any{"user", "svc-backup"}, []any{"ip", "192.0.2.9"}), nil
	case strings.Contains(q, "count(DISTINCT user_name)"):
		return f.table([]arrow.Field{fInt("a"), fInt("b"), fInt("c"), fInt("d"), fInt("e"), fInt("f"), fInt("g")},
			[]any{100, 3, 2, 4, 2, 40, 5}), nil
	case strings.Contains(q, "AS bucket"):
		return f.table([]arrow.Field{fInt("bucket"), fStr("app"), fInt("n")}, []any{0, "Box", 4}, []any{2, "Teams", 6}, []any{2, "Box", 1}), nil
	case strings.Contains(q, "SELECT user_name"):
		return f.table([]arrow.Field{fStr("user_name"), fInt("n")}, []any{"alice@contoso.com", 60}, []any{"svc-backup", 40}), nil
	case strings.Contains(q, "SELECT app_name"):
		return f.table([]arrow.Field{fStr("app_name"), fInt("n")}, []any{"Box", 50}), nil
	case strings.Contains(q, "max(ts)"):
		return f.table([]arrow.Field{fTime("newest")}, []any{testSince.Add(47 * time.Hour)}), nil
	case strings.Contains(q, "AS country"):
		return f.table([]arrow.Field{fStr("country"), fInt("ok"), fInt("failed")}, []any{"US", 30, 2}, []any{"FR", 10, 0}), nil
	}
	return nil, fmt.Errorf("unexpected query %s", q)
}

func (f *fakeSource) Run(_ context.Context, inv *queries.Investigation, values map[string]string, _ time.Time) (array.RecordReader, error) {
	f.runs = append(f.runs, inv.Name+" "+values["user"]+values["ip"])
	switch inv.Name {
	case "mass-download":
		list := arrow.ListOf(arrow.BinaryTypes.String)
		return f.table([]arrow.Field{fStr("severity"), fStr("user_name"), fTime("win"), fInt("downloads"), fStr("note"), {Name: "ips", Type: list},
			fTime("first_seen"), fTime("last_seen"), {Name: "techniques", Type: list}, {Name: "evidence_ids", Type: list}, {Name: "portal_url", Type: list}},
			[]any{"medium", "alice@contoso.com", testSince.Add(time.Hour), 61, "see https://evil.example/x", []string{"192.0.2.9"},
				testSince.Add(time.Hour), testSince.Add(time.Hour + time.Minute), []string{"T1530"}, []string{"id-a1", "id-a2", "id-a3", "id-a4"},
				[]string{"https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq(id-a1,)", "https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq(id-a2,)",
					"https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq(id-a3,)", "https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq(id-a4,)"}},
			[]any{"high", "svc-backup", testSince.Add(30 * time.Hour), 70, "", []string{"198.51.100.1"},
				testSince.Add(30 * time.Hour), testSince.Add(31 * time.Hour), []string{"T1530"}, []string{"id-b1"}, []string{}}), nil
	case "new-country":
		return f.table([]arrow.Field{fStr("severity"), fStr("user_name"), fTime("first_seen")},
			[]any{"low", "alice@contoso.com", testSince.Add(2 * time.Hour)}), nil
	case "impossible-travel":
		return nil, errors.New("boom")
	}
	return f.table([]arrow.Field{fStr("user_name")}), nil
}

func TestBuildAndRender(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	src := &fakeSource{mem: mem}
	var invs []*queries.Investigation
	for _, n := range []string{"mass-download", "impossible-travel", "user-timeline", "new-country"} {
		inv, err := queries.Lookup(n)
		if err != nil {
			t.Fatal(err)
		}
		invs = append(invs, inv)
	}
	var steps []Step
	rep, err := Build(t.Context(), src, Options{Since: testSince, Until: testSince.Add(48 * time.Hour), Covers: "tenant x", Generated: testSince.Add(50 * time.Hour),
		Investigations: invs, Redactor: NewRedactor([]byte("k")), Progress: func(s Step) { steps = append(steps, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if last := steps[len(steps)-1]; last.Done != last.Total || last.Total != 1+5+len(invs) {
		t.Errorf("progress ends at %+v", last)
	}
	// user-timeline needs a user: it runs last, on the user the other findings name most.
	if got := src.runs[len(src.runs)-1]; got != "user-timeline alice@contoso.com" {
		t.Errorf("last run %q", got)
	}
	var buf bytes.Buffer
	if err := rep.Render(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, gone := range []string{"alice@contoso.com", "svc-backup", "192.0.2.9", "198.51.100.1", "https://evil", keysMeta} {
		if strings.Contains(page, gone) {
			t.Errorf("the page contains %q", gone)
		}
	}
	for _, want := range []string{"hxxps:/<wbr>/<wbr>evil.example/<wbr>x", "tenant x", `class="finding err"`, "Failed: boom",
		`data-chart="f-mass-download" data-count="2"`, `data-chart="top-users" data-count="2"`, `data-chart="countries" data-count="3"`,
		// the evidence ids link into the portal, live; three are shown whole, then how many more
		`<span class="tok"><a class="portal" href="https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq(id-a1,)">id-a1</a></span>`,
		`id-a3</a></span> <span class="more">&#43;1 more</span>`, `<span class="tok">id-b1</span>`,
		// severity, techniques and a chart title in words
		`<span class="sev sev-high">high</span>`, `ATT&amp;CK: <span class="tok">T1530</span> Data from Cloud Storage`,
		"Mass download: each row at its window start, one line per user",
		// the summary and the freshness line
		`<span class="v">1</span> <span class="l">high, in 1 investigation</span>`, `<span class="v">1</span> <span class="l">medium, in 1 investigation`,
		"3 detection rows; new ones not known: no previous report",
		"newest activity 2026-03-02 23:00 UTC (3 hours before this report); never scanned"} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if strings.Contains(page, "id-a4") {
		t.Error("the page shows a fourth evidence id")
	}
	// Ordered by severity: mass-download (high) before new-country (low), both before the
	// failure and the finding that ran empty.
	order := []string{"mass-download", "new-country", "impossible-travel", "user-timeline"}
	last := -1
	for _, name := range order {
		i := strings.Index(page, `<article id="inv-`+name+`"`)
		if i < last {
			t.Errorf("findings out of order: want %v", order)
		}
		last = i
	}
}

// TestNewSinceThePreviousReport: a report compares its detection rows with the keys an earlier
// report holds, and counts and marks the rows that are new.
func TestNewSinceThePreviousReport(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	inv, _ := queries.Lookup("mass-download")
	build := func(prev *Previous) (*Report, string) {
		rep, err := Build(t.Context(), &fakeSource{mem: mem}, Options{Since: testSince, Until: testSince.Add(48 * time.Hour),
			Investigations: []*queries.Investigation{inv}, Previous: prev})
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := rep.Render(&buf); err != nil {
			t.Fatal(err)
		}
		return rep, buf.String()
	}
	_, first := build(nil)
	prev, ok := KeysOf([]byte(first))
	if !ok || len(prev.Keys) != 2 || prev.Generated == "" {
		t.Fatalf("keys of the first report: %+v, %v", prev, ok)
	}
	prev.Name = "first.html"
	rep, _ := build(&prev)
	if !rep.Summary.NewKnown || rep.Summary.New != 0 {
		t.Errorf("the same findings again: %+v", rep.Summary)
	}
	for k := range prev.Keys {
		delete(prev.Keys, k)
		break
	}
	rep, page := build(&prev)
	if rep.Summary.New != 1 || rep.Findings[0].New != 1 || strings.Count(page, `<tr class="new">`) != 1 ||
		!strings.Contains(page, "<strong>1 new</strong> of 2 detection rows since first.html") {
		t.Errorf("one finding dropped from the previous report: summary %+v, %d rows marked", rep.Summary, strings.Count(page, `<tr class="new">`))
	}
	if _, ok := KeysOf([]byte("<html>not a report</html>")); ok {
		t.Error("keys read from a page that has none")
	}
}

func TestCutAtSpaceKeepsWordsWhole(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"short text", "short text"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36", "Mozilla/5.0 (Windows NT …"},
		{strings.Repeat("x", 30), strings.Repeat("x", 25) + " …"},
	} {
		if got := cutAtSpace(c.in, 25); got != c.want {
			t.Errorf("cutAtSpace(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
