package report

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/mcasload/mcasload/queries"
)

// maxPoints bounds the points of one timeline so a big result keeps the page small.
const maxPoints = 400

// maxLanes bounds the rows of one timeline; the rest share a row called "others".
const maxLanes = 12

// cellWidth is how many characters of a cell the findings tables show.
const cellWidth = 80

// findings runs every investigation. Those with a required parameter (a user or IPs to
// follow) run last, on the user or IP that the other findings name most often.
func (b *builder) findings(ctx context.Context) ([]Finding, error) {
	invs := slices.Clone(b.opts.Investigations)
	slices.SortStableFunc(invs, func(x, y *queries.Investigation) int { return boolInt(needsChoice(x)) - boolInt(needsChoice(y)) })
	users, ips := map[string]int{}, map[string]int{}
	byName := map[string]Finding{}
	for _, inv := range invs {
		b.step(inv.Name)
		f, t := b.finding(ctx, inv, users, ips)
		if t != nil {
			tally(t, users, ips)
		}
		byName[inv.Name] = f
	}
	out := make([]Finding, 0, len(byName))
	for _, inv := range b.opts.Investigations {
		out = append(out, byName[inv.Name])
	}
	// The most severe findings first, so the reader meets what needs attention before the
	// all-clear: detections with rows by their highest severity (then by how many rows have
	// it), then pivots with rows, failures, and last what found nothing or did not run.
	slices.SortStableFunc(out, func(x, y Finding) int {
		if c := findingOrder(x) - findingOrder(y); c != 0 {
			return c
		}
		return y.BySeverity[y.Severity] - x.BySeverity[x.Severity]
	})
	return out, nil
}

