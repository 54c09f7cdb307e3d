package streaming

import (
	"strconv"
	"strings"
	"time"
)

// pathTime is the time a blob path names through Azure Monitor's folders
// y=YYYY/m=MM/d=DD/h=HH/m=MM, as far as it got: depth 0 none, 1 year, 2 month, 3 day, 4 hour,
// 5 minute.
type pathTime struct {
	y, mo, d, h, mi int
	depth           int
}

// next takes one path segment. It reports whether the segment was the next time folder; any
// other segment (tenantId=…, resourceId=…, PT1H.json) leaves the time as it was.
func (p pathTime) next(seg string) (pathTime, bool) {
	key, val, ok := strings.Cut(seg, "=")
	if !ok {
		return p, false
	}
	want, lo, hi, width := "", 0, 0, 2
	switch p.depth {
	case 0:
		want, lo, hi, width = "y", 1, 9999, 4
	case 1:
		want, lo, hi = "m", 1, 12
	case 2:
		want, lo, hi = "d", 1, 31
	case 3:
		want, lo, hi = "h", 0, 23
	case 4:
		want, lo, hi = "m", 0, 59
	default:
		return p, false
	}
	// Digits only: Atoi also takes a sign ("h=+0", found by FuzzPathTime), which no folder of
	// the export's layout has.
	n, err := strconv.Atoi(val)
	if key != want || len(val) != width || strings.ContainsAny(val, "+-") || err != nil || n < lo || n > hi {
		return p, false
	}
	switch p.depth {
	case 0:
		p.y = n
	case 1:
		p.mo = n
	case 2:
		p.d = n
	case 3:
		p.h = n
	case 4:
		p.mi = n
	}
	p.depth++
	return p, true
}

// span is the interval [start, end) of event times the folders named so far can hold; ok is
// false before the year (nothing to bound by).
func (p pathTime) span() (start, end time.Time, ok bool) {
	switch p.depth {
	case 0:
		return time.Time{}, time.Time{}, false
	case 1:
		start = time.Date(p.y, 1, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(1, 0, 0), true
	case 2:
		start = time.Date(p.y, time.Month(p.mo), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), true
	case 3:
		start = time.Date(p.y, time.Month(p.mo), p.d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1), true
	}
	// Azure Monitor's minute folder is always m=00 for hourly blobs: the blob still holds an hour.
	start = time.Date(p.y, time.Month(p.mo), p.d, p.h, 0, 0, 0, time.UTC)
	return start, start.Add(time.Hour), true
}

// PathTime returns the hour a blob's path names (…/y=2026/m=12/d=06/h=12/m=00/PT1H.json →
// 2026-12-06T12:00Z), and false when the path does not name an hour. The folders may sit below
// any others (tenantId=…, resourceId=/SUBSCRIPTIONS/…) and must come in this order.
func PathTime(name string) (time.Time, bool) {
	var p pathTime
	for seg := range strings.SplitSeq(name, "/") {
		p, _ = p.next(seg)
	}
	if p.depth < 4 {
		return time.Time{}, false
	}
	start, _, _ := p.span()
	return start, true
}

// Window bounds a listing by path time: a blob whose path names hour H holds events of
// [H, H+1h) and is listed when that hour overlaps [Since, Until). A zero bound is open. Blobs
// whose paths name no hour are always listed: nothing says what they hold.
type Window struct {
	Since, Until time.Time
}

// Incremental is the window of a run after the last one: every hour from the newest committed
// hour minus overlap on. Azure Monitor's exports write a late event into the blob of the hour it
// happened and retry for up to 12 hours (learn.microsoft.com/azure/azure-monitor/logs/logs-data-export,
// "Data completeness" and the storage account note), and a public collector saw an hour's blob
// still growing 13 hours later (rknightion/graph2otel, internal/blobpipeline): an old hour's blob
// can grow, so the overlap must be long. Listing an hour costs little; an unchanged blob is
// skipped by its ETag without a read.
func Incremental(lastHour time.Time, overlap time.Duration) Window {
	if lastHour.IsZero() {
		return Window{}
	}
	return Window{Since: lastHour.Add(-overlap)}
}

// DefaultOverlap is how far before the newest committed hour an incremental run looks again.
const DefaultOverlap = 7 * 24 * time.Hour

// overlaps reports whether [start, end) meets the window.
func (w Window) overlaps(start, end time.Time) bool {
	return (w.Since.IsZero() || end.After(w.Since)) && (w.Until.IsZero() || start.Before(w.Until))
}

// covers reports whether [start, end) lies wholly inside the window, so nothing below it can be
// pruned.
func (w Window) covers(start, end time.Time) bool {
	return (w.Since.IsZero() || !start.Before(w.Since)) && (w.Until.IsZero() || !end.After(w.Until))
}

// open reports whether the window bounds nothing.
func (w Window) open() bool { return w.Since.IsZero() && w.Until.IsZero() }

// holds reports whether a blob named name is listed in the window.
func (w Window) holds(name string) bool {
	h, ok := PathTime(name)
	return !ok || w.overlaps(h, h.Add(time.Hour))
}
