package schema

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// CloudAppEventsOptions tune a CloudAppEventsConverter.
type CloudAppEventsOptions struct {
	// MaxRecordBytes rejects lines larger than this many bytes (0: DefaultMaxRecordBytes).
	MaxRecordBytes int
	// Tenant is the tenant label written to every row's tenant column ("" leaves it NULL).
	Tenant string
}

// caeValue is what one column of one line held.
type caeValue struct {
	b []byte // string content or JSON text
	i int64  // integers; times in µs
	t bool   // booleans
	k kind
}

// CloudAppEventsConverter turns Streaming API lines of the CloudAppEvents table into Arrow
// batches in the CloudAppEvents layout, with rejects like Converter's. It keeps scratch space
// between calls, so it is not safe for concurrent use: use one per goroutine.
type CloudAppEventsConverter struct {
	mem  memory.Allocator
	opts CloudAppEventsOptions
	s    scanner
	v    []caeValue // per column of caeSpec, for the line being read
	errs []int      // type errors per column, for the line being read
	// The envelope and what the checks need.
	category, tenantID, received caeValue
	props                        kind   // whether properties was an object (valid), null, absent or wrong
	tsText                       []byte // the Timestamp text, for a bad_timestamp detail
	tenant                       []byte // opts.Tenant
}

// NewCloudAppEventsConverter returns a converter allocating Arrow memory from mem.
func NewCloudAppEventsConverter(mem memory.Allocator, opts CloudAppEventsOptions) *CloudAppEventsConverter {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	slots := len(caeSpec) + len(caeAliases)
	return &CloudAppEventsConverter{mem: mem, opts: opts, v: make([]caeValue, slots), errs: make([]int, len(caeSpec)),
		tenant: []byte(opts.Tenant)}
}

// Convert converts lines into one batch in the CloudAppEvents layout. Every line ends either as
// a row of Batch.Record or in Batch.Rejected; a bad line never fails the others. The error is
// reserved for failures of the converter itself.
func (c *CloudAppEventsConverter) Convert(lines []json.RawMessage) (batch *Batch, err error) {
	rawBytes := 0
	for _, l := range lines {
		rawBytes += min(len(l), c.opts.MaxRecordBytes)
	}
	rb := array.NewRecordBuilder(c.mem, CloudAppEvents)
	defer rb.Release()
	rb.Reserve(len(lines))
	rb.Field(caeRaw).(*array.StringBuilder).ReserveData(rawBytes)
	at := -1
	defer func() {
		if p := recover(); p != nil { // a bug in the converter: say which line, keep the load alive
			batch, err = nil, fmt.Errorf("convert cloud app events: internal error at line %d of %d: %v (please report it with that line)", at, len(lines), p)
		}
	}()
	out := &Batch{}
	colErrs := make([]int, len(caeSpec))
	for i, line := range lines {
		at = i
		if reason := c.read(line); reason != "" {
			id := ""
			if r := c.v[caeReportID]; r.k == valid && utf8.Valid(r.b) {
				id = string(r.b)
			}
			out.Rejected = append(out.Rejected, Rejected{ID: id, Raw: bytes.Clone(line), Reason: reason, Index: i})
			continue
		}
		c.appendRow(rb, line)
		for col, n := range c.errs {
			colErrs[col] += n
		}
	}
	for col, n := range colErrs {
		if n > 0 {
			if out.ColumnTypeErrors == nil {
				out.ColumnTypeErrors = map[string]int{}
			}
			out.ColumnTypeErrors[caeSpec[col].col.Name] = n
			out.TypeErrors += n
		}
	}
	out.Record = rb.NewRecordBatch()
	return out, nil
}

// ConvertChunk converts a chunk of lines: the batch's rejects carry line numbers and include the
// lines the reader refused, in line order.
func (c *CloudAppEventsConverter) ConvertChunk(ch *Chunk) (*Batch, error) {
	return convertChunk(c.Convert, ch)
}

