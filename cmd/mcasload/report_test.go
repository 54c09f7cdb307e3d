package main

import (
	"bytes"
	"context"
	"fmt"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/warehouse"
)

// The report window over the synthetic tenant of synthWarehouse (which ends at synthEnd).
const reportSince, reportUntil = "2026-03-05T12:00:00Z", "2026-03-10T12:00:00Z"

// writeReport runs `mcasload report` over wh and returns the page and stderr.
func writeReport(t *testing.T, wh string, extra ...string) (string, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.html")
	args := append([]string{"report", "-w", wh, "--since", reportSince, "--until", reportUntil, "--out", out}, extra...)
	code, _, stderr := runMcasload(t, nil, args...)
	if code != 0 {
		t.Fatalf("report: exit %d: %s", code, stderr)
	}
	page, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(page), stderr
}

// chartRE matches one chart figure of the page, with its declared mark count and its body.
var chartRE = regexp.MustCompile(`(?s)<figure class="chart" data-chart="([^"]+)" data-count="(\d+)"[^>]*>(.*?)</figure>`)

// charts returns chart id → (declared count, data-mark elements in it).
func charts(t *testing.T, page string) map[string][2]int {
	t.Helper()
	out := map[string][2]int{}
	for _, m := range chartRE.FindAllStringSubmatch(page, -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = [2]int{n, strings.Count(m[3], " data-mark")}
	}
	return out
}

