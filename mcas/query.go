package mcas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// Filters is the API's filter object: filter key → operator → value, e.g.
// {"date":{"gte":1700000000000},"service":{"eq":[11161]}}. Keys are ANDed by the service. It
// round-trips JSON exactly: numbers decode as json.Number, so epoch milliseconds never pass
// through float64.
type Filters map[string]map[string]any

// Clone returns a deep enough copy to change operators without touching f.
func (f Filters) Clone() Filters {
	out := make(Filters, len(f))
	for k, ops := range f {
		out[k] = maps.Clone(ops)
	}
	return out
}

// Set sets one operator of one key and returns f (allocated when nil) for chaining.
func (f Filters) Set(key, op string, value any) Filters {
	if f == nil {
		f = Filters{}
	}
	if f[key] == nil {
		f[key] = map[string]any{}
	}
	f[key][op] = value
	return f
}

// Canonical is the filters' JSON with keys sorted at every level: equal filters give equal
// strings, so it can key a watermark.
func (f Filters) Canonical() string {
	if len(f) == 0 {
		return "{}"
	}
	b, err := json.Marshal(f) // encoding/json sorts map keys
	if err != nil {
		return fmt.Sprintf("%v", map[string]map[string]any(f))
	}
	return string(b)
}

// DecodeFilters parses a JSON filter object without validating keys (nextQueryFilters is sent
// back verbatim, whatever the service put in it).
func DecodeFilters(data []byte) (Filters, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var f Filters
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decode filters: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode filters: trailing data after the JSON object")
	}
	if f == nil {
		f = Filters{}
	}
	return f, nil
}

// DateRange filters on activity time (record timestamp) in [from, to]; a zero bound is left out.
func (f Filters) DateRange(from, to time.Time) Filters { return f.timeRange("date", from, to) }

// CreatedRange filters on storage time (record created) in [from, to]; a zero bound is left out.
func (f Filters) CreatedRange(from, to time.Time) Filters { return f.timeRange("created", from, to) }

func (f Filters) timeRange(key string, from, to time.Time) Filters {
	if !from.IsZero() {
		f = f.Set(key, "gte", from.UnixMilli())
	}
	if !to.IsZero() {
		f = f.Set(key, "lte", to.UnixMilli())
	}
	return f
}

// Service keeps activities of the given app IDs (11161 Office 365, 20893 Exchange, …).
func (f Filters) Service(ids ...int) Filters { return f.Set("service", "eq", anyList(ids)) }

// User keeps activities of the given user names.
func (f Filters) User(names ...string) Filters {
	return f.Set("user.username", "eq", anyList(names))
}

// EventType keeps activities of the given EVENT_CATEGORY_* types.
func (f Filters) EventType(types ...string) Filters {
	return f.Set("activity.eventType", "eq", anyList(types))
}

// anyList stores lists the way JSON decoding does, so built and parsed filters validate alike.
func anyList[T any](xs []T) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// Query is one request's parameters: what to fetch, in which order, in what page size.
type Query struct {
	Filters       Filters
	SortField     string // "date" (activity time, the service default) or "created" (storage time)
	SortDirection string // "asc" or "desc" (the service default)
	Limit         int    // page size: scan 500–5000 (default 5000), List 1–100 (default 100)
}

// Sort fields and directions the service accepts.
const (
	SortDate    = "date"
	SortCreated = "created"
	Asc         = "asc"
	Desc        = "desc"
)

// Page-size bounds of the two paging modes.
const (
	MinScanLimit     = 500
	MaxScanLimit     = 5000
	DefaultScanLimit = 5000
	MaxListLimit     = 100
)

// normalized fills defaults and checks the sort options and page size for the mode.
func (q Query) normalized(scan bool) (Query, error) {
	if q.SortField == "" {
		q.SortField = SortDate
	}
	if q.SortDirection == "" {
		q.SortDirection = Desc
	}
	if q.SortField != SortDate && q.SortField != SortCreated {
		return q, fmt.Errorf("bad sort field %q: use %q or %q", q.SortField, SortDate, SortCreated)
	}
	if q.SortDirection != Asc && q.SortDirection != Desc {
		return q, fmt.Errorf("bad sort direction %q: use %q or %q", q.SortDirection, Asc, Desc)
	}
	if scan {
		if q.Limit == 0 {
			q.Limit = DefaultScanLimit
		}
		if q.Limit < MinScanLimit || q.Limit > MaxScanLimit {
			return q, fmt.Errorf("bad page size %d: scan pages hold %d to %d records", q.Limit, MinScanLimit, MaxScanLimit)
		}
	} else {
		if q.Limit == 0 {
			q.Limit = MaxListLimit
		}
		if q.Limit < 1 || q.Limit > MaxListLimit {
			return q, fmt.Errorf("bad page size %d: list pages hold 1 to %d records", q.Limit, MaxListLimit)
		}
	}
	if q.Filters == nil {
		q.Filters = Filters{}
	}
	return q, nil
}