// findingOrder is a finding's place: high 0 … informational 3, a pivot with rows 4, a failure
// 5, nothing found 6.
func findingOrder(f Finding) int {
	switch {
	case f.Error != "":
		return 5
	case f.Rows == 0:
		return 6
	case f.Severity != "":
		return len(queries.Severities) - severityRank(f.Severity)
	}
	return 4
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func needsChoice(inv *queries.Investigation) bool {
	for _, p := range inv.Params {
		if p.Required {
			return true
		}
	}
	return false
}

// tally counts the user names (e-mail addresses) and IPs a result names.
func tally(t *table, users, ips map[string]int) {
	for _, row := range t.rows {
		for c, v := range row {
			if t.kinds[c] != kindText && t.kinds[c] != kindList {
				continue
			}
			vals := v.list
			if t.kinds[c] == kindText {
				vals = []string{v.text}
			}
			for _, s := range vals {
				if _, err := netip.ParseAddr(s); err == nil {
					ips[s]++
				} else if emailRE.MatchString(s) && emailRE.FindString(s) == s {
					users[s]++
				}
			}
		}
	}
}

// mostNamed is the key with the highest count (ties by name), or "".
func mostNamed(m map[string]int) string {
	best := ""
	for _, k := range sortedKeys(m) {
		if best == "" || m[k] > m[best] {
			best = k
		}
	}
	return best
}

// finding runs one investigation; an error becomes part of the finding, not of the report.
func (b *builder) finding(ctx context.Context, inv *queries.Investigation, users, ips map[string]int) (Finding, *table) {
	f := Finding{Name: inv.Name, Title: title(inv.Name), Kind: inv.Kind, Question: inv.Question, About: inv.Description}
	for _, id := range inv.Techniques {
		f.Techniques = append(f.Techniques, Technique{ID: id, Name: queries.AttackName(id)})
	}
	values := map[string]string{
		"since": b.opts.Since.UTC().Format(time.RFC3339Nano),
		"until": b.opts.Until.UTC().Format(time.RFC3339Nano),
	}
	var chosen []string
	for _, p := range inv.Params {
		if !p.Required {
			continue
		}
		var v string
		switch {
		case strings.Contains(p.Name, "user"):
			v = mostNamed(users)
		case strings.Contains(p.Name, "ip"):
			v = mostNamed(ips)
		}
		if v == "" {
			f.Note = fmt.Sprintf("Not run: it needs --param %s=… and no other finding names one. Run: mcasload query %s --param %s=…", p.Name, inv.Name, p.Name)
			return f, nil
		}
		values[p.Name] = v
		chosen = append(chosen, p.Name+"="+b.show(v))
	}
	if len(chosen) > 0 {
		f.Params = strings.Join(chosen, ", ") + " (named most often by the other findings)"
	}
	rdr, err := b.src.Run(ctx, inv, values, b.opts.Generated)
	if err != nil {
		f.Error = b.show(err.Error())
		return f, nil
	}
	t, err := readTable(rdr)
	if err != nil {
		f.Error = b.show(err.Error())
		return f, nil
	}
	b.fillRows(inv, t, &f)
	if f.Rows > 0 {
		f.Chart, f.Note = b.findingChart(inv, t)
	}
	return f, t
}

// fillRows puts t's rows in f: the severities, the finding keys (and which rows are new), the
// first Top rows and the folded rest, up to maxRows.
func (b *builder) fillRows(inv *queries.Investigation, t *table, f *Finding) {
	f.Rows = len(t.rows)
	var shown []int
	for i, c := range t.cols {
		if !slices.Contains(hiddenColumns, c) {
			shown = append(shown, i)
			f.Columns = append(f.Columns, c)
		}
	}
	sev := t.col(queries.ColSeverity)
	f.BySeverity = map[string]int{}
	for i, row := range t.rows {
		r := Row{}
		if sev >= 0 {
			r.Severity = row[sev].text
			f.BySeverity[r.Severity]++
			if severityRank(r.Severity) > severityRank(f.Severity) {
				f.Severity = r.Severity
			}
		}
		if inv.Kind == queries.Detection {
			key := findingKey(inv, t, row)
			b.keys = append(b.keys, key)
			if b.opts.Previous != nil && b.opts.Previous.Keys != nil && !b.opts.Previous.Keys[key] {
				r.New = true
				f.New++
			}
		}
		if i >= maxRows {
			continue
		}
		r.Cells = b.rowCells(inv, t, row, shown)
		if i < b.opts.Top {
			f.Top = append(f.Top, r)
		} else {
			f.Rest = append(f.Rest, r)
		}
	}
	f.Hidden = max(0, f.Rows-maxRows)
}

// findingChart draws the first chart kind of the header that the result's columns allow.
func (b *builder) findingChart(inv *queries.Investigation, t *table) (*Chart, string) {
	for _, kind := range inv.Charts {
		var c *Chart
		switch kind {
		case "timeline":
			c = b.timelineChart(inv, t)
		case "map":
			c = b.countryChart(inv, t)
		case "bar":
			c = b.barChart(inv, t)
		case "table":
			return nil, ""
		}
		if c != nil {
			return c, ""
		}
	}
	return nil, fmt.Sprintf("no chart: the result has no columns for a %s", strings.Join(inv.Charts, " or "))
}

// laneColumn picks the column naming who or what each row is about: a user column first.
func laneColumn(t *table) int {
	for _, pref := range []string{"user", "mailbox", "actor", "ip", "app", "dest"} {
		for i, c := range t.cols {
			if t.kinds[i] == kindText && strings.Contains(c, pref) {
				return i
			}
		}
	}
	for i := range t.cols {
		if t.kinds[i] == kindText {
			return i
		}
	}
	return -1
}

func (b *builder) timelineChart(inv *queries.Investigation, t *table) *Chart {
	tc := -1
	for i, k := range t.kinds {
		if k == kindTime {
			tc = i
			break
		}
	}
	if tc < 0 {
		return nil
	}
	lc := laneColumn(t)
	counts := map[string]float64{}
	for _, row := range t.rows {
		if lc >= 0 {
			counts[row[lc].text]++
		}
	}
	lanes := topKeys(counts, maxLanes)
	laneIdx := map[string]int{}
	shown := make([]string, len(lanes))
	for i, l := range lanes {
		laneIdx[l] = i
		shown[i] = b.show(l)
	}
	if len(counts) > maxLanes {
		shown = append(shown, "others")
	}
	from, to := b.opts.Since, b.opts.Until
	var pts []point
	for _, row := range t.rows {
		if row[tc].isNull || len(pts) >= maxPoints {
			continue
		}
		lane := 0
		who := ""
		if lc >= 0 {
			who = row[lc].text
			i, ok := laneIdx[who]
			if !ok {
				i = len(lanes)
			}
			lane = i
		}
		at := row[tc].t
		from, to = minTime(from, at), maxTime(to, at)
		pts = append(pts, point{t: at, lane: lane, label: strings.TrimSpace(at.Format("Jan 2 15:04") + " " + b.show(who))})
	}
	if len(pts) == 0 {
		return nil
	}
	name := fmt.Sprintf("%s: each row at its %s", title(inv.Name), words(t.cols[tc]))
	if lc >= 0 {
		name += ", one line per " + words(t.cols[lc])
	}
	c := timeline("f-"+inv.Name, name, from, to, shown, pts)
	if len(t.rows) > maxPoints {
		c.Note = fmt.Sprintf("the first %d of %d rows", maxPoints, len(t.rows))
	}
	return &c
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// countryChart is the "map" kind: rows per country, from the country columns, or else from
// the location columns written country/city (a travel pair counts at both ends).
func (b *builder) countryChart(inv *queries.Investigation, t *table) *Chart {
	var cols []int
	for _, match := range []func(string) bool{
		func(c string) bool { return strings.Contains(c, "country") },
		func(c string) bool { return c == "loc" || strings.HasSuffix(c, "_loc") },
	} {
		for i, c := range t.cols {
			if (t.kinds[i] == kindText || t.kinds[i] == kindList) && match(c) {
				cols = append(cols, i)
			}
		}
		if len(cols) > 0 {
			break
		}
	}
	if len(cols) == 0 {
		return nil
	}
	counts := map[string]float64{}
	var names []string
	for _, cc := range cols {
		names = append(names, t.cols[cc])
		for _, row := range t.rows {
			vals := row[cc].list
			if t.kinds[cc] == kindText {
				vals = []string{row[cc].text}
			}
			for _, v := range vals {
				country, _, _ := strings.Cut(v, "/")
				if country == "" {
					country = "??"
				}
				counts[country]++
			}
		}
	}
	keys := topKeys(counts, maxCountries)
	labels := make([]string, len(keys))
	s := series{name: "rows", color: palette[0], values: make([]float64, len(keys))}
	for i, k := range keys {
		labels[i], s.values[i] = countryLabel(k), counts[k]
	}
	for i, n := range names {
		names[i] = words(n)
	}
	c := hbars("f-"+inv.Name, fmt.Sprintf("%s: rows per country of the %s", title(inv.Name), strings.Join(names, " and ")), labels, []series{s})
	return &c
}

// barChart sums the first numeric column per value of the row's subject column (or counts
// rows when there is no number), largest first.
func (b *builder) barChart(inv *queries.Investigation, t *table) *Chart {
	lc := laneColumn(t)
	if lc < 0 {
		return nil
	}
	vc := -1
	for i, k := range t.kinds {
		if k == kindNum {
			vc = i
			break
		}
	}
	sums := map[string]float64{}
	for _, row := range t.rows {
		v := 1.0
		if vc >= 0 {
			v = row[vc].num
		}
		sums[row[lc].text] += v
	}
	keys := topKeys(sums, b.opts.Top)
	labels := make([]string, len(keys))
	measure := "rows"
	if vc >= 0 {
		measure = t.cols[vc]
	}
	s := series{name: measure, color: palette[0], values: make([]float64, len(keys))}
	for i, k := range keys {
		labels[i], s.values[i] = b.show(k), sums[k]
	}
	c := hbars("f-"+inv.Name, fmt.Sprintf("%s: %s per %s (top %d)", title(inv.Name), words(measure), words(t.cols[lc]), b.opts.Top), labels, []series{s})
	return &c
}
