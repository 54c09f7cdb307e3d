package queries

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/mcasload/mcasload/allowlist"
	"github.com/mcasload/mcasload/output"
)

// suppressedBy is the column --show-suppressed adds: the allow-list entry that matched the row.
const suppressedBy = "suppressed_by"

// entityOrder is the order in which a row's entities are checked: the entry reported for a row is
// the first kind whose values are all allowed.
var entityOrder = []string{"user", "ip", "domain", "app", "rule"}

// suppress applies the allow-list to a detection's rows. A row is suppressed when, for one of
// the entity kinds its header names, every value the row holds of that kind is allowed (a row
// naming two IPs, one of them unknown, stays). The rows are taken out, or kept with a
// suppressed_by column when show; either way the meta counts them per entry.
func suppress(inv *Investigation, l *allowlist.List, res *Result, show bool) error {
	type entryKey struct{ scope, kind, value string }
	counts := map[entryKey]int{}
	var order []entryKey
	total := 0
	var out []arrow.RecordBatch
	for _, rec := range res.records {
		by := make([]*allowlist.Entry, rec.NumRows())
		for row := range by {
			by[row] = matchRow(inv, l, rec, row)
			if e := by[row]; e != nil {
				k := entryKey{e.Scope, e.Kind, e.Value}
				if counts[k] == 0 {
					order = append(order, k)
				}
				counts[k]++
				total++
			}
		}
		if show {
			marked, err := withSuppressedBy(rec, by)
			if err != nil {
				return err
			}
			out = append(out, marked)
			continue
		}
		// Keep the runs of rows nobody allowed, as slices of the batch.
		for start := 0; start < len(by); {
			if by[start] != nil {
				start++
				continue
			}
			end := start
			for end < len(by) && by[end] == nil {
				end++
			}
			out = append(out, rec.NewSlice(int64(start), int64(end)))
			start = end
		}
	}
	if show {
		res.schema = arrow.NewSchema(append(slices.Clip(res.schema.Fields()),
			arrow.Field{Name: suppressedBy, Type: arrow.BinaryTypes.String, Nullable: true}), nil)
	}
	for _, rec := range res.records {
		rec.Release()
	}
	res.records = out
	// global entries first, then the investigation's own; each list in the file's order of kinds
	slices.SortStableFunc(order, func(a, b entryKey) int {
		return cmp.Or(cmp.Compare(scopeRank(a.scope), scopeRank(b.scope)), cmp.Compare(a.kind, b.kind), cmp.Compare(a.value, b.value))
	})
	s := &output.Suppressed{Rows: total, Shown: show, AllowList: l.Path, ByEntry: []output.SuppressedBy{}}
	for _, k := range order {
		s.ByEntry = append(s.ByEntry, output.SuppressedBy{Scope: k.scope, Kind: k.kind, Value: k.value, Rows: counts[k]})
	}
	res.Meta.Suppressed = s
	return nil
}

func scopeRank(scope string) int {
	if scope == "global" {
		return 0
	}
	return 1
}

// matchRow returns the entry that suppresses one row, or nil.
func matchRow(inv *Investigation, l *allowlist.List, rec arrow.RecordBatch, row int) *allowlist.Entry {
	for _, kind := range entityOrder {
		var values []string
		for _, col := range inv.Entities[kind] {
			idx := rec.Schema().FieldIndices(col)
			if len(idx) == 0 {
				continue
			}
			values = appendStrings(values, rec.Column(idx[0]), row)
		}
		if len(values) == 0 {
			continue
		}
		var first *allowlist.Entry
		for _, v := range values {
			e := l.Match(inv.Name, kind, v)
			if e == nil {
				first = nil
				break
			}
			if first == nil {
				first = e
			}
		}
		if first != nil {
			return first
		}
	}
	return nil
}

// appendStrings appends the non-empty text values of one cell: a string, or a list of strings.
func appendStrings(dst []string, arr arrow.Array, row int) []string {
	if arr.IsNull(row) {
		return dst
	}
	switch a := arr.(type) {
	case *array.String:
		if v := a.Value(row); v != "" {
			dst = append(dst, v)
		}
	case *array.LargeString:
		if v := a.Value(row); v != "" {
			dst = append(dst, v)
		}
	case *array.StringView:
		if v := a.Value(row); v != "" {
			dst = append(dst, v)
		}
	case array.ListLike:
		start, end := a.ValueOffsets(row)
		for j := start; j < end; j++ {
			dst = appendStrings(dst, a.ListValues(), int(j))
		}
	}
	return dst
}

// withSuppressedBy returns rec with a suppressed_by column naming each row's entry (NULL for the
// rows nobody allowed).
func withSuppressedBy(rec arrow.RecordBatch, by []*allowlist.Entry) (arrow.RecordBatch, error) {
	b := array.NewStringBuilder(memory.DefaultAllocator)
	defer b.Release()
	for _, e := range by {
		if e == nil {
			b.AppendNull()
		} else {
			b.Append(fmt.Sprintf("%s %s %s", e.Scope, e.Kind, e.Value))
		}
	}
	col := b.NewArray()
	defer col.Release()
	fields := append(slices.Clip(rec.Schema().Fields()), arrow.Field{Name: suppressedBy, Type: arrow.BinaryTypes.String, Nullable: true})
	cols := append(slices.Clip(rec.Columns()), col)
	return array.NewRecordBatch(arrow.NewSchema(fields, nil), cols, rec.NumRows()), nil
}