// boundOp is the operator nextQueryFilters moves: gte when ascending, lte when descending.
func (q Query) boundOp() string { return boundOp(q.SortDirection) }

func boundOp(dir string) string {
	if dir == Asc {
		return "gte"
	}
	return "lte"
}

// ResumeAt returns q continuing from position, the Page.Position of the last page a caller
// committed: the bound on the sort field is inclusive, so nothing at position is lost.
func (q Query) ResumeAt(position int64) Query {
	n, err := q.normalized(true)
	if err != nil {
		n = q
		if n.SortField == "" {
			n.SortField = SortDate
		}
	}
	q.Filters = q.Filters.Clone().Set(n.SortField, n.boundOp(), position)
	return q
}

// filterOps lists every documented activity filter key with the operators the docs allow, plus
// the undocumented keys public clients use (activity.eventType, activity.actionType).
var filterOps = map[string][]string{
	"service":                  {"eq", "neq"},
	"instance":                 {"eq", "neq"},
	"date":                     {"lte", "gte", "range", "lte_ndays", "gte_ndays", "lt", "gt"},
	"created":                  {"lte", "gte", "range", "gt", "lt", "eq"},
	"activity.id":              {"eq"},
	"activity.eventActionType": {"eq", "neq"},
	"actionType":               {"contains", "eq", "neq", "isset", "isnotset"},
	"activity.impersonated":    {"eq"},
	"activity.type":            {"eq"},
	"activity.takenAction":     {"eq", "neq"},
	"activity.alertId":         {"eq"},
	"activityObject":           {"eq", "neq"},
	"device.type":              {"eq", "neq"},
	"device.tags":              {"eq", "neq"},
	"userAgent.userAgent":      {"contains", "ncontains"},
	"userAgent.tags":           {"eq", "neq"},
	"location.country":         {"eq", "neq", "isset", "isnotset"},
	"location.organizations":   {"eq", "neq", "isset", "isnotset", "contains"},
	"ip.address":               {"eq", "startswith", "doesnotstartwith", "isset", "isnotset", "neq"},
	"ip.category":              {"eq", "neq"},
	"ip.tags":                  {"eq", "neq"},
	"fileSelector":             {"eq", "neq"},
	"fileId":                   {"eq", "neq"},
	"office365url":             {"eq", "neq", "contains"},
	"text":                     {"eq", "startswithsingle", "text"},
	"policy":                   {"eq", "neq", "isset", "isnotset"},
	"source":                   {"eq", "neq"},
	"entity":                   {"eq", "neq", "isset", "isnotset", "startswith"},
	"user.username":            {"eq", "neq", "isset", "isnotset", "startswith"},
	"user.tags":                {"eq", "neq", "isset", "isnotset"},
	"user.domain":              {"eq", "neq", "isset", "isnotset"},
	"user.orgUnit":             {"eq", "neq", "isset", "isnotset"},
	"activity.eventType":       {"eq", "neq"},
	"activity.actionType":      {"eq", "neq"},
}

// FilterKeys lists the filter keys Validate accepts, sorted.
func FilterKeys() []string { return slices.Sorted(maps.Keys(filterOps)) }

// Validate checks every key and operator against the documented list and the value's shape
// against the operator, and says what is accepted when something is not.
func (f Filters) Validate() error {
	for _, key := range slices.Sorted(maps.Keys(f)) {
		allowed, ok := filterOps[key]
		if !ok {
			return fmt.Errorf("unknown filter key %q: accepted keys are %s", key, strings.Join(FilterKeys(), ", "))
		}
		ops := f[key]
		if len(ops) == 0 {
			return fmt.Errorf("filter %q has no operator: use one of %s", key, strings.Join(allowed, ", "))
		}
		for _, op := range slices.Sorted(maps.Keys(ops)) {
			if !slices.Contains(allowed, op) {
				return fmt.Errorf("filter %q does not take operator %q: use one of %s", key, op, strings.Join(allowed, ", "))
			}
			if err := checkOperand(op, ops[op]); err != nil {
				return fmt.Errorf("filter %q operator %q: %w", key, op, err)
			}
		}
	}
	return nil
}

