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
// error from fn stops the scan and is returned. It follows nextQueryFilters verbatim and makes
// no assumption the service has been seen to break:
//
//   - When the service stops making progress — an empty page that says hasNext, or the same
//     nextQueryFilters again, which happens when at least a page of records share one
//     millisecond — Scan fetches that millisecond once, completely, outside scan mode, hands it
//     to fn as one page with Tie set, and continues strictly past it.
//   - An empty last page is not taken for the end while the millisecond the request started on
//     may hold records (the service has answered data:[] hasNext:false there): that millisecond
//     is fetched outside scan mode too, and the scan continues past it.
//   - The order of the pages is read from the records and from nextQueryFilters, never from the
//     sortDirection sent: a service that answers descending to an ascending request is followed
//     (its pages then carry no Position until the last).
//   - The service's total is only an estimate and decides nothing.
//
// No record is skipped or repeated by Scan and it never loops.
func (c *Client) Scan(ctx context.Context, q Query, fn func(context.Context, *Page) error) error {
	q, err := q.normalized(true)
	if err != nil {
		return fmt.Errorf("scan activities: %w", err)
	}
	cur, err := json.Marshal(q.Filters)
	if err != nil {
		return fmt.Errorf("scan activities: encode filters: %w", err)
	}
	s := &scanState{c: c, q: q, fn: fn, dir: q.SortDirection, cur: q.Filters, curJSON: cur,
		tiesDone: map[int64]bool{}, checked: map[int64]bool{}}
	s.prevPos, s.havePrev = boundOf(q.Filters, q.SortField, s.op())
	return s.run(ctx)
}

// scanState is one Scan in progress.
type scanState struct {
	c        *Client
	q        Query
	fn       func(context.Context, *Page) error
	dir      string // the order the service follows, as read from its answers
	cur      Filters
	curJSON  json.RawMessage
	prevPos  int64
	havePrev bool
	tiesDone map[int64]bool // tie groups fetched whole
	checked  map[int64]bool // milliseconds checked after an empty last page
}

// op is the bound the service moves in its order: gte ascending, lte descending.
func (s *scanState) op() string { return boundOp(s.dir) }

func (s *scanState) run(ctx context.Context) error {
	q := s.q
	var pending *envelope // a page already fetched by the stall handling's bigger request
	for {
		env := pending
		pending = nil
		if env == nil {
			var err error
			env, err = s.c.call(ctx, scanBody(s.curJSON, q, q.Limit), callOptions{op: "scan"})
			if err != nil {
				return fmt.Errorf("scan activities: %w", err)
			}
		}
		page := &Page{Records: env.Data, HasNext: env.HasNext, Total: env.Total, Raw: env.bytes}
		if !env.HasNext {
			s.readOrder(ctx, env.Data, nil)
			if len(env.Data) == 0 {
				more, err := s.emptyLastPage(ctx)
				if err != nil {
					return err
				}
				if more {
					continue
				}
			}
			return deliver(ctx, s.fn, page)
		}
		if len(env.Next) == 0 || string(env.Next) == "null" {
			return fmt.Errorf("scan activities: the service said hasNext without nextQueryFilters; cannot continue safely")
		}
		next, err := DecodeFilters(env.Next)
		if err != nil {
			return fmt.Errorf("scan activities: nextQueryFilters: %w", err)
		}
		s.readOrder(ctx, env.Data, next)
		pos, ok := boundOf(next, q.SortField, s.op())
		stalled := len(env.Data) == 0 || next.Canonical() == s.cur.Canonical() || (ok && s.havePrev && pos == s.prevPos)
		if ok && s.havePrev && !stalled && !beyond(pos, s.prevPos, s.dir) {
			return fmt.Errorf("scan activities: the service moved the %s bound backwards from %d to %d; stopping rather than repeating records", q.SortField, s.prevPos, pos)
		}
		if !stalled {
			page.Next, page.Position, page.HasPosition = next, pos, ok && s.dir == q.SortDirection
			if err := deliver(ctx, s.fn, page); err != nil {
				return err
			}
			s.cur, s.curJSON, s.prevPos, s.havePrev = next, env.Next, pos, ok
			continue
		}

		// Stalled: a tie group of at least a page shares the millisecond at the bound.
		if !ok {
			return fmt.Errorf("scan activities: the scan stalled and nextQueryFilters has no %s.%s bound to resolve it", q.SortField, s.op())
		}
		if s.tiesDone[pos] {
			return fmt.Errorf("scan activities: the service returned to %s %d after its tie group was fetched; stopping rather than looping", q.SortField, pos)
		}
		s.c.stats.stalls.Add(1)
		s.c.log.InfoContext(ctx, "scan stalled on records sharing one millisecond; fetching it outside scan mode",
			"field", q.SortField, "ms", pos, "dropped_from_page", len(env.Data), "limit", q.Limit)
		// The stalled page's own records (if any) are not delivered: those at the tie
		// millisecond come with the group, those past it with the scan that resumes beyond it.
		if q.Limit < MaxScanLimit {
			bigger, err := s.c.call(ctx, scanBody(env.Next, q, MaxScanLimit), callOptions{op: "scan"})
			if err != nil {
				return fmt.Errorf("scan activities: re-ask with limit %d: %w", MaxScanLimit, err)
			}
			if !scanStalled(bigger, next, q.SortField, s.op(), pos) {
				s.c.log.InfoContext(ctx, "tie group fitted in a bigger page; scan continues", "field", q.SortField, "ms", pos, "limit", MaxScanLimit)
				s.cur, s.curJSON, pending, s.prevPos, s.havePrev = next, env.Next, bigger, pos, true
				continue
			}
		}
		if err := s.deliverTie(ctx, next, pos); err != nil {
			return err
		}
	}
}