// reportScalar runs one query on the warehouse and returns its single text value.
func reportScalars(t *testing.T, wh, q string) []string {
	t.Helper()
	r, err := warehouse.OpenReader(t.Context(), warehouse.ReaderOptions{Dir: wh})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rows, err := r.Conn().QueryContext(t.Context(), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// portalLinkRE matches the evidence links into the tenant's portal, the one kind of live link
// the page may hold (a navigation the reader chooses, never a fetch).
var portalLinkRE = regexp.MustCompile(`<a class="portal" href="https://contoso\.portal\.cloudappsecurity\.com/#/audits\?activity\.id=eq\(([^",()]+),\)">([^<]+)</a>`)

// noReferences fails if the page could make the browser fetch anything.
func noReferences(t *testing.T, page string) {
	t.Helper()
	lower := strings.ToLower(portalLinkRE.ReplaceAllString(page, ""))
	for _, bad := range []string{"http://", "https://", "//cdn", " src=", "@import", "url(", "<link", "<iframe", "<img"} {
		if i := strings.Index(lower, bad); i >= 0 {
			t.Errorf("the page references %q: …%s…", bad, page[max(0, i-60):min(len(page), i+60)])
		}
	}
	if !strings.Contains(page, `Content-Security-Policy" content="default-src 'none'`) {
		t.Error("the page has no content security policy forbidding network access")
	}
}

func testReportCommand(t *testing.T, wh string) {
	page, stderr := writeReport(t, wh)

	t.Run("header says what it covers", func(t *testing.T) {
		for _, want := range []string{"2026-03-05 12:00 UTC to 2026-03-10 12:00 UTC", "warehouse " + wh, "Generated"} {
			if !strings.Contains(page, want) {
				t.Errorf("header lacks %q", want)
			}
		}
	})
	t.Run("progress and summary", func(t *testing.T) {
		n := len(queries.All())
		if !strings.Contains(stderr, fmt.Sprintf("report: [%d/%d]", 5+n, 5+n)) || !strings.Contains(stderr, "wrote ") {
			t.Errorf("stderr lacks progress or summary:\n%s", stderr)
		}
	})
	t.Run("every chart holds as many marks as it declares", func(t *testing.T) {
		cs := charts(t, page)
		for _, id := range []string{"activity", "top-users", "top-apps", "countries", "failed"} {
			if cs[id][0] == 0 {
				t.Errorf("overview chart %s is missing or empty: %v", id, cs[id])
			}
		}
		for id, c := range cs {
			if c[0] != c[1] {
				t.Errorf("chart %s declares %d marks and holds %d", id, c[0], c[1])
			}
		}
	})
	t.Run("activity chart adds up to the warehouse's count", func(t *testing.T) {
		want := reportScalars(t, wh, fmt.Sprintf(`SELECT count(*)::VARCHAR FROM activities WHERE ts >= '%s' AND ts < '%s'`, reportSince, reportUntil))
		sum := 0
		for _, c := range chartRE.FindAllStringSubmatch(page, -1) {
			if c[1] != "activity" {
				continue
			}
			for _, m := range regexp.MustCompile(`: ([\d,]+)</title></rect>`).FindAllStringSubmatch(c[3], -1) {
				n, _ := strconv.Atoi(strings.ReplaceAll(m[1], ",", ""))
				sum += n
			}
		}
		if strconv.Itoa(sum) != want[0] {
			t.Errorf("the activity columns add up to %d, the warehouse has %s", sum, want[0])
		}
	})
	t.Run("top users match the warehouse", func(t *testing.T) {
		want := reportScalars(t, wh, fmt.Sprintf(`SELECT user_name FROM activities WHERE ts >= '%s' AND ts < '%s' AND user_name IS NOT NULL
			GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 10`, reportSince, reportUntil))
		m := chartRE.FindAllStringSubmatch(page, -1)
		var body string
		for _, c := range m {
			if c[1] == "top-users" {
				body = c[3]
			}
		}
		labels := regexp.MustCompile(`class="lbl" text-anchor="end">([^<]+)<`).FindAllStringSubmatch(body, -1)
		if len(labels) != len(want) {
			t.Fatalf("%d users charted, want %d", len(labels), len(want))
		}
		for i, l := range labels {
			// a long name is cut to the label's width with an ellipsis
			cut, short := strings.CutSuffix(l[1], "…")
			if l[1] != want[i] && !(short && strings.HasPrefix(want[i], cut)) {
				t.Errorf("user %d is %s, want %s", i, l[1], want[i])
			}
		}
	})
	t.Run("every investigation has a finding with its row count", func(t *testing.T) {
		for _, inv := range queries.All() {
			re := regexp.MustCompile(`<article id="inv-` + regexp.QuoteMeta(inv.Name) + `" class="finding (hit|none|err)">\s*<header><h3>[^<]+<span class="count">(\d+) rows?</span>`)
			m := re.FindStringSubmatch(page)
			if m == nil {
				t.Errorf("no finding for %s", inv.Name)
				continue
			}
			if m[1] == "err" {
				t.Errorf("%s failed in the report", inv.Name)
			}
		}
		// The planted incidents make these find something; the count matches the query command.
		for _, name := range []string{"mass-download", "password-spray"} {
			code, out, errs := runMcasload(t, nil, "query", name, "-w", wh, "--since", reportSince, "--until", reportUntil, "-f", "ndjson")
			if code != 0 {
				t.Fatalf("query %s: %s", name, errs)
			}
			n := strings.Count(out, "\n")
			if n == 0 {
				t.Errorf("%s finds nothing in the fixture", name)
			}
			if !strings.Contains(page, fmt.Sprintf(`id="inv-%s" class="finding hit">`, name)) ||
				!regexp.MustCompile(`id="inv-`+name+`"[^<]*<header><h3>[^<]*<span class="count">`+strconv.Itoa(n)+` rows?<`).MatchString(page) {
				t.Errorf("finding %s does not report %d rows", name, n)
			}
		}
	})
	t.Run("self-contained and small", func(t *testing.T) {
		noReferences(t, page)
		if len(page) > 600_000 {
			t.Errorf("the report is %d bytes", len(page))
		}
	})
	t.Run("triage: severity order, links, summary, new since the previous report", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "r.html")
		args := []string{"report", "-w", wh, "--since", reportSince, "--until", reportUntil, "--out", out, "--progress=false",
			"--portal", "https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq({id},)"}
		if code, _, stderr := runMcasload(t, nil, args...); code != 0 {
			t.Fatalf("report: exit %d: %s", code, stderr)
		}
		first, _ := os.ReadFile(out)
		page := string(first)
		noReferences(t, page)
		links := portalLinkRE.FindAllStringSubmatch(page, -1)
		if len(links) == 0 {
			t.Fatal("no evidence link in the report")
		}
		var ids []string
		for _, l := range links {
			if l[1] != l[2] {
				t.Errorf("link to %s shows %s", l[1], l[2])
			}
			ids = append(ids, "'"+l[1]+"'")
		}
		held := reportScalars(t, wh, "SELECT count(DISTINCT id)::VARCHAR FROM activities WHERE id IN ("+strings.Join(ids, ",")+")")
		slices.Sort(ids)
		if held[0] != strconv.Itoa(len(slices.Compact(ids))) {
			t.Errorf("the warehouse holds %s of the %d linked evidence ids", held[0], len(ids))
		}
		// Findings by severity: the rank of each article's severity never rises down the page.
		rank := map[string]int{"high": 4, "medium": 3, "low": 2, "informational": 1}
		prev := 5
		for _, m := range regexp.MustCompile(`<article id="inv-[^"]+" class="finding (hit|none|err)">\s*<header><h3>[^<]*<span class="count">[^<]*</span>(?: <span class="sev sev-([a-z]+)">)?`).FindAllStringSubmatch(page, -1) {
			r := rank[m[2]]
			if r > prev {
				t.Errorf("a %s finding comes after a less severe one", m[2])
			}
			prev = r
		}
		if !strings.Contains(page, "new ones not known: no previous report") || !strings.Contains(page, "<dt>Freshness</dt><dd class=\"fresh\">newest activity 2026-03-") ||
			!strings.Contains(page, "never scanned (activities loaded from files)") {
			t.Error("the page lacks the summary's new count or the freshness line")
		}
		// Replacing it with --force compares with it: nothing is new.
		if code, _, stderr := runMcasload(t, nil, append(args, "--force")...); code != 0 {
			t.Fatalf("report --force: exit %d: %s", code, stderr)
		}
		second, _ := os.ReadFile(out)
		if !regexp.MustCompile(`<strong>0 new</strong> of \d+ detection rows since r\.html, generated `).Match(second) || strings.Contains(string(second), `<tr class="new">`) {
			t.Errorf("the second report does not say nothing is new since the first")
		}
	})
	t.Run("existing output needs --force", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "r.html")
		os.WriteFile(out, []byte("keep"), 0o600)
		code, _, stderr := runMcasload(t, nil, "report", "-w", wh, "--out", out)
		if code != exitFailure || !strings.Contains(stderr, "--force") {
			t.Errorf("exit %d, %q", code, stderr)
		}
	})
}

