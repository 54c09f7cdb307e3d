package simulator

import (
	"encoding/json"
	"strconv"

	"github.com/mcasload/mcasload/simulator/synth"
)

// Page sizes, as documented for the service.
const (
	listMaxLimit     = 100
	scanMinLimit     = 500
	scanMaxLimit     = 5000
	scanDefaultLimit = 500
)

// pageResult is what a list or scan request returns before rendering.
type pageResult struct {
	ids              []int32
	total            int
	hasNext          bool
	nextQueryFilters map[string]json.RawMessage // nil: key absent
}

// scanPage answers a scan request as reconstructed in mcas-api.md §4.5: take limit records in
// sort order; if more exist, drop the whole tie group of the boundary value and tell the client
// to continue from that value (inclusive), so the dropped ties come back on the next page. When a
// tie group fills the page, the page is empty and the filters do not move: the stall.
func (h *Handler) scanPage(q *listQuery, p *plan, buf *[]byte, ids []int32) pageResult {
	limit := q.limit
	if !q.limitSet {
		limit = scanDefaultLimit
	}
	limit = min(max(limit, scanMinLimit), scanMaxLimit)
	ids, next := p.collect(ids[:0], 0, limit+1, buf)
	res := pageResult{total: p.count(buf)}
	if len(ids) <= limit {
		res.ids = ids
		return res
	}
	key := func(i int32) int64 { return sortKey(p.x.t.Activity(int(i)), p.created) }
	ids = ids[:limit]
	boundary := key(ids[limit-1])
	keep := len(ids)
	for keep > 0 && key(ids[keep-1]) == boundary {
		keep--
	}
	op := "gte"
	if p.desc {
		op = "lte"
	}
	res.hasNext = true
	if keep == 0 && h.cfg.ReturnOversizedTies {
		// Return the whole group and continue just past it. The page held nothing but the group,
		// so the group starts at the first step.
		ids = ids[:0]
		for next = 0; next < p.steps(); next++ {
			i, a, k := p.at(next)
			if k != boundary {
				break
			}
			if p.match(i, a, buf) {
				ids = append(ids, int32(i))
			}
		}
		res.ids = ids
		after := boundary + 1
		if p.desc {
			after = boundary - 1
		}
		res.nextQueryFilters = withBound(q.filters, q.sortField, op, after)
		// hasNext stays true only if anything lies beyond the group.
		more, _ := p.collect(nil, next, 1, buf)
		if len(more) == 0 {
			res.hasNext, res.nextQueryFilters = false, nil
		}
		return res
	}
	res.ids = ids[:keep]
	res.nextQueryFilters = withBound(q.filters, q.sortField, op, boundary)
	return res
}

// listPage answers a non-scan request: at most 100 records from skip, with the deep-offset ceiling.
func (h *Handler) listPage(q *listQuery, p *plan, buf *[]byte, ids []int32) (pageResult, error) {
	limit := q.limit
	if !q.limitSet || limit > listMaxLimit {
		limit = listMaxLimit
	}
	if q.skip+limit > h.ceiling {
		return pageResult{}, badRequestf("skip + limit = %d exceeds the maximum offset %d; use isScan to read more", q.skip+limit, h.ceiling)
	}
	ids, _ = p.collect(ids[:0], 0, q.skip+limit, buf)
	if len(ids) > q.skip {
		ids = ids[q.skip:]
	} else {
		ids = ids[:0]
	}
	res := pageResult{ids: ids, total: p.count(buf)}
	res.hasNext = q.skip+len(ids) < res.total
	return res, nil
}

func sortKey(a *synth.Activity, created bool) int64 {
	if created {
		return a.Created
	}
	return a.Timestamp
}

// appendEnvelopeHead renders everything before the records.
func appendEnvelopeHead(dst []byte, res *pageResult) []byte {
	dst = append(dst, `{"total":`...)
	dst = strconv.AppendInt(dst, int64(res.total), 10)
	dst = append(dst, `,"hasNext":`...)
	dst = strconv.AppendBool(dst, res.hasNext)
	return append(dst, `,"data":[`...)
}

// appendEnvelopeTail renders everything after the records.
func appendEnvelopeTail(dst []byte, res *pageResult) []byte {
	dst = append(dst, ']')
	if res.nextQueryFilters != nil {
		b, _ := json.Marshal(res.nextQueryFilters)
		dst = append(dst, `,"nextQueryFilters":`...)
		dst = append(dst, b...)
	}
	return append(dst, "}\n"...)
}
