package report

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
)

// cell is one value of a result, unredacted: text for strings, lists and anything else, num
// for numbers, t for times.
type cell struct {
	text   string
	list   []string // the elements of a list cell
	num    float64
	t      time.Time
	kind   cellKind
	isNull bool
}

type cellKind int

const (
	kindText cellKind = iota
	kindNum
	kindTime
	kindList
)

// table is a whole query result in memory; report queries are aggregates or investigation
// results, small by design.
type table struct {
	cols  []string
	kinds []cellKind
	rows  [][]cell
}

// readTable reads every batch of rdr and releases it.
func readTable(rdr array.RecordReader) (*table, error) {
	defer rdr.Release()
	s := rdr.Schema()
	t := &table{cols: make([]string, s.NumFields()), kinds: make([]cellKind, s.NumFields())}
	for i, f := range s.Fields() {
		t.cols[i] = f.Name
		t.kinds[i] = kindOf(f.Type)
	}
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for r := range int(rec.NumRows()) {
			row := make([]cell, rec.NumCols())
			for c := range row {
				row[c] = cellOf(rec.Column(c), r)
			}
			t.rows = append(t.rows, row)
		}
	}
	if err := rdr.Err(); err != nil {
		return nil, fmt.Errorf("read result: %w", err)
	}
	return t, nil
}

func kindOf(t arrow.DataType) cellKind {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32,
		arrow.UINT64, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128:
		return kindNum
	case arrow.TIMESTAMP, arrow.DATE32:
		return kindTime
	case arrow.LIST, arrow.LARGE_LIST:
		return kindList
	}
	return kindText
}

func cellOf(arr arrow.Array, i int) cell {
	if arr.IsNull(i) {
		return cell{isNull: true, kind: kindOf(arr.DataType())}
	}
	switch a := arr.(type) {
	case *array.Int8:
		return numCell(float64(a.Value(i)), strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int16:
		return numCell(float64(a.Value(i)), strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int32:
		return numCell(float64(a.Value(i)), strconv.FormatInt(int64(a.Value(i)), 10))
	case *array.Int64:
		return numCell(float64(a.Value(i)), strconv.FormatInt(a.Value(i), 10))
	case *array.Uint8:
		return numCell(float64(a.Value(i)), strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint16:
		return numCell(float64(a.Value(i)), strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint32:
		return numCell(float64(a.Value(i)), strconv.FormatUint(uint64(a.Value(i)), 10))
	case *array.Uint64:
		return numCell(float64(a.Value(i)), strconv.FormatUint(a.Value(i), 10))
	case *array.Float32:
		return numCell(float64(a.Value(i)), strconv.FormatFloat(float64(a.Value(i)), 'f', -1, 32))
	case *array.Float64:
		return numCell(a.Value(i), strconv.FormatFloat(a.Value(i), 'f', -1, 64))
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		v := decimal128.Num(a.Value(i))
		return numCell(v.ToFloat64(scale), v.ToString(scale))
	case *array.Timestamp:
		unit := a.DataType().(*arrow.TimestampType).Unit
		t := a.Value(i).ToTime(unit).UTC()
		return cell{kind: kindTime, t: t, text: t.Format("2006-01-02 15:04:05")}
	case *array.Date32:
		t := a.Value(i).ToTime().UTC()
		return cell{kind: kindTime, t: t, text: t.Format(time.DateOnly)}
	// Value aliases the batch's buffer, which is freed with the batch (DuckDB's memory, not
	// Go's): the table outlives its batches, so it keeps copies.
	case *array.String:
		return cell{kind: kindText, text: strings.Clone(a.Value(i))}
	case *array.LargeString:
		return cell{kind: kindText, text: strings.Clone(a.Value(i))}
	case *array.Boolean:
		return cell{kind: kindText, text: strconv.FormatBool(a.Value(i))}
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		vals := a.ListValues()
		c := cell{kind: kindList}
		for j := start; j < end; j++ {
			if vals.IsNull(int(j)) {
				c.list = append(c.list, "")
				continue
			}
			c.list = append(c.list, cellOf(vals, int(j)).text)
		}
		c.text = strings.Join(c.list, ", ")
		return c
	}
	return cell{kind: kindText, text: arr.ValueStr(i)}
}

func numCell(f float64, text string) cell { return cell{kind: kindNum, num: f, text: text} }

// col is the index of the column called name, or -1.
func (t *table) col(name string) int {
	for i, c := range t.cols {
		if c == name {
			return i
		}
	}
	return -1
}
