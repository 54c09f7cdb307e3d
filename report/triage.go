package report

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html"
	"html/template"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mcasload/mcasload/queries"
)

// Triage in the report (issue 16): findings ordered by severity, each with its ATT&CK
// techniques and links into the portal; a summary of severities and of what is new since the
// previous report; values that stay whole (a user, an IP or an id never wraps inside itself:
// the table scrolls, or wraps between values); every row reachable, the first Top shown and the
// rest folded but printed.

// maxRows bounds the rows of one finding the page holds, so a flood keeps the page small; the
// finding says how to get the rest.
const maxRows = 200

// maxEvidence is how many evidence ids a row shows, each whole and linked when a portal is known.
const maxEvidence = 3

// maxListItems is how many elements of a list cell a row shows before "+N more".
const maxListItems = 6

// maxText is the length past which free text (descriptions, user agents) is cut, at a space.
const maxText = 160

// Token is one value of a cell: shown whole (never wrapped inside), linked when Link is set.
type Token struct {
	Text string
	Link string
}

// Href is the link's attribute, written whole: html/template would percent-encode the
// parentheses of the portal's "eq(<id>,)", which the portal's page reads literally. The link is
// the portal template (ours, or the user's flag) with the id URL-escaped in it; it is
// HTML-escaped here.
func (t Token) Href() template.HTMLAttr {
	return template.HTMLAttr(`href="` + html.EscapeString(t.Link) + `"`)
}

// Cell is one value of a findings table: Tokens (whole values, wrapping only between them), or
// Text (free text that wraps at its spaces), and More saying what was left out.
type Cell struct {
	Col    string // the column, for the printed layout's labels
	Tokens []Token
	Text   string
	More   string
	Num    bool
}

// Row is one row of a finding.
type Row struct {
	Cells    []Cell
	Severity string // the row's severity (detections)
	New      bool   // not in the previous report
}

// Technique is an ATT&CK id with its name.
type Technique struct {
	ID, Name string
}

// Summary heads the page: how many rows of each severity the detections found, and how many
// of them are new since the previous report.
type Summary struct {
	Levels []LevelCount
	Total  int
	// New is how many rows are new; NewKnown is false when there is no previous report to
	// compare with, and NewNote says what was compared (or why nothing was).
	New      int
	NewKnown bool
	NewNote  string
}

// LevelCount is one severity's count of rows and of investigations reporting it.
type LevelCount struct {
	Level          string
	Rows           int
	Investigations int
}

// Previous is what the report needs of an earlier report: its finding keys (KeysOf reads them).
type Previous struct {
	Name      string // the file, for the summary
	Generated string
	Keys      map[string]bool
}

// keysMeta is the <meta> of the page holding its finding keys, for the next report to compare.
const keysMeta = "mcasload-finding-keys"

var (
	keysRE      = regexp.MustCompile(`<meta name="` + keysMeta + `" content="([0-9a-f ]*)">`)
	generatedRE = regexp.MustCompile(`<meta name="mcasload-generated" content="([^"]*)">`)
)

// KeysOf reads the finding keys of a page this package rendered; ok is false when it holds
// none (not a report, or a redacted one, which keeps no keys).
func KeysOf(page []byte) (Previous, bool) {
	m := keysRE.FindSubmatch(page)
	if m == nil {
		return Previous{}, false
	}
	p := Previous{Keys: map[string]bool{}}
	for _, k := range strings.Fields(string(m[1])) {
		p.Keys[k] = true
	}
	if g := generatedRE.FindSubmatch(page); g != nil {
		p.Generated = string(g[1])
	}
	return p, true
}

