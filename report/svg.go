package report

import (
	"fmt"
	"html"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/internal/humanize"
)

// palette is Okabe and Ito's colour-blind-safe set, darkest first so that the first series
// (the most common) keeps good contrast with the white page; "other" is grey.
var palette = []string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442"}

const otherColor = "#8C8C8C"

// Chart is one SVG chart, drawn on the server, ready to embed. Count is the number of data
// marks it holds (bars, bar segments, points); each mark carries a data-mark attribute so a
// browser test can check that all of them rendered.
type Chart struct {
	ID    string
	Title string
	Count int
	SVG   template.HTML
	// Legend lists the series with their colours (empty for one series).
	Legend []LegendItem
	// Note says what was left out (e.g. points beyond the first 400).
	Note string
}

// LegendItem is one series of a chart.
type LegendItem struct{ Name, Color string }

// series is one named list of values, one per category or bucket.
type series struct {
	name   string
	color  string
	values []float64
}

const (
	chartWidth = 760
	labelWidth = 220 // left margin for category labels of horizontal bars
	barHeight  = 18
	barGap     = 6
)

func esc(s string) string { return html.EscapeString(s) }

func num(f float64) string {
	if f == math.Trunc(f) && math.Abs(f) < 1e15 {
		return humanize.Count(int64(f))
	}
	return strconv.FormatFloat(f, 'f', 2, 64)
}

func px(f float64) string { return strconv.FormatFloat(math.Round(f*10)/10, 'f', -1, 64) }

func svgOpen(b *strings.Builder, id, title, desc string, height int) {
	fmt.Fprintf(b, `<svg viewBox="0 0 %d %d" width="100%%" role="img" aria-labelledby="%s-t %s-d" preserveAspectRatio="xMinYMin meet">`, chartWidth, height, id, id)
	fmt.Fprintf(b, `<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
}

// hbars draws horizontal bars, one row per label, stacked when there are several series. The
// total is written at the end of each bar so the chart reads without colour.
func hbars(id, title string, labels []string, ss []series) Chart {
	n := len(labels)
	height := n*(barHeight+barGap) + barGap + 4
	if n == 0 {
		height = 40
	}
	max := 0.0
	totals := make([]float64, n)
	for i := range labels {
		for _, s := range ss {
			totals[i] += s.values[i]
		}
		max = math.Max(max, totals[i])
	}
	var b strings.Builder
	svgOpen(&b, id, title, fmt.Sprintf("horizontal bar chart, %d bars", n), height)
	plot := float64(chartWidth - labelWidth - 70)
	if len(ss) > 1 {
		plot -= 90 // room for the breakdown after the total
	}
	count := 0
	for i, label := range labels {
		y := barGap + i*(barHeight+barGap)
		fmt.Fprintf(&b, `<text x="%d" y="%d" class="lbl" text-anchor="end">%s</text>`, labelWidth-6, y+barHeight-5, esc(shorten(label, 30)))
		x := float64(labelWidth)
		for _, s := range ss {
			v := s.values[i]
			if v <= 0 {
				continue
			}
			w := math.Max(plot*v/max, 1)
			fmt.Fprintf(&b, `<rect data-mark x="%s" y="%d" width="%s" height="%d" fill="%s"><title>%s — %s: %s</title></rect>`,
				px(x), y, px(w), barHeight, s.color, esc(label), esc(s.name), num(v))
			x += w
			count++
		}
		// The parts after the first are named in words too, so the chart reads without colour.
		val := num(totals[i])
		for _, s := range ss[1:] {
			if v := s.values[i]; v > 0 {
				val += fmt.Sprintf(" (%s %s)", num(v), s.name)
			}
		}
		fmt.Fprintf(&b, `<text x="%s" y="%d" class="val">%s</text>`, px(x+4), y+barHeight-5, esc(val))
	}
	if n == 0 {
		b.WriteString(`<text x="10" y="25" class="lbl">no data in the window</text>`)
	}
	b.WriteString(`</svg>`)
	return Chart{ID: id, Title: title, Count: count, SVG: template.HTML(b.String()), Legend: legend(ss)}
}

func legend(ss []series) []LegendItem {
	if len(ss) < 2 {
		return nil
	}
	out := make([]LegendItem, len(ss))
	for i, s := range ss {
		out[i] = LegendItem{Name: s.name, Color: s.color}
	}
	return out
}

// columns draws stacked columns over time, one per bucket starting at start.
func columns(id, title string, start time.Time, step time.Duration, ss []series) Chart {
	const height, top, bottom, left = 230, 12, 34, 56
	nb := 0
	if len(ss) > 0 {
		nb = len(ss[0].values)
	}
	totals := make([]float64, nb)
	max := 0.0
	for i := range totals {
		for _, s := range ss {
			totals[i] += s.values[i]
		}
		max = math.Max(max, totals[i])
	}
	var b strings.Builder
	svgOpen(&b, id, title, fmt.Sprintf("stacked column chart over time, %d columns of %s", nb, step), height)
	plotW, plotH := float64(chartWidth-left-10), float64(height-top-bottom)
	axisY := float64(top) + plotH
	yMax := niceCeil(max)
	for _, f := range []float64{0, 0.5, 1} {
		y := axisY - plotH*f
		fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" class="grid"/><text x="%d" y="%s" class="ax" text-anchor="end">%s</text>`,
			left, chartWidth-10, px(y), px(y), left-4, px(y+4), num(yMax*f))
	}
	bw := plotW / math.Max(float64(nb), 1)
	count := 0
	for i := range nb {
		x := float64(left) + float64(i)*bw
		y := axisY
		at := start.Add(time.Duration(i) * step)
		for _, s := range ss {
			v := s.values[i]
			if v <= 0 {
				continue
			}
			h := math.Max(plotH*v/yMax, 0.8)
			y -= h
			fmt.Fprintf(&b, `<rect data-mark x="%s" y="%s" width="%s" height="%s" fill="%s"><title>%s %s: %s</title></rect>`,
				px(x+0.5), px(y), px(math.Max(bw-1, 0.8)), px(h), s.color, at.Format("Jan 2 15:04"), esc(s.name), num(v))
			count++
		}
	}
	// Day ticks: one label per UTC midnight, thinned to at most 10.
	days := int(math.Ceil(float64(nb) * float64(step) / float64(24*time.Hour)))
	every := max1(days / 10)
	first := start.Truncate(24 * time.Hour)
	for d := 0; d <= days; d++ {
		t := first.Add(time.Duration(d) * 24 * time.Hour)
		if t.Before(start) || d%every != 0 {
			continue
		}
		x := float64(left) + float64(t.Sub(start))/float64(step)*bw
		if x > float64(chartWidth-30) {
			break // a label there would be cut by the edge
		}
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%s" y2="%s" class="tick"/><text x="%s" y="%s" class="ax" text-anchor="middle">%s</text>`,
			px(x), px(x), px(axisY), px(axisY+4), px(x), px(axisY+16), t.Format("Jan 2"))
	}
	fmt.Fprintf(&b, `<line x1="%d" x2="%d" y1="%s" y2="%s" class="axis"/>`, left, chartWidth-10, px(axisY), px(axisY))
	b.WriteString(`</svg>`)
	return Chart{ID: id, Title: title, Count: count, SVG: template.HTML(b.String()), Legend: legend(ss)}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// niceCeil rounds v up to a round multiple of a power of ten (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8),