// read parses one line into c's per-line state and returns "" or a reject reason.
func (c *CloudAppEventsConverter) read(line []byte) string {
	clear(c.v)
	clear(c.errs)
	c.category, c.tenantID, c.received, c.props, c.tsText = caeValue{}, caeValue{}, caeValue{}, absent, nil
	if reason := checkBytes(line, c.opts.MaxRecordBytes); reason != "" {
		return reason
	}
	s := &c.s
	s.reset(line)
	isObject := s.peek() == '{'
	var err error
	if isObject {
		err = c.envelope()
	} else {
		err = s.skip()
	}
	if err == nil && !s.atEnd() {
		err = s.fail("trailing text")
	}
	switch {
	case err != nil:
		return ReasonInvalidJSON + ": " + err.Error()
	case !isObject:
		return ReasonNotObject + ": " + jsonTypeName(line)
	}
	return c.check()
}

// check applies the rules a parsed line must meet to be a row.
func (c *CloudAppEventsConverter) check() string {
	if c.category.k != valid || !strings.EqualFold(bstr(c.category.b), CloudAppEventsCategory) {
		got := "none"
		if c.category.k == valid {
			got = quoteDetail(c.category.b)
		}
		return fmt.Sprintf("%s: category %s, want %q", ReasonWrongCategory, got, CloudAppEventsCategory)
	}
	if c.props != valid {
		return ReasonMissingReportID + ": no properties object"
	}
	switch id := c.v[caeReportID]; {
	case id.k == wrong:
		return ReasonBadReportID + ": ReportId is not a string"
	case id.k != valid || len(id.b) == 0:
		return ReasonMissingReportID + ": no ReportId"
	}
	switch c.v[caeTS].k {
	case absent, null:
		return ReasonMissingTimestamp + ": no Timestamp"
	case wrong:
		return ReasonBadTimestamp + ": " + quoteDetail(c.tsText)
	}
	return ""
}

// envelope walks the line's top-level object: time, tenantId, category and properties; other
// keys are skipped. Keys match with exact case; a repeated key: last wins.
func (c *CloudAppEventsConverter) envelope() error {
	return c.s.members(func(key []byte) (err error) {
		switch string(key) {
		case "time":
			c.received, err = c.timeValue()
			c.markErr(caeReceived, c.received.k)
		case "tenantId":
			c.tenantID, err = c.stringValue()
			c.markErr(caeEntraTenant, c.tenantID.k)
		case "category":
			c.category, err = c.stringValue()
		case "properties":
			err = c.properties()
		default:
			err = c.s.skip()
		}
		return err
	})
}

func (c *CloudAppEventsConverter) markErr(col int, k kind) {
	if k == wrong {
		c.errs[col]++
	}
}

// properties reads the event's columns.
func (c *CloudAppEventsConverter) properties() error {
	s := &c.s
	// A repeated properties object replaces the earlier one whole, its type errors included.
	for slot := range c.v {
		if slot >= len(caeSpec) || caeSpec[slot].key != "" {
			c.v[slot], c.errs[caeSlotColumn(slot)] = caeValue{}, 0
		}
	}
	switch s.peek() {
	case '{':
	case 'n':
		c.props = null
		return s.lit("null")
	default:
		c.props = wrong
		return s.skip()
	}
	c.props = valid
	return s.members(func(key []byte) error {
		if slot, known := caeKeyIndex[string(key)]; known {
			return c.column(slot)
		}
		return s.skip()
	})
}

// column reads the value of a slot by its column's kind.
func (c *CloudAppEventsConverter) column(slot int) (err error) {
	s := &c.s
	col := caeSlotColumn(slot)
	var v caeValue
	switch caeSpec[col].kind {
	case caeString:
		v, err = c.stringValue()
	case caeInt32:
		var txt []byte
		var integer bool
		txt, integer, v.k, err = s.numText()
		if v.k == valid {
			var ok bool
			if v.i, ok = integral(txt, integer, math.MinInt32, math.MaxInt32); !ok {
				v.k = wrong
			}
		}
	case caeBool:
		v, err = c.boolValue()
	case caeDynamic:
		v, err = c.dynamicValue()
	case caeTime:
		start := s.i
		v, err = c.timeValue()
		if col == caeTS {
			c.tsText = s.b[start:s.i]
		}
	}
	c.v[slot] = v
	c.markErr(col, v.k)
	return err
}