// findingKey names a detection row across reports: the investigation, its entity values and
// the bucket (the header's) its evidence starts in, hashed so the page does not list them again.
func findingKey(inv *queries.Investigation, t *table, row []cell) string {
	h := sha256.New()
	h.Write([]byte(inv.Name))
	for _, kind := range sortedKeys(inv.Entities) {
		for _, col := range inv.Entities[kind] {
			if c := t.col(col); c >= 0 {
				fmt.Fprintf(h, "\x1f%s=%s", col, strings.ToLower(row[c].text))
			}
		}
	}
	if c := t.col(queries.ColFirstSeen); c >= 0 && !row[c].isNull && inv.Bucket > 0 {
		fmt.Fprintf(h, "\x1f%d", row[c].t.Truncate(inv.Bucket).Unix())
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// severityRank orders severities, informational 1 … high 4; 0 for none.
func severityRank(s string) int { return slices.Index(queries.Severities, s) + 1 }

// hiddenColumns are triage columns a findings table does not show as such: the techniques
// are the finding's (in its header), the links go on the evidence ids.
var hiddenColumns = []string{queries.ColTechniques, queries.ColPortalURL}

// rowCells turns one result row into cells: lists become whole values (the first few, then
// "+N more"), evidence ids carry their portal links, free text is cut at a space.
func (b *builder) rowCells(inv *queries.Investigation, t *table, row []cell, shown []int) []Cell {
	var entityCols []string
	for _, cols := range inv.Entities {
		entityCols = append(entityCols, cols...)
	}
	links := []string(nil)
	if c := t.col(queries.ColPortalURL); c >= 0 {
		links = row[c].list
	}
	out := make([]Cell, 0, len(shown))
	for _, c := range shown {
		v := row[c]
		switch {
		case v.isNull:
			out = append(out, Cell{Col: t.cols[c]})
		case t.cols[c] == queries.ColEvidenceIDs:
			cell := Cell{Col: t.cols[c]}
			for i, id := range v.list[:min(len(v.list), maxEvidence)] {
				tok := Token{Text: id}
				if i < len(links) {
					tok.Link = links[i]
				}
				cell.Tokens = append(cell.Tokens, tok)
			}
			if n := len(v.list) - maxEvidence; n > 0 {
				cell.More = fmt.Sprintf("+%d more", n)
			}
			out = append(out, cell)
		case v.kind == kindList && !isEntity(entityCols, t.cols[c]) && slices.ContainsFunc(v.list, isFreeText):
			out = append(out, Cell{Col: t.cols[c], Text: cutAtSpace(b.show(strings.Join(v.list, ", ")), maxText)})
		case v.kind == kindList:
			cell := Cell{Col: t.cols[c]}
			for _, e := range v.list[:min(len(v.list), maxListItems)] {
				cell.Tokens = append(cell.Tokens, Token{Text: b.show(e)})
			}
			if n := len(v.list) - maxListItems; n > 0 {
				cell.More = fmt.Sprintf("+%d more", n)
			}
			out = append(out, cell)
		case v.kind == kindNum:
			out = append(out, Cell{Col: t.cols[c], Tokens: []Token{{Text: v.text}}, Num: true})
		case v.kind == kindTime:
			out = append(out, Cell{Col: t.cols[c], Tokens: []Token{{Text: v.text}}})
		case isFreeText(v.text) && !isEntity(entityCols, t.cols[c]):
			out = append(out, Cell{Col: t.cols[c], Text: cutAtSpace(b.show(v.text), maxText)})
		default:
			out = append(out, Cell{Col: t.cols[c], Tokens: []Token{{Text: b.show(v.text)}}})
		}
	}
	return out
}

// maxToken is the longest value without spaces kept whole outside the entity columns; a
// longer one (a JSON blob, a URL) wraps after its separators.
const maxToken = 48

// isFreeText reports whether s wraps like prose: it has spaces, or is too long to keep whole.
func isFreeText(s string) bool {
	return strings.ContainsAny(s, " \t\n") || utf8.RuneCountInString(s) > maxToken
}

func isEntity(entityCols []string, col string) bool { return slices.Contains(entityCols, col) }

// Wrapped is free text as HTML that may wrap at its spaces and after its separators (, ; / & =),
// never elsewhere.
func (c Cell) Wrapped() template.HTML {
	var b strings.Builder
	for _, r := range c.Text {
		b.WriteString(html.EscapeString(string(r)))
		if strings.ContainsRune(",;/&=", r) {
			b.WriteString("<wbr>")
		}
	}
	return template.HTML(b.String())
}

// cutAtSpace cuts free text to about n characters at a space, never inside a word.
func cutAtSpace(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	cut := strings.LastIndexAny(string(r[:n]), " \t\n")
	if cut <= 0 {
		cut = len(string(r[:n]))
	}
	return strings.TrimRight(s[:cut], " \t\n") + " …"
}

// summarize counts the findings' rows per severity, highest first, and the new ones.
func summarize(findings []Finding, prev *Previous) Summary {
	var s Summary
	for i := len(queries.Severities) - 1; i >= 0; i-- {
		lc := LevelCount{Level: queries.Severities[i]}
		for _, f := range findings {
			if n := f.BySeverity[lc.Level]; n > 0 {
				lc.Rows += n
				lc.Investigations++
			}
		}
		s.Total += lc.Rows
		s.Levels = append(s.Levels, lc)
	}
	for _, f := range findings {
		s.New += f.New
	}
	switch {
	case prev == nil:
		s.NewNote = "no previous report to compare with (mcasload report --previous FILE)"
	case prev.Keys == nil:
		s.NewNote = prev.Name + " holds no finding keys (a redacted report, or not one of mcasload's), so nothing is compared"
	default:
		s.NewKnown = true
		s.NewNote = "since " + prev.Name
		if prev.Generated != "" {
			s.NewNote += ", generated " + prev.Generated
		}
	}
	return s
}

// freshness says how current the data is: the newest activity and the last scan.
func freshness(newest, lastScan, generated time.Time) string {
	var parts []string
	if newest.IsZero() {
		parts = append(parts, "no activity in the warehouse")
	} else {
		parts = append(parts, "newest activity "+newest.UTC().Format("2006-01-02 15:04 MST")+" ("+ago(generated.Sub(newest))+" before this report)")
	}
	if lastScan.IsZero() {
		parts = append(parts, "never scanned (activities loaded from files)")
	} else {
		parts = append(parts, "last scan "+lastScan.UTC().Format("2006-01-02 15:04 MST"))
	}
	return strings.Join(parts, "; ")
}

// ago writes a duration as people say it: 3 minutes, 5 hours, 2 days.
func ago(d time.Duration) string {
	switch {
	case d < 0:
		return "after the report's time"
	case d < 2*time.Minute:
		return "a minute"
	case d < 2*time.Hour:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	}
	return fmt.Sprintf("%d days", int(d.Hours()/24))
}

// columnWords are column names as a chart title says them.
var columnWords = map[string]string{
	"user_name": "user", "ts": "time", "win": "window start", "day": "day", "ip": "IP address", "ips": "IP addresses",
	"app_name": "app", "first_seen": "first evidence", "last_seen": "last evidence", "from_ts": "first sign-in",
	"to_ts": "second sign-in", "from_loc": "place of the first sign-in", "to_loc": "place of the second sign-in",
	"n": "activities", "country": "country", "countries": "countries", "mailbox": "mailbox", "actor": "actor",
}

// words turns a column name into words: its entry in columnWords, else the name with its
// underscores as spaces and a trailing _ts as "time".
func words(col string) string {
	if w, ok := columnWords[col]; ok {
		return w
	}
	w := strings.TrimSuffix(col, "_name")
	if s, ok := strings.CutSuffix(w, "_ts"); ok {
		w = s + " time"
	}
	return strings.ReplaceAll(w, "_", " ")
}

// title is an investigation's name as words: "mass-download" → "Mass download".
func title(name string) string {
	s := strings.ReplaceAll(name, "-", " ")
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