// checkOperand checks a value's shape for its operator. The service is lenient (scalars where
// lists are documented, one range object instead of a list), so this is too.
func checkOperand(op string, v any) error {
	switch op {
	case "gte", "lte", "gt", "lt", "gte_ndays", "lte_ndays":
		if !isNumber(v) {
			return fmt.Errorf("want a number, got %s", jsonKind(v))
		}
	case "isset", "isnotset":
		if _, ok := v.(bool); !ok {
			return fmt.Errorf("want true or false, got %s", jsonKind(v))
		}
	case "range":
		ranges, ok := v.([]any)
		if !ok {
			ranges = []any{v}
		}
		if len(ranges) == 0 {
			return fmt.Errorf("want at least one {\"start\":ms,\"end\":ms}")
		}
		for _, r := range ranges {
			m, ok := r.(map[string]any)
			if !ok || !isNumber(m["start"]) || !isNumber(m["end"]) || len(m) != 2 {
				return fmt.Errorf("want {\"start\":ms,\"end\":ms} or a list of them")
			}
		}
	case "eq", "neq":
		if list, ok := v.([]any); ok {
			for _, x := range list {
				if !isScalar(x) && !isObject(x) {
					return fmt.Errorf("want scalars in the list, got %s", jsonKind(x))
				}
			}
			return nil
		}
		if !isScalar(v) {
			return fmt.Errorf("want a value or a list of values, got %s", jsonKind(v))
		}
	default: // string operators
		if _, ok := v.(string); !ok {
			if list, ok := v.([]any); ok && len(list) > 0 {
				for _, x := range list {
					if _, ok := x.(string); !ok {
						return fmt.Errorf("want strings, got %s", jsonKind(x))
					}
				}
				return nil
			}
			return fmt.Errorf("want a string, got %s", jsonKind(v))
		}
	}
	return nil
}

func isNumber(v any) bool {
	switch x := v.(type) {
	case json.Number:
		_, err := x.Float64()
		return err == nil
	case int, int32, int64, float64:
		return true
	}
	return false
}

func isScalar(v any) bool {
	switch v.(type) {
	case string, bool:
		return true
	}
	return isNumber(v)
}

func isObject(v any) bool { _, ok := v.(map[string]any); return ok }

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	if isNumber(v) {
		return "a number"
	}
	return fmt.Sprintf("%T", v)
}

// ParseFilterArg parses a --filter value: a JSON object, or @FILE naming a file that holds one
// (read with readFile, normally os.ReadFile). The result is validated.
func ParseFilterArg(arg string, readFile func(string) ([]byte, error)) (Filters, error) {
	data := []byte(arg)
	if name, ok := strings.CutPrefix(arg, "@"); ok {
		if name == "" {
			return nil, fmt.Errorf("parse filters: @ needs a file name, e.g. @filters.json")
		}
		b, err := readFile(name)
		if err != nil {
			return nil, fmt.Errorf("parse filters: read %s: %w", name, err)
		}
		data = b
	}
	return ParseFilters(data)
}

// ParseFilters parses and validates a JSON filter object.
func ParseFilters(data []byte) (Filters, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return nil, fmt.Errorf("parse filters: want a JSON object like {\"service\":{\"eq\":[11161]}}")
	}
	f, err := DecodeFilters(trimmed)
	if err != nil {
		return nil, fmt.Errorf("parse filters: want {\"key\":{\"operator\":value}}: %w", err)
	}
	if err := f.Validate(); err != nil {
		return nil, fmt.Errorf("parse filters: %w", err)
	}
	return f, nil
}

// Merge adds other's operators to f (a copy); the same operator on the same key twice is an
// error so a shortcut flag cannot silently override --filter.
func (f Filters) Merge(other Filters) (Filters, error) {
	out := f.Clone()
	for _, key := range slices.Sorted(maps.Keys(other)) {
		for op, v := range other[key] {
			if _, dup := out[key][op]; dup {
				return nil, fmt.Errorf("filter %q operator %q is given twice", key, op)
			}
			out = out.Set(key, op, v)
		}
	}
	return out, nil
}