// deliverTie fetches the millisecond ms whole outside scan mode, hands it to fn as one page,
// and moves the scan strictly past it.
func (s *scanState) deliverTie(ctx context.Context, base Filters, ms int64) error {
	q := s.q
	group, raw, total, err := s.c.fetchTie(ctx, q, base, ms)
	if err != nil {
		return fmt.Errorf("scan activities: %w", err)
	}
	return s.deliverGroup(ctx, base, ms, group, raw, total)
}

func (s *scanState) deliverGroup(ctx context.Context, base Filters, ms int64, group []json.RawMessage, raw, total int) error {
	q := s.q
	s.tiesDone[ms] = true
	past := ms + 1
	if s.dir == Desc {
		past = ms - 1
	}
	moved := base.Clone().Set(q.SortField, s.op(), past)
	movedJSON, err := json.Marshal(moved)
	if err != nil {
		return fmt.Errorf("scan activities: encode filters: %w", err)
	}
	tie := &Page{Records: group, HasNext: true, Next: moved, Total: total, Raw: raw, Position: past,
		HasPosition: s.dir == q.SortDirection, Tie: true}
	if err := deliver(ctx, s.fn, tie); err != nil {
		return err
	}
	s.cur, s.curJSON, s.prevPos, s.havePrev = moved, movedJSON, past, true
	return nil
}

// emptyLastPage handles data:[] with hasNext:false. The service has been seen to answer so when
// a scan starts exactly on a millisecond that holds records although more remain; so unless the
// request's starting millisecond is known to be empty, it is fetched outside scan mode (never
// by skipping 1 ms, which would drop the rest of a tie group). more reports that it held
// records: they were delivered and the scan goes on past them.
func (s *scanState) emptyLastPage(ctx context.Context) (more bool, err error) {
	q := s.q
	ms, ok := boundOf(s.cur, q.SortField, s.op())
	if !ok || s.checked[ms] || s.tiesDone[ms] || !inBounds(s.cur, q.SortField, ms) {
		return false, nil
	}
	s.checked[ms] = true
	group, raw, total, err := s.c.fetchTie(ctx, q, s.cur, ms)
	if err != nil {
		return false, fmt.Errorf("scan activities: check the millisecond of an empty last page: %w", err)
	}
	if len(group) == 0 {
		return false, nil
	}
	s.c.stats.emptyEnds.Add(1)
	s.c.log.InfoContext(ctx, "the service ended the scan with an empty page on a millisecond that holds records; fetched it outside scan mode and continuing past it",
		"field", q.SortField, "ms", ms, "records", len(group))
	return true, s.deliverGroup(ctx, s.cur, ms, group, raw, total)
}

// readOrder learns the order the service follows from a page's records (first against last on
// the sort field) or, when they cannot tell, from which bound nextQueryFilters moved.
func (s *scanState) readOrder(ctx context.Context, data []json.RawMessage, next Filters) {
	dir := orderOfRecords(data, recordField(s.q.SortField))
	if dir == "" && next != nil {
		dir = orderOfBounds(s.cur, next, s.q.SortField)
	}
	if dir == "" || dir == s.dir {
		return
	}
	s.c.reorder.Do(func() {
		s.c.log.WarnContext(ctx, "the service answers in the other order than asked; following its order",
			"field", s.q.SortField, "asked", s.q.SortDirection, "answered", dir)
	})
	s.dir = dir
	s.prevPos, s.havePrev = boundOf(s.cur, s.q.SortField, s.op())
}

