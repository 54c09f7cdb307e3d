package output

import (
	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// normalizeType gives a timestamp without a zone the UTC zone: every time in the warehouse is
// an instant in UTC, and a zone-less Parquet timestamp makes pandas and polars read naive local
// times. Other types pass through.
func normalizeType(t arrow.DataType) arrow.DataType {
	if ts, ok := t.(*arrow.TimestampType); ok && ts.TimeZone == "" {
		return &arrow.TimestampType{Unit: ts.Unit, TimeZone: "UTC"}
	}
	return t
}

// NormalizeSchema is s with normalizeType's types (s itself when nothing changes).
func NormalizeSchema(s *arrow.Schema) *arrow.Schema {
	changed := false
	fields := make([]arrow.Field, s.NumFields())
	for i, f := range s.Fields() {
		if t := normalizeType(f.Type); t != f.Type {
			f.Type = t
			changed = true
		}
		fields[i] = f
	}
	if !changed {
		return s
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}

// Normalize returns rec with NormalizeSchema's types (the same buffers, relabelled); the caller
// releases the result.
func Normalize(rec arrow.RecordBatch) arrow.RecordBatch {
	s := NormalizeSchema(rec.Schema())
	if s == rec.Schema() {
		rec.Retain()
		return rec
	}
	cols := make([]arrow.Array, rec.NumCols())
	for i := range cols {
		col := rec.Column(i)
		t := s.Field(i).Type
		if arrow.TypeEqual(t, col.DataType()) {
			col.Retain()
			cols[i] = col
			continue
		}
		d := col.Data()
		nd := array.NewData(t, d.Len(), d.Buffers(), d.Children(), d.NullN(), d.Offset())
		cols[i] = array.MakeFromData(nd)
		nd.Release()
	}
	out := array.NewRecordBatch(s, cols, rec.NumRows())
	for _, c := range cols {
		c.Release()
	}
	return out
}