func testReportRedact(t *testing.T, wh string) {
	plain, _ := writeReport(t, wh)
	page, _ := writeReport(t, wh, "--redact")
	secrets := reportScalars(t, wh, `SELECT DISTINCT user_name FROM activities WHERE user_name IS NOT NULL
		UNION SELECT DISTINCT ip FROM activities WHERE ip IS NOT NULL`)
	lowerPlain, lower := strings.ToLower(plain), strings.ToLower(page)
	shownPlain := 0
	for _, s := range secrets {
		s = strings.ToLower(s)
		if strings.Contains(lowerPlain, s) {
			shownPlain++
		}
		if strings.Contains(lower, s) {
			t.Errorf("the redacted report still contains %q", s)
		}
	}
	if shownPlain < 20 {
		t.Fatalf("the plain report shows only %d user names and IPs; the test would prove nothing", shownPlain)
	}
	for _, re := range []string{`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`, `\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b`} {
		if m := regexp.MustCompile(re).FindString(page); m != "" {
			t.Errorf("the redacted report contains %q", m)
		}
	}
	// Pseudonyms are stable: the top user's pseudonym appears again in the findings.
	top := regexp.MustCompile(`data-chart="top-users"(?s:.*?)class="lbl" text-anchor="end">(user-[0-9a-f]{8})<`).FindStringSubmatch(page)
	if top == nil {
		t.Fatal("the top users chart shows no pseudonyms")
	}
	if n := strings.Count(page, top[1]); n < 2 {
		t.Errorf("pseudonym %s appears %d times", top[1], n)
	}
	if !strings.Contains(page, "<dt>Redacted</dt>") {
		t.Error("the header does not say the report is redacted")
	}
}

// chromiumPath is Debian's chromium; .ci/run installs it (apt-get install chromium).
const chromiumPath = "/usr/bin/chromium"

// runChromium runs headless Chromium on page with no network and returns stdout and stderr.
func runChromium(t *testing.T, extra ...string) (string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	args := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
		"--user-data-dir=" + t.TempDir(), "--host-resolver-rules=MAP * ~NOTFOUND",
		"--enable-logging=stderr", "--v=0"}, extra...)
	cmd := exec.CommandContext(ctx, chromiumPath, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	return stdout.String(), stderr.String()
}

// consoleErrors lists the console messages and failed requests Chromium logged.
func consoleErrors(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, ":CONSOLE") || strings.Contains(l, "net::ERR_") || strings.Contains(l, "Content Security Policy") {
			out = append(out, l)
		}
	}
	return out
}