func (c *CloudAppEventsConverter) stringValue() (caeValue, error) {
	b, k, err := c.s.strVal()
	return caeValue{b: b, k: k}, err
}

// boolValue reads true/false, and the look-alikes an export may write for a Kusto bool: the
// strings "true"/"false" (any case) and the numbers 0 and 1.
func (c *CloudAppEventsConverter) boolValue() (caeValue, error) {
	s := &c.s
	switch s.peek() {
	case '"':
		b, k, err := s.strVal()
		switch {
		case k != valid:
		case strings.EqualFold(bstr(b), "true"):
			return caeValue{t: true, k: valid}, err
		case strings.EqualFold(bstr(b), "false"):
			return caeValue{k: valid}, err
		}
		return caeValue{k: wrong}, err
	case '0', '1':
		txt, _, k, err := s.numText()
		if k == valid && len(txt) == 1 {
			return caeValue{t: txt[0] == '1', k: valid}, err
		}
		return caeValue{k: wrong}, err
	}
	t, k, err := s.boolVal()
	return caeValue{t: t, k: k}, err
}

// dynamicValue reads a Kusto dynamic: an object, array, number or boolean as its JSON text
// byte for byte, a string as its content (exports write some dynamics as JSON inside a string),
// null as NULL.
func (c *CloudAppEventsConverter) dynamicValue() (caeValue, error) {
	s := &c.s
	switch s.peek() {
	case '"':
		return c.stringValue()
	case 'n':
		return caeValue{k: null}, s.lit("null")
	}
	start := s.i
	if err := s.skip(); err != nil {
		return caeValue{k: wrong}, err
	}
	return caeValue{b: s.b[start:s.i], k: valid}, nil
}

// timeValue reads an RFC 3339 datetime string (any fraction up to nanoseconds, any offset) as
// microseconds since the epoch, floored; anything else is wrong.
func (c *CloudAppEventsConverter) timeValue() (caeValue, error) {
	b, k, err := c.s.strVal()
	if k != valid {
		return caeValue{k: k}, err
	}
	t, perr := time.Parse(time.RFC3339Nano, bstr(b))
	if perr != nil || t.Year() < 1 || t.Year() > 9999 {
		return caeValue{k: wrong}, err
	}
	return caeValue{i: t.UnixMicro(), k: valid}, err
}

const microsPerDay = 86400 * 1000 * 1000

// appendRow appends the line just read as one row.
func (c *CloudAppEventsConverter) appendRow(rb *array.RecordBuilder, line []byte) {
	for col, spec := range caeSpec {
		v := c.v[col]
		if fb := caeFallback[col]; fb >= 0 && v.k != valid {
			v = c.v[fb]
		}
		switch col {
		case caeReceived:
			v = c.received
		case caeDay:
			v = caeValue{i: floorDiv(c.v[caeTS].i, microsPerDay), k: valid}
		case caeTenant:
			v = caeValue{b: c.tenant, k: valid}
			if len(c.tenant) == 0 {
				v.k = null
			}
		case caeEntraTenant:
			v = c.tenantID
		case caeRaw:
			v = caeValue{b: line, k: valid}
		}
		if v.k != valid {
			rb.Field(col).AppendNull()
			continue
		}
		switch b := rb.Field(col).(type) {
		case *array.StringBuilder:
			b.BinaryBuilder.Append(v.b)
		case *array.TimestampBuilder:
			b.Append(arrow.Timestamp(v.i))
		case *array.Date32Builder:
			b.Append(arrow.Date32(v.i))
		case *array.Int32Builder:
			b.Append(int32(v.i))
		case *array.BooleanBuilder:
			b.Append(v.t)
		default:
			panic(fmt.Sprintf("column %s: no append for %T", spec.col.Name, b))
		}
	}
}
