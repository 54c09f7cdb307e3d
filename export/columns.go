package export

import (
	"errors"
	"fmt"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// ErrUnknownColumn is returned (wrapped) by SelectColumns for a name the result lacks.
var ErrUnknownColumn = errors.New("unknown column")

// ParseColumns splits a --columns value (a,b,c) into names, dropping blanks.
func ParseColumns(s string) []string {
	var names []string
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	return names
}

// SelectColumns returns the indexes of names in available, in the order given, or an error
// naming the first unknown column and listing the accepted ones.
func SelectColumns(available []string, names []string) ([]int, error) {
	idx := make([]int, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		if seen[n] {
			return nil, fmt.Errorf("column %q given twice", n)
		}
		seen[n] = true
		i := indexOf(available, n)
		if i < 0 {
			return nil, fmt.Errorf("%w %q; accepted: %s", ErrUnknownColumn, n, strings.Join(available, ", "))
		}
		idx = append(idx, i)
	}
	return idx, nil
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// FieldNames lists a schema's column names in order.
func FieldNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		names[i] = f.Name
	}
	return names
}

// Project returns a reader of only the columns idx of rdr, in that order. It takes over rdr:
// releasing the projection releases rdr.
func Project(rdr array.RecordReader, idx []int) array.RecordReader {
	fields := make([]arrow.Field, len(idx))
	for i, c := range idx {
		fields[i] = rdr.Schema().Field(c)
	}
	md := rdr.Schema().Metadata()
	return &projection{src: rdr, idx: idx, schema: arrow.NewSchema(fields, &md)}
}

type projection struct {
	src    array.RecordReader
	idx    []int
	schema *arrow.Schema
	cur    arrow.RecordBatch
}

func (p *projection) Retain()                        { p.src.Retain() }
func (p *projection) Schema() *arrow.Schema          { return p.schema }
func (p *projection) RecordBatch() arrow.RecordBatch { return p.cur }
func (p *projection) Record() arrow.RecordBatch      { return p.cur }
func (p *projection) Err() error                     { return p.src.Err() }

func (p *projection) Release() {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	p.src.Release()
}

func (p *projection) Next() bool {
	if p.cur != nil {
		p.cur.Release()
		p.cur = nil
	}
	if !p.src.Next() {
		return false
	}
	rec := p.src.RecordBatch()
	cols := make([]arrow.Array, len(p.idx))
	for i, c := range p.idx {
		cols[i] = rec.Column(c)
	}
	p.cur = array.NewRecordBatch(p.schema, cols, rec.NumRows())
	return true
}

// dropColumn returns rec without column i (a new batch the caller releases).
func dropColumn(schema *arrow.Schema, rec arrow.RecordBatch, i int) arrow.RecordBatch {
	cols := make([]arrow.Array, 0, rec.NumCols()-1)
	for c := range int(rec.NumCols()) {
		if c != i {
			cols = append(cols, rec.Column(c))
		}
	}
	return array.NewRecordBatch(schema, cols, rec.NumRows())
}

// dropField returns s without field i.
func dropField(s *arrow.Schema, i int) *arrow.Schema {
	fields := make([]arrow.Field, 0, s.NumFields()-1)
	for c, f := range s.Fields() {
		if c != i {
			fields = append(fields, f)
		}
	}
	md := s.Metadata()
	return arrow.NewSchema(fields, &md)
}
