package mcas

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
)

// Page is one answer of the API, or one millisecond's tie group fetched outside scan mode.
type Page struct {
	Records []json.RawMessage // the activities exactly as received
	HasNext bool              // more pages follow
	Next    Filters           // the filters of the next scan request (nil on the last page)
	Total   int               // the service's (approximate) count of matching records
	Raw     int               // response bytes behind this page
	// Position is the bound on the sort field after this page: every record before it (in the
	// scan's direction) has been delivered. Resume with Query.ResumeAt(Position). Valid when
	// HasPosition is set (not on the last page, nor for List).
	Position    int64
	HasPosition bool
	// Tie is set on a page that holds one whole millisecond fetched outside scan mode because
	// the scan stalled on it.
	Tie bool
}

// List fetches one page outside scan mode: up to 100 records from skip (the service serves
// skip+limit only up to about 5000).
func (c *Client) List(ctx context.Context, q Query, skip int) (*Page, error) {
	q, err := q.normalized(false)
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	if skip < 0 {
		return nil, fmt.Errorf("list activities: negative skip %d", skip)
	}
	filters, err := json.Marshal(q.Filters)
	if err != nil {
		return nil, fmt.Errorf("list activities: encode filters: %w", err)
	}
	env, err := c.call(ctx, requestBody{Filters: filters, Skip: skip, Limit: q.Limit, SortField: q.SortField, SortDirection: q.SortDirection}, callOptions{op: "list"})
	if err != nil {
		return nil, fmt.Errorf("list activities: %w", err)
	}
	return &Page{Records: env.Data, HasNext: env.HasNext, Total: env.Total, Raw: env.bytes}, nil
}

// Scan fetches every activity matching q in scan mode, calling fn once per page in order; an
// error from fn stops the scan and is returned. It follows nextQueryFilters verbatim. When the
// service stops making progress — an empty page that says hasNext, or the same
// nextQueryFilters again, which happens when at least a page of records share one millisecond
// — Scan fetches that millisecond once, completely, outside scan mode, hands it to fn as one
// page with Tie set, and continues strictly past it. No record is skipped or repeated by Scan
// and it never loops.
func (c *Client) Scan(ctx context.Context, q Query, fn func(context.Context, *Page) error) error {
	q, err := q.normalized(true)
	if err != nil {
		return fmt.Errorf("scan activities: %w", err)
	}
	cur, err := json.Marshal(q.Filters)
	if err != nil {
		return fmt.Errorf("scan activities: encode filters: %w", err)
	}
	prevPos, havePrev := boundOf(q.Filters, q)
	tiesDone := map[int64]bool{}
	var pending *envelope // a page already fetched by the stall handling's bigger request
	for {
		env := pending
		pending = nil
		if env == nil {
			env, err = c.call(ctx, scanBody(cur, q, q.Limit), callOptions{op: "scan"})
			if err != nil {
				return fmt.Errorf("scan activities: %w", err)
			}
		}
		page := &Page{Records: env.Data, HasNext: env.HasNext, Total: env.Total, Raw: env.bytes}
		if !env.HasNext {
			return deliver(ctx, fn, page)
		}
		if len(env.Next) == 0 || string(env.Next) == "null" {
			return fmt.Errorf("scan activities: the service said hasNext without nextQueryFilters; cannot continue safely")
		}
		next, err := DecodeFilters(env.Next)
		if err != nil {
			return fmt.Errorf("scan activities: nextQueryFilters: %w", err)
		}
		pos, ok := boundOf(next, q)
		curFilters, _ := DecodeFilters(cur)
		stalled := len(env.Data) == 0 || next.Canonical() == curFilters.Canonical() || (ok && havePrev && pos == prevPos)
		if ok && havePrev && !stalled && !beyond(pos, prevPos, q) {
			return fmt.Errorf("scan activities: the service moved the %s bound backwards from %d to %d; stopping rather than repeating records", q.SortField, prevPos, pos)
		}
		if !stalled {
			page.Next, page.Position, page.HasPosition = next, pos, ok
			if err := deliver(ctx, fn, page); err != nil {
				return err
			}
			cur, prevPos, havePrev = env.Next, pos, ok
			continue
		}

		// Stalled: a tie group of at least a page shares the millisecond at the bound.
		if !ok {
			return fmt.Errorf("scan activities: the scan stalled and nextQueryFilters has no %s.%s bound to resolve it", q.SortField, q.boundOp())
		}
		if tiesDone[pos] {
			return fmt.Errorf("scan activities: the service returned to %s %d after its tie group was fetched; stopping rather than looping", q.SortField, pos)
		}
		c.stats.stalls.Add(1)
		c.log.InfoContext(ctx, "scan stalled on records sharing one millisecond; fetching it outside scan mode",
			"field", q.SortField, "ms", pos, "dropped_from_page", len(env.Data), "limit", q.Limit)
		// The stalled page's own records (if any) are not delivered: those at the tie
		// millisecond come with the group, those past it with the scan that resumes beyond it.
		if q.Limit < MaxScanLimit {
			bigger, err := c.call(ctx, scanBody(env.Next, q, MaxScanLimit), callOptions{op: "scan"})
			if err != nil {
				return fmt.Errorf("scan activities: re-ask with limit %d: %w", MaxScanLimit, err)
			}
			if !scanStalled(bigger, next, q, pos) {
				c.log.InfoContext(ctx, "tie group fitted in a bigger page; scan continues", "field", q.SortField, "ms", pos, "limit", MaxScanLimit)
				cur, pending, prevPos, havePrev = env.Next, bigger, pos, true
				continue
			}
		}
		group, raw, total, err := c.fetchTie(ctx, q, next, pos)
		if err != nil {
			return fmt.Errorf("scan activities: %w", err)
		}
		tiesDone[pos] = true
		past := pos + 1
		if q.SortDirection == Desc {
			past = pos - 1
		}
		moved := next.Clone().Set(q.SortField, q.boundOp(), past)
		movedJSON, err := json.Marshal(moved)
		if err != nil {
			return fmt.Errorf("scan activities: encode filters: %w", err)
		}
		tie := &Page{Records: group, HasNext: true, Next: moved, Total: total, Raw: raw, Position: past, HasPosition: true, Tie: true}
		if err := deliver(ctx, fn, tie); err != nil {
			return err
		}
		cur, prevPos, havePrev = movedJSON, past, true
	}
}

