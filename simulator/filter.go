package simulator

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mcasload/mcasload/simulator/synth"
)

// filterOperators lists, for every filter key the simulator understands, the operators it accepts.
// Anything else is answered with 400 naming the key or operator, as a strict server would.
var filterOperators = map[string][]string{
	"date":               {"gte", "lte", "gt", "lt", "eq", "range", "gte_ndays", "lte_ndays"},
	"created":            {"gte", "lte", "gt", "lt", "eq", "range", "gte_ndays", "lte_ndays"},
	"service":            {"eq", "neq"},
	"instance":           {"eq", "neq"},
	"activity.id":        {"eq", "neq"},
	"activity.eventType": {"eq", "neq"},
	"activity.type":      {"eq"},
	"user.username":      {"eq", "neq", "startswith", "doesnotstartwith", "isset", "isnotset"},
	"ip.address":         {"eq", "neq", "startswith", "doesnotstartwith", "isset", "isnotset"},
	"ip.category":        {"eq", "neq"},
	"location.country":   {"eq", "neq", "isset", "isnotset"},
	"device.type":        {"eq", "neq"},
	"source":             {"eq", "neq"},
	"text":               {"text", "eq", "startswithsingle"},
}

// FilterKeys returns the filter keys the simulator accepts, sorted.
func FilterKeys() []string {
	keys := make([]string, 0, len(filterOperators))
	for k := range filterOperators {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// interval is an inclusive range of epoch milliseconds.
type interval struct{ lo, hi int64 }

var everything = interval{math.MinInt64, math.MaxInt64}

// timeFilter is the conjunction of every bound put on one time field.
type timeFilter struct {
	bound  interval     // gte/lte/gt/lt/eq/ndays, intersected
	ranges [][]interval // each range operator is a union of intervals; several are ANDed
}

func (f *timeFilter) match(v int64) bool {
	if v < f.bound.lo || v > f.bound.hi {
		return false
	}
	for _, r := range f.ranges {
		ok := false
		for _, iv := range r {
			if v >= iv.lo && v <= iv.hi {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// hull is the smallest interval holding every value the filter can match; the index narrows the
// candidates to it with binary search.
func (f *timeFilter) hull() interval {
	h := f.bound
	for _, r := range f.ranges {
		u := interval{math.MaxInt64, math.MinInt64}
		for _, iv := range r {
			u.lo, u.hi = min(u.lo, iv.lo), max(u.hi, iv.hi)
		}
		h.lo, h.hi = max(h.lo, u.lo), min(h.hi, u.hi)
	}
	return h
}

// restricted reports whether the filter can exclude anything inside its hull.
func (f *timeFilter) restricted() bool {
	for _, r := range f.ranges {
		if len(r) > 1 {
			return true
		}
	}
	return false
}

// matcher is a compiled set of filters, ANDed.
type matcher struct {
	date, created timeFilter
	preds         []func(a *synth.Activity) bool
	// texts are lowercase needles searched in the rendered record; prefix ones must start a
	// JSON string value.
	texts []textNeedle
}

type textNeedle struct {
	needle []byte
	prefix bool
}

// compileFilters turns the request's filters into a matcher; now resolves gte_ndays/lte_ndays.
func compileFilters(filters map[string]json.RawMessage, now time.Time) (*matcher, error) {
	m := &matcher{date: timeFilter{bound: everything}, created: timeFilter{bound: everything}}
	keys := make([]string, 0, len(filters))
	for k := range filters {
		keys = append(keys, k)
	}
	sort.Strings(keys) // deterministic error for several bad keys
	for _, key := range keys {
		ops, ok := filterOperators[key]
		if !ok {
			return nil, badRequestf("unknown filter %q (accepted: %s)", key, strings.Join(FilterKeys(), ", "))
		}
		var opVals map[string]json.RawMessage
		if err := json.Unmarshal(filters[key], &opVals); err != nil || opVals == nil {
			return nil, badRequestf("filter %q must be an object of operator: value", key)
		}
		opNames := make([]string, 0, len(opVals))
		for op := range opVals {
			opNames = append(opNames, op)
		}
		sort.Strings(opNames)
		for _, op := range opNames {
			if !slices.Contains(ops, op) {
				return nil, badRequestf("unknown operator %q for filter %q (accepted: %s)", op, key, strings.Join(ops, ", "))
			}
			if err := m.add(key, op, opVals[op], now); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *matcher) add(key, op string, raw json.RawMessage, now time.Time) error {
	switch key {
	case "date":
		return addTime(&m.date, key, op, raw, now)
	case "created":
		return addTime(&m.created, key, op, raw, now)
	case "service", "instance", "ip.category", "source":
		vals, err := intList(key, op, raw)
		if err != nil {
			return err
		}
		get := map[string]func(a *synth.Activity) int64{
			"service":     func(a *synth.Activity) int64 { return int64(a.AppID) },
			"instance":    func(a *synth.Activity) int64 { return int64(a.Instance) },
			"ip.category": func(a *synth.Activity) int64 { return int64(a.IPCategory) },
			"source":      func(a *synth.Activity) int64 { return int64(a.Source) },
		}[key]
		want := op == "eq"
		m.preds = append(m.preds, func(a *synth.Activity) bool { return slices.Contains(vals, get(a)) == want })
	case "activity.type":
		l, err := jsonList(raw)
		if err != nil || len(l) != 1 {
			return badRequestf("filter %q operator %q takes one boolean", key, op)
		}
		b, err := jsonBool(l[0])
		if err != nil {
			return badRequestf("filter %q operator %q: %v", key, op, err)
		}
		m.preds = append(m.preds, func(a *synth.Activity) bool { return a.Admin == b })
	case "activity.id", "activity.eventType", "user.username", "ip.address", "location.country", "device.type":
		return m.addString(key, op, raw)
	case "text":
		s, err := oneString(key, op, raw)
		if err != nil {
			return err
		}
		if s == "" {
			return badRequestf("filter %q operator %q needs a non-empty string", key, op)
		}
		m.texts = append(m.texts, textNeedle{needle: []byte(strings.ToLower(s)), prefix: op == "startswithsingle"})
	}
	return nil
}

// stringField returns the record field a string filter reads and whether it compares without case
// (user names are UPNs and countries ISO codes; both are case-insensitive in the service).
func stringField(key string) (func(a *synth.Activity) string, bool) {
	switch key {
	case "activity.id":
		return func(a *synth.Activity) string { return a.ID }, false
	case "activity.eventType":
		return func(a *synth.Activity) string { return a.EventType }, false
	case "user.username":
		return func(a *synth.Activity) string { return a.User }, true
	case "ip.address":
		return func(a *synth.Activity) string { return a.IP }, false
	case "location.country":
		return func(a *synth.Activity) string { return a.Country }, true
	default: // device.type
		return func(a *synth.Activity) string { return a.DeviceType }, true
	}
}

func (m *matcher) addString(key, op string, raw json.RawMessage) error {
	get, fold := stringField(key)
	if op == "isset" || op == "isnotset" {
		want := op == "isset"
		if !isNull(raw) {
			b, err := jsonBool(raw)
			if err != nil {
				return badRequestf("filter %q operator %q: %v", key, op, err)
			}
			want = want == b
		}
		m.preds = append(m.preds, func(a *synth.Activity) bool { return (get(a) != "") == want })
		return nil
	}
	l, err := jsonList(raw)
	if err != nil {
		return badRequestf("filter %q operator %q: %v", key, op, err)
	}
	vals := make([]string, 0, len(l))
	for _, v := range l {
		if isNull(v) {
			vals = append(vals, "") // "null" device type / country: the field is absent
			continue
		}
		s, err := jsonString(v)
		if err != nil {
			return badRequestf("filter %q operator %q: %v", key, op, err)
		}
		if s == "null" && key == "device.type" {
			s = ""
		}
		if fold {
			s = strings.ToLower(s)
		}
		vals = append(vals, s)
	}
	norm := get
	if fold {
		norm = func(a *synth.Activity) string { return strings.ToLower(get(a)) }
	}
	switch op {
	case "eq", "neq":
		want := op == "eq"
		m.preds = append(m.preds, func(a *synth.Activity) bool { return slices.Contains(vals, norm(a)) == want })
	case "startswith", "doesnotstartwith":
		want := op == "startswith"
		m.preds = append(m.preds, func(a *synth.Activity) bool {
			v := norm(a)
			for _, p := range vals {
				if strings.HasPrefix(v, p) {
					return want
				}
			}
			return !want
		})
	}
	return nil
}

func oneString(key, op string, raw json.RawMessage) (string, error) {
	l, err := jsonList(raw)
	if err != nil || len(l) != 1 {
		return "", badRequestf("filter %q operator %q takes one string", key, op)
	}
	s, err := jsonString(l[0])
	if err != nil {
		return "", badRequestf("filter %q operator %q: %v", key, op, err)
	}
	return s, nil
}

func intList(key, op string, raw json.RawMessage) ([]int64, error) {
	l, err := jsonList(raw)
	if err != nil {
		return nil, badRequestf("filter %q operator %q: %v", key, op, err)
	}
	vals := make([]int64, 0, len(l))
	for _, v := range l {
		n, err := jsonInt(v)
		if err != nil {
			return nil, badRequestf("filter %q operator %q: %v", key, op, err)
		}
		vals = append(vals, n)
	}
	return vals, nil
}

const dayMillis = int64(24 * time.Hour / time.Millisecond)

func addTime(f *timeFilter, key, op string, raw json.RawMessage, now time.Time) error {
	if op == "range" {
		return addRange(f, key, raw)
	}
	var v int64
	var err error
	if op == "gte_ndays" || op == "lte_ndays" {
		var n int64
		if n, err = jsonInt(raw); err != nil {
			return badRequestf("filter %q operator %q: %v", key, op, err)
		}
		v = now.UnixMilli() - n*dayMillis
	} else if v, err = jsonTime(raw); err != nil {
		return badRequestf("filter %q operator %q: %v", key, op, err)
	}
	b := &f.bound
	switch op {
	case "gte", "gte_ndays":
		b.lo = max(b.lo, v)
	case "gt":
		if v == math.MaxInt64 {
			b.lo, b.hi = 1, 0 // matches nothing
			return nil
		}
		b.lo = max(b.lo, v+1)
	case "lte", "lte_ndays":
		b.hi = min(b.hi, v)
	case "lt":
		if v == math.MinInt64 {
			b.lo, b.hi = 1, 0
			return nil
		}
		b.hi = min(b.hi, v-1)
	case "eq":
		b.lo, b.hi = max(b.lo, v), min(b.hi, v)
	}
	return nil
}

// addRange accepts {"start":S,"end":E} or a list of them; the bounds are inclusive.
func addRange(f *timeFilter, key string, raw json.RawMessage) error {
	l, err := jsonList(raw)
	if err != nil || len(l) == 0 {
		return badRequestf("filter %q operator \"range\" takes {start, end} or a list of them", key)
	}
	var ivs []interval
	for _, item := range l {
		var se map[string]json.RawMessage
		if err := json.Unmarshal(item, &se); err != nil || se == nil {
			return badRequestf("filter %q operator \"range\" takes {start, end} or a list of them", key)
		}
		iv := everything
		for k, v := range se {
			t, err := jsonTime(v)
			if err != nil {
				return badRequestf("filter %q range %s: %v", key, k, err)
			}
			switch k {
			case "start":
				iv.lo = t
			case "end":
				iv.hi = t
			default:
				return badRequestf("filter %q range has unknown field %q (accepted: start, end)", key, k)
			}
		}
		ivs = append(ivs, iv)
	}
	f.ranges = append(f.ranges, ivs)
	return nil
}

// matchRest applies every filter except the bounds the index already enforced for the sort field.
// buf is scratch space for rendering when a text filter is present.
func (m *matcher) matchRest(t *synth.Tenant, i int, a *synth.Activity, checkDate, checkCreated bool, buf *[]byte) bool {
	if checkDate && !m.date.match(a.Timestamp) {
		return false
	}
	if checkCreated && !m.created.match(a.Created) {
		return false
	}
	for _, p := range m.preds {
		if !p(a) {
			return false
		}
	}
	if len(m.texts) > 0 {
		*buf = t.AppendJSON((*buf)[:0], i)
		lower := bytes.ToLower(*buf)
		for _, n := range m.texts {
			if !containsText(lower, n) {
				return false
			}
		}
	}
	return true
}

func containsText(lowerRecord []byte, n textNeedle) bool {
	if !n.prefix {
		return bytes.Contains(lowerRecord, n.needle)
	}
	for rest := lowerRecord; ; {
		j := bytes.Index(rest, n.needle)
		if j < 0 {
			return false
		}
		if j > 0 && rest[j-1] == '"' {
			return true
		}
		rest = rest[j+1:]
	}
}

// withBound returns a copy of filters with op on key set to v, other keys and operators kept as
// the client sent them: that is what the service returns as nextQueryFilters.
func withBound(filters map[string]json.RawMessage, key, op string, v int64) map[string]json.RawMessage {
	out := make(map[string]json.RawMessage, len(filters)+1)
	for k, raw := range filters {
		out[k] = raw
	}
	ops := map[string]json.RawMessage{}
	if raw, ok := filters[key]; ok {
		_ = json.Unmarshal(raw, &ops) // already validated as an object by compileFilters
	}
	ops[op] = json.RawMessage(strconv.FormatInt(v, 10))
	b, _ := json.Marshal(ops)
	out[key] = b
	return out
}