// TestReport runs the report tests on one loaded warehouse: they only read it.
func TestReport(t *testing.T) {
	wh := synthWarehouse(t)
	t.Run("command", func(t *testing.T) { testReportCommand(t, wh) })
	t.Run("redact", func(t *testing.T) { testReportRedact(t, wh) })
	t.Run("in browser", func(t *testing.T) { testReportInBrowser(t, wh) })
}

func testReportInBrowser(t *testing.T, wh string) {
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Skipf("skipping the browser test: %s is missing (install Debian's chromium package: apt-get install chromium fonts-dejavu-core)", chromiumPath)
	}
	if testing.Short() {
		t.Skip("skipping the browser test in -short mode")
	}
	t.Run("the console check sees errors", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.html")
		os.WriteFile(bad, []byte(`<!DOCTYPE html><p>x</p><script>null.f()</script>`), 0o600)
		_, log := runChromium(t, "--dump-dom", "file://"+bad)
		if len(consoleErrors(log)) == 0 {
			t.Fatalf("a page that throws produced no console error in the log:\n%s", log)
		}
	})
	page, _ := writeReport(t, wh, "--portal", "https://contoso.portal.cloudappsecurity.com/#/audits?activity.id=eq({id},)")
	noReferences(t, page)
	file := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(file, []byte(page), 0o600); err != nil {
		t.Fatal(err)
	}
	dom, log := runChromium(t, "--dump-dom", "file://"+file)
	if errs := consoleErrors(log); len(errs) > 0 {
		t.Errorf("console errors or requests:\n%s", strings.Join(errs, "\n"))
	}
	body := regexp.MustCompile(`<body([^>]*)>`).FindStringSubmatch(dom)
	if body == nil || strings.Contains(body[1], "data-errors") {
		t.Fatalf("the page recorded script errors: %v", body)
	}
	want := charts(t, page)
	if !strings.Contains(body[1], fmt.Sprintf(`data-checked="%d"`, len(want))) {
		t.Fatalf("the page's self-check did not run over %d charts: <body%s>", len(want), body[1])
	}
	rendered := regexp.MustCompile(`data-chart="([^"]+)" data-count="(\d+)" data-rendered="(\d+)"`).FindAllStringSubmatch(dom, -1)
	if len(rendered) != len(want) {
		t.Fatalf("%d charts rendered, want %d", len(rendered), len(want))
	}
	for _, m := range rendered {
		if m[2] != m[3] || m[2] != strconv.Itoa(want[m[1]][1]) {
			t.Errorf("chart %s: %s marks declared, %s drawn by the browser, %d in the page", m[1], m[2], m[3], want[m[1]][1])
		}
	}
	// Users, IPs and ids stay whole at the screen's width (the tables scroll) and laid out for
	// print at A4's printable width (182 mm, about 690 CSS px: the rows become blocks that wrap
	// between values), where none may run past the page's edge either.
	for _, layout := range []struct{ name, size, hash string }{
		{"screen", "1100,2400", ""}, {"narrow screen", "700,2400", ""}, {"print", "690,2400", "#print"},
	} {
		dom, _ := runChromium(t, "--window-size="+layout.size, "--dump-dom", "file://"+file+layout.hash)
		body := regexp.MustCompile(`<body([^>]*)>`).FindStringSubmatch(dom)
		attr := func(name string) string {
			m := regexp.MustCompile(name + `="([^"]*)"`).FindStringSubmatch(body[1])
			if m == nil {
				return ""
			}
			return html.UnescapeString(m[1])
		}
		if body == nil || attr("data-tokens") == "" || attr("data-tokens") == "0" {
			t.Fatalf("%s: the page's value check did not run: %v", layout.name, body)
		}
		if layout.hash != "" && attr("data-layout") != "print" {
			t.Errorf("%s: the page did not lay itself out for print", layout.name)
		}
		if w := attr("data-wrapped"); !strings.HasSuffix(w, "#0") {
			t.Errorf("%s: values wrapped inside themselves: %s", layout.name, w)
		}
		if c := attr("data-clipped"); layout.hash != "" && !strings.HasSuffix(c, "#0") {
			t.Errorf("%s: values run past the page's edge: %s", layout.name, c)
		}
		t.Logf("%s: %s values checked", layout.name, attr("data-tokens"))
	}
	dir := os.Getenv("MCASLOAD_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	runChromium(t, "--hide-scrollbars", "--window-size=1100,2400", "--screenshot="+shot, "file://"+file)
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Fatalf("no screenshot at %s: %v", shot, err)
	}
	t.Logf("screenshot: %s", shot)
}