// for axis labels people read without wasting half the chart.
func niceCeil(v float64) float64 {
	if v <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

// point is one event on a timeline.
type point struct {
	t     time.Time
	lane  int
	label string // the tooltip
}

// timeline draws points on a time axis, one lane (row) per lane name.
func timeline(id, title string, from, to time.Time, lanes []string, pts []point) Chart {
	const top, bottom, laneH = 8, 30, 22
	if len(lanes) == 0 {
		lanes = []string{""}
	}
	height := top + bottom + laneH*len(lanes)
	var b strings.Builder
	svgOpen(&b, id, title, fmt.Sprintf("timeline, %d points in %d rows", len(pts), len(lanes)), height)
	left := float64(labelWidth)
	plotW := float64(chartWidth) - left - 16
	span := to.Sub(from)
	if span <= 0 {
		span = time.Hour
	}
	xOf := func(t time.Time) float64 { return left + plotW*float64(t.Sub(from))/float64(span) }
	for i, l := range lanes {
		y := top + i*laneH + laneH/2
		fmt.Fprintf(&b, `<line x1="%s" x2="%d" y1="%d" y2="%d" class="grid"/><text x="%s" y="%d" class="lbl" text-anchor="end">%s</text>`,
			px(left), chartWidth-16, y, y, px(left-6), y+4, esc(shorten(l, 30)))
	}
	axisY := top + laneH*len(lanes)
	days := int(math.Ceil(span.Hours() / 24))
	every := max1(days / 8)
	for d, t := 0, from.Truncate(24*time.Hour); !t.After(to); d, t = d+1, t.Add(24*time.Hour) {
		if t.Before(from) || d%every != 0 || xOf(t) > float64(chartWidth-36) {
			continue
		}
		x := xOf(t)
		fmt.Fprintf(&b, `<line x1="%s" x2="%s" y1="%d" y2="%d" class="tick"/><text x="%s" y="%d" class="ax" text-anchor="middle">%s</text>`,
			px(x), px(x), axisY, axisY+4, px(x), axisY+16, t.Format("Jan 2"))
	}
	fmt.Fprintf(&b, `<line x1="%s" x2="%d" y1="%d" y2="%d" class="axis"/>`, px(left), chartWidth-16, axisY, axisY)
	for _, p := range pts {
		x := math.Min(math.Max(xOf(p.t), left), float64(chartWidth-16))
		y := top + p.lane*laneH + laneH/2
		fmt.Fprintf(&b, `<circle data-mark cx="%s" cy="%d" r="4.5" fill="%s" fill-opacity="0.75" stroke="#003c5e" stroke-width="0.6"><title>%s</title></circle>`,
			px(x), y, palette[0], esc(p.label))
	}
	b.WriteString(`</svg>`)
	return Chart{ID: id, Title: title, Count: len(pts), SVG: template.HTML(b.String())}
}

// shorten cuts s to n runes with an ellipsis.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