func deliver(ctx context.Context, fn func(context.Context, *Page) error, p *Page) error {
	if err := fn(ctx, p); err != nil {
		return err
	}
	return ctx.Err()
}

// scanStalled reports whether a bigger re-ask still made no progress at pos.
func scanStalled(env *envelope, prev Filters, q Query, pos int64) bool {
	if !env.HasNext {
		return false
	}
	if len(env.Data) == 0 {
		return true
	}
	next, err := DecodeFilters(env.Next)
	if err != nil {
		return true
	}
	p, ok := boundOf(next, q)
	return next.Canonical() == prev.Canonical() || !ok || p == pos
}

func scanBody(filters json.RawMessage, q Query, limit int) requestBody {
	return requestBody{Filters: filters, Limit: limit, SortField: q.SortField, SortDirection: q.SortDirection, IsScan: true}
}

// beyond reports whether pos lies strictly past prev in the scan's direction.
func beyond(pos, prev int64, q Query) bool {
	if q.SortDirection == Desc {
		return pos < prev
	}
	return pos > prev
}

// boundOf reads the moving bound (gte ascending, lte descending) on the sort field.
func boundOf(f Filters, q Query) (int64, bool) {
	v, ok := f[q.SortField][q.boundOp()]
	if !ok {
		return 0, false
	}
	return toInt64(v)
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n, true
		}
		if f, err := x.Float64(); err == nil && f == float64(int64(f)) {
			return int64(f), true
		}
	case int64:
		return x, true
	case int:
		return int64(x), true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		if n, err := strconv.ParseInt(x, 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// fetchTie fetches every record whose sort field equals ms, outside scan mode (pages of 100
// with skip). The service serves offsets only up to the deep-offset ceiling, so a larger group is
// paged from both ends — ascending, then descending — until the two sides meet; a group too large
// even for that is split with sub-filters (admin or not, then per app) and each part fetched the
// same way. Records are deduplicated by _id.
func (c *Client) fetchTie(ctx context.Context, q Query, base Filters, ms int64) (records []json.RawMessage, raw, total int, err error) {
	pinned := base.Clone()
	ops := map[string]any{}
	for op, v := range pinned[q.SortField] {
		switch op {
		case "gte", "lte", "gt", "lt", "eq":
		default:
			ops[op] = v // keep range and *_ndays: they hold the user's window
		}
	}
	ops["gte"], ops["lte"] = ms, ms
	pinned[q.SortField] = ops
	t := &tieFetch{c: c, q: q, ms: ms, seen: map[string]bool{}}
	_, total, err = t.fetch(ctx, pinned, 0)
	if err != nil {
		return nil, 0, 0, err
	}
	c.log.InfoContext(ctx, "fetched a tie group outside scan mode", "field", q.SortField, "ms", ms,
		"records", len(t.records), "requests", t.requests, "from_both_ends", t.bothEnds, "split", t.split)
	return t.records, t.raw, total, nil
}

// tieFetch gathers one tie group across the requests (and sub-filter parts) it takes.
type tieFetch struct {
	c        *Client
	q        Query
	ms       int64
	seen     map[string]bool
	records  []json.RawMessage
	apps     []int64 // app IDs seen in the group, for splitting per app
	raw      int
	requests int
	bothEnds bool
	split    bool
}

// splitKeys are the sub-filters a too-large group is split on, in order. activity.type (admin
// or not) halves any group into two complementary parts; service splits it into one part per
// app seen so far plus the rest (neq all of them), which is complete too.
var splitKeys = []string{"activity.type", "service"}

// fetch gathers every record matching filters and returns their ids and the service's count of
// them.
func (t *tieFetch) fetch(ctx context.Context, filters Filters, depth int) (map[string]bool, int, error) {
	ids, total, complete, err := t.ends(ctx, filters)
	if err != nil {
		return nil, 0, err
	}
	if complete {
		return ids, total, nil
	}
	for ; depth < len(splitKeys); depth++ {
		key := splitKeys[depth]
		if _, ok := filters[key]; ok {
			continue // the user's own filter on this key: splitting on it would change the query
		}
		parts := t.parts(filters, key)
		if len(parts) < 2 {
			continue
		}
		t.split = true
		t.c.log.InfoContext(ctx, "tie group too large for both ends; splitting it", "field", t.q.SortField, "ms", t.ms, "by", key, "parts", len(parts))
		for _, part := range parts {
			got, _, err := t.fetch(ctx, part, depth+1)
			if err != nil {
				return nil, 0, err
			}
			maps.Copy(ids, got)
		}
		if total > 0 && len(ids) < total {
			return nil, 0, t.tooLarge(total, len(ids))
		}
		return ids, total, nil
	}
	return nil, 0, t.tooLarge(total, len(ids))
}

func (t *tieFetch) tooLarge(total, got int) error {
	return fmt.Errorf("fetch tie group at %s %d: got %d of about %d records sharing that millisecond, more than paging from both ends (2 x %d) and splitting by admin flag and app can reach; narrow the scan with --filter (e.g. by event type or user) and run it once per value",
		t.q.SortField, t.ms, got, total, t.c.ceiling)
}

// parts splits filters on key into parts that together match exactly what filters matches.
func (t *tieFetch) parts(filters Filters, key string) []Filters {
	with := func(op string, v any) Filters { return filters.Clone().Set(key, op, v) }
	switch key {
	case "activity.type":
		return []Filters{with("eq", true), with("eq", false)}
	case "service":
		if len(t.apps) == 0 {
			return nil
		}
		var out []Filters
		all := make([]any, 0, len(t.apps))
		for _, app := range t.apps {
			out = append(out, with("eq", []any{app}))
			all = append(all, app)
		}
		return append(out, with("neq", all))
	}
	return nil
}

// ends pages filters ascending up to the ceiling and, if that does not reach the end,
// descending until a record already seen comes back. complete reports success.
func (t *tieFetch) ends(ctx context.Context, filters Filters) (ids map[string]bool, total int, complete bool, err error) {
	body, err := json.Marshal(filters)
	if err != nil {
		return nil, 0, false, fmt.Errorf("fetch tie group: encode filters: %w", err)
	}
	ceiling := t.c.ceiling
	// page fetches one page in dir and keeps its new records; overlap is set when one of them
	// was already seen (the two ends met).
	ids = map[string]bool{} // records this call saw: meeting one again means the ends met
	page := func(dir string, skip int) (done, overlap bool, err error) {
		env, err := t.c.call(ctx, requestBody{Filters: body, Skip: skip, Limit: MaxListLimit, SortField: t.q.SortField, SortDirection: dir}, callOptions{op: "tie"})
		if err != nil {
			return false, false, fmt.Errorf("fetch tie group at %s %d (%s, skip %d): %w", t.q.SortField, t.ms, dir, skip, err)
		}
		t.requests++
		t.raw += env.bytes
		total = max(total, env.Total)
		for _, r := range env.Data {
			id, app, err := recordKey(r)
			if err != nil {
				return false, false, fmt.Errorf("fetch tie group at %s %d: %w", t.q.SortField, t.ms, err)
			}
			if ids[id] {
				overlap = true
			}
			ids[id] = true
			if t.seen[id] {
				continue
			}
			t.seen[id] = true
			t.records = append(t.records, r)
			if app != 0 && !slices.Contains(t.apps, app) {
				t.apps = append(t.apps, app)
			}
		}
		return !env.HasNext || len(env.Data) < MaxListLimit, overlap, nil
	}
	for skip := 0; skip+MaxListLimit <= ceiling; skip += MaxListLimit {
		done, _, err := page(Asc, skip)
		if err != nil {
			return nil, 0, false, err
		}
		if done {
			return ids, total, true, nil
		}
	}
	t.bothEnds = true
	for skip := 0; skip+MaxListLimit <= ceiling; skip += MaxListLimit {
		done, overlap, err := page(Desc, skip)
		if err != nil {
			return nil, 0, false, err
		}
		if done || overlap {
			return ids, total, true, nil
		}
	}
	return ids, total, false, nil
}

// recordKey reads a record's _id, which tie groups are deduplicated by, and its appId (0 when
// absent), which they may be split by.
func recordKey(r json.RawMessage) (id string, app int64, err error) {
	var v struct {
		ID    string      `json:"_id"`
		AppID json.Number `json:"appId"`
	}
	if err := json.Unmarshal(r, &v); err != nil || v.ID == "" {
		return "", 0, fmt.Errorf("a record without an _id: cannot deduplicate the tie group")
	}
	app, _ = v.AppID.Int64()
	return v.ID, app, nil
}

// recordID reads a record's _id.
func recordID(r json.RawMessage) (string, error) {
	id, _, err := recordKey(r)
	return id, err
}
