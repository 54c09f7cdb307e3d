package simulator

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
)

// Quirk is a reported behaviour of the real service that a collector must survive; each can be
// switched on (`mcasload sim --quirk NAME`) so tests show the client does.
type Quirk string

// The quirks the simulator can reproduce (see docs/scanning.md, "What the service does").
const (
	// QuirkEmptyOnTie: a scan request whose moving bound (gte ascending, lte descending) sits
	// exactly on the millisecond of an existing matching record answers data:[] and
	// hasNext:false although records remain (reported on Microsoft Q&A: adding 1 ms brought
	// the data back).
	QuirkEmptyOnTie Quirk = "empty-on-tie"
	// QuirkIgnoreDirection: pages come in descending order whatever sortDirection says, and
	// nextQueryFilters moves the lte bound (noted by the Cortex XSOAR collector).
	QuirkIgnoreDirection Quirk = "ignore-direction"
	// QuirkApproximateTotal: total is off by up to ±5 % (the service documents it as
	// approximate); hasNext still follows the true count.
	QuirkApproximateTotal Quirk = "approximate-total"
)

// Quirks lists every quirk, sorted.
func Quirks() []Quirk {
	q := []Quirk{QuirkEmptyOnTie, QuirkIgnoreDirection, QuirkApproximateTotal}
	sort.Slice(q, func(i, j int) bool { return q[i] < q[j] })
	return q
}

// ParseQuirk reads a quirk name.
func ParseQuirk(s string) (Quirk, error) {
	for _, q := range Quirks() {
		if string(q) == strings.TrimSpace(s) {
			return q, nil
		}
	}
	names := make([]string, 0, len(Quirks()))
	for _, q := range Quirks() {
		names = append(names, string(q))
	}
	return "", fmt.Errorf("unknown quirk %q: use %s", s, strings.Join(names, ", "))
}

// has reports whether quirk q is on.
func (h *Handler) has(q Quirk) bool { return h.quirks[q] }

// approximate perturbs a true count by up to ±5 %, as the service's approximate total.
func (h *Handler) approximate(n int) int {
	if !h.has(QuirkApproximateTotal) || n == 0 {
		return n
	}
	h.latMu.Lock()
	f := 1 + (h.latRng.Float64()*2-1)*0.05
	h.latMu.Unlock()
	return int(math.Round(float64(n) * f))
}

// emptyOnTie reports whether a scan request starts exactly on the millisecond of an existing
// matching record, which the empty-on-tie quirk answers with an empty last page.
func (h *Handler) emptyOnTie(q *listQuery, p *plan, buf *[]byte) bool {
	if !h.has(QuirkEmptyOnTie) {
		return false
	}
	op := "gte"
	if p.desc {
		op = "lte"
	}
	var ops map[string]json.RawMessage
	if err := json.Unmarshal(q.filters[q.sortField], &ops); err != nil {
		return false
	}
	raw, ok := ops[op]
	if !ok {
		return false
	}
	bound, err := jsonTime(raw)
	if err != nil {
		return false
	}
	first, _ := p.collect(nil, 0, 1, buf)
	return len(first) == 1 && sortKey(p.x.t.Activity(int(first[0])), p.created) == bound
}
