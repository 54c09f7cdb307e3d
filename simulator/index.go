package simulator

import (
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/mcasload/mcasload/simulator/synth"
)

// index orders a tenant's activities for the two sort fields. The tenant itself is sorted by
// (Timestamp, ID); byCreated holds positions sorted by (Created, ID). Both let a request narrow
// its candidates by binary search, so a page over a million records costs the page, not the tenant.
type index struct {
	t         *synth.Tenant
	n         int
	byCreated []int32

	idOnce sync.Once
	byID   []int32 // built on the first fetch by id
}

func newIndex(t *synth.Tenant) *index {
	n := t.Len()
	x := &index{t: t, n: n, byCreated: make([]int32, n)}
	for i := range x.byCreated {
		x.byCreated[i] = int32(i)
	}
	slices.SortFunc(x.byCreated, func(a, b int32) int {
		ra, rb := t.Activity(int(a)), t.Activity(int(b))
		if ra.Created != rb.Created {
			if ra.Created < rb.Created {
				return -1
			}
			return 1
		}
		return strings.Compare(ra.ID, rb.ID)
	})
	return x
}

// lookup returns the position of the activity with id, or -1.
func (x *index) lookup(id string) int {
	x.idOnce.Do(func() {
		x.byID = make([]int32, x.n)
		for i := range x.byID {
			x.byID[i] = int32(i)
		}
		slices.SortFunc(x.byID, func(a, b int32) int {
			return strings.Compare(x.t.Activity(int(a)).ID, x.t.Activity(int(b)).ID)
		})
	})
	j := sort.Search(len(x.byID), func(k int) bool { return x.t.Activity(int(x.byID[k])).ID >= id })
	if j < len(x.byID) && x.t.Activity(int(x.byID[j])).ID == id {
		return int(x.byID[j])
	}
	return -1
}

// visibleCount is the number of activities with Created <= now: a prefix of byCreated.
func (x *index) visibleCount(now int64) int {
	return sort.Search(x.n, func(k int) bool { return x.t.Activity(int(x.byCreated[k])).Created > now })
}

// plan is a request resolved against the index: which positions to walk, in which order, and which
// checks remain after binary search.
type plan struct {
	x            *index
	m            *matcher
	created      bool // walk byCreated instead of the timestamp order
	desc         bool
	lo, hi       int // positions [lo, hi) in the walked order
	now          int64
	visible      int // visibleCount(now)
	checkDate    bool
	checkCreated bool
	checkVisible bool
}

func (x *index) plan(m *matcher, sortCreated, desc bool, now int64) *plan {
	p := &plan{x: x, m: m, created: sortCreated, desc: desc, now: now, visible: x.visibleCount(now)}
	dateTrivial := m.date.bound == everything && len(m.date.ranges) == 0
	createdTrivial := m.created.bound == everything && len(m.created.ranges) == 0
	if sortCreated {
		h := m.created.hull()
		key := func(k int) int64 { return x.t.Activity(int(x.byCreated[k])).Created }
		p.lo = sort.Search(x.n, func(k int) bool { return key(k) >= h.lo })
		p.hi = sort.Search(x.n, func(k int) bool { return key(k) > h.hi })
		p.hi = min(p.hi, p.visible) // invisible records are exactly the tail of byCreated
		p.checkCreated = m.created.restricted()
		p.checkDate = !dateTrivial
	} else {
		h := m.date.hull()
		key := func(k int) int64 { return x.t.Activity(k).Timestamp }
		p.lo = sort.Search(x.n, func(k int) bool { return key(k) >= h.lo })
		p.hi = sort.Search(x.n, func(k int) bool { return key(k) > h.hi })
		p.checkDate = m.date.restricted()
		p.checkCreated = !createdTrivial
		p.checkVisible = p.visible < x.n
	}
	if p.lo > p.hi {
		p.lo = p.hi
	}
	return p
}

// at returns the activity index and sort key at walk step k (0-based from the first in order).
func (p *plan) at(k int) (int, *synth.Activity, int64) {
	pos := p.lo + k
	if p.desc {
		pos = p.hi - 1 - k
	}
	i := pos
	if p.created {
		i = int(p.x.byCreated[pos])
	}
	a := p.x.t.Activity(i)
	if p.created {
		return i, a, a.Created
	}
	return i, a, a.Timestamp
}

func (p *plan) steps() int { return p.hi - p.lo }

func (p *plan) match(i int, a *synth.Activity, buf *[]byte) bool {
	if p.checkVisible && a.Created > p.now {
		return false
	}
	return p.m.matchRest(p.x.t, i, a, p.checkDate, p.checkCreated, buf)
}

// simple reports whether binary search alone decides membership (apart from visibility).
func (p *plan) simple() bool {
	return !p.checkDate && !p.checkCreated && len(p.m.preds) == 0 && len(p.m.texts) == 0
}

// collect walks matches in order from step start and appends up to n of them to dst, returning
// the step after the last one examined.
func (p *plan) collect(dst []int32, start, n int, buf *[]byte) ([]int32, int) {
	k := start
	for ; k < p.steps() && n > 0; k++ {
		i, a, _ := p.at(k)
		if p.match(i, a, buf) {
			dst = append(dst, int32(i))
			n--
		}
	}
	return dst, k
}

// invisibleScanLimit bounds how many not-yet-visible records a count inspects one by one before
// falling back to a full pass.
const invisibleScanLimit = 1 << 16

// count returns the number of matches (the response's total).
func (p *plan) count(buf *[]byte) int {
	if p.simple() {
		n := p.hi - p.lo
		if !p.checkVisible {
			return n
		}
		if invisible := p.x.n - p.visible; invisible <= invisibleScanLimit {
			for _, i := range p.x.byCreated[p.visible:] {
				if int(i) >= p.lo && int(i) < p.hi {
					n--
				}
			}
			return n
		}
	}
	n := 0
	for k := 0; k < p.steps(); k++ {
		i, a, _ := p.at(k)
		if p.match(i, a, buf) {
			n++
		}
	}
	return n
}