// recordField is the record field a sort field orders by.
func recordField(sortField string) string {
	if sortField == SortCreated {
		return "created"
	}
	return "timestamp"
}

// orderOfRecords compares the first and last record of a page: "" when they share the value.
func orderOfRecords(data []json.RawMessage, field string) string {
	if len(data) < 2 {
		return ""
	}
	a, ok1 := recordTime(data[0], field)
	b, ok2 := recordTime(data[len(data)-1], field)
	switch {
	case !ok1 || !ok2 || a == b:
		return ""
	case a < b:
		return Asc
	}
	return Desc
}

// orderOfBounds tells the order from the bound nextQueryFilters moved.
func orderOfBounds(cur, next Filters, field string) string {
	moved := func(op string) bool {
		a, okA := boundOf(cur, field, op)
		b, okB := boundOf(next, field, op)
		return okB && (!okA || a != b)
	}
	switch up, down := moved("gte"), moved("lte"); {
	case up && !down:
		return Asc
	case down && !up:
		return Desc
	}
	return ""
}

// inBounds reports whether ms satisfies every bound of f on field.
func inBounds(f Filters, field string, ms int64) bool {
	for op, v := range f[field] {
		n, ok := toInt64(v)
		if !ok {
			continue
		}
		switch {
		case op == "gte" && ms < n, op == "gt" && ms <= n, op == "lte" && ms > n, op == "lt" && ms >= n:
			return false
		}
	}
	return true
}

func deliver(ctx context.Context, fn func(context.Context, *Page) error, p *Page) error {
	if err := fn(ctx, p); err != nil {
		return err
	}
	return ctx.Err()
}

// scanStalled reports whether a bigger re-ask still made no progress at pos.
func scanStalled(env *envelope, prev Filters, field, op string, pos int64) bool {
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
	p, ok := boundOf(next, field, op)
	return next.Canonical() == prev.Canonical() || !ok || p == pos
}

func scanBody(filters json.RawMessage, q Query, limit int) requestBody {
	return requestBody{Filters: filters, Limit: limit, SortField: q.SortField, SortDirection: q.SortDirection, IsScan: true}
}

// beyond reports whether pos lies strictly past prev in direction dir.
func beyond(pos, prev int64, dir string) bool {
	if dir == Desc {
		return pos < prev
	}
	return pos > prev
}

// boundOf reads the bound op of field.
func boundOf(f Filters, field, op string) (int64, bool) {
	v, ok := f[field][op]
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
		// The parts cover the group exactly and each was fetched completely, so their union is
		// the group: the service's total, only an estimate, is not compared.
		for _, part := range parts {
			got, _, err := t.fetch(ctx, part, depth+1)
			if err != nil {
				return nil, 0, err
			}
			maps.Copy(ids, got)
		}
		return ids, total, nil
	}
	return nil, 0, t.tooLarge(total, len(ids))
}

func (t *tieFetch) tooLarge(total, got int) error {
	return kindErrorf(ErrTieGroupTooLarge, "fetch tie group at %s %d: got %d of about %d records sharing that millisecond, more than paging from both ends (2 x %d) and splitting by admin flag and app can reach",
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
	ids = map[string]bool{}        // records this call saw: meeting one again means the ends met
	var firstAsc, firstDesc string // the first record of each end: equal when the service ignores the order
	page := func(dir string, skip int) (done, overlap bool, err error) {
		env, err := t.c.call(ctx, requestBody{Filters: body, Skip: skip, Limit: MaxListLimit, SortField: t.q.SortField, SortDirection: dir}, callOptions{op: "tie"})
		if err != nil {
			return false, false, fmt.Errorf("fetch tie group at %s %d (%s, skip %d): %w", t.q.SortField, t.ms, dir, skip, err)
		}
		t.requests++
		t.raw += env.bytes
		total = max(total, env.Total)
		for i, r := range env.Data {
			id, app, err := recordKey(r)
			if err != nil {
				return false, false, fmt.Errorf("fetch tie group at %s %d: %w", t.q.SortField, t.ms, err)
			}
			if i == 0 && skip == 0 {
				if dir == Asc {
					firstAsc = id
				} else {
					firstDesc = id
				}
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
		if skip == 0 && firstDesc == firstAsc {
			// Both ends start on the same record: the service ignores the direction, so the
			// two passes read the same end and meeting proves nothing. Split instead.
			t.c.log.InfoContext(ctx, "the service ignores the sort direction outside scan mode; splitting the tie group instead of paging from both ends",
				"field", t.q.SortField, "ms", t.ms)
			return ids, total, false, nil
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
