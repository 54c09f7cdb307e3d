package schema

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// DefaultMaxRecordBytes is the size above which a record is rejected as too_large.
const DefaultMaxRecordBytes = 16 << 20

// Options tune a Converter.
type Options struct {
	// MaxRecordBytes rejects records larger than this many bytes (0: DefaultMaxRecordBytes).
	MaxRecordBytes int
	// Tenant is the label every row gets in its tenant column (tenant.Parse checked it; the
	// warehouse refuses a commit whose rows carry another). Empty stores "" and the warehouse
	// refuses the batch, so every writer names its tenant.
	Tenant string
}

// Rejected is a record that could not be stored as a row, with why.
type Rejected struct {
	ID     string // the record's _id when it could be read (even before a syntax error), else ""
	Raw    []byte // the record exactly as received (a copy; owned by the Rejected)
	Reason string // a stable code from RejectReasons, then ": " and a detail
	Index  int    // position of the record in the slice given to Convert (-1 when it never got there)
	Line   int    // 1-based line of an NDJSON input (0 when unknown)
}

// Batch is the result of converting one slice of records.
type Batch struct {
	// Record holds the rows in the Activities layout; it is never nil and the caller releases it.
	Record arrow.RecordBatch
	// Rejected lists records that are not in Record, in input order.
	Rejected []Rejected
	// TypeErrors counts typed fields that held a value of the wrong type and were stored as NULL
	// (raw keeps the value).
	TypeErrors int
	// ColumnTypeErrors breaks TypeErrors down by column name; nil when TypeErrors is 0.
	ColumnTypeErrors map[string]int
}

// Column positions in Columns; TestColumnIndexes keeps them in step.
const (
	colID = iota
	colTS
	colCreated
	colDay
	colAppID
	colAppName
	colUserName
	colEventType
	colEventTypeValue
	colAction
	colSuccess
	colDescription
	colIP
	colCountry
	colCity
	colLatitude
	colLongitude
	colISP
	colAnonymousProxy
	colIPCategory
	colUserAgent
	colDeviceType
	colAdmin
	colObjects
	colRaw
	colParameters
	colTenant
	colModifiedProperties
	colAWSRegion
	colLogonType
	colMailboxOwner
	numCols
)

// The range of accepted timestamps: years 0001 to 9999 UTC, which DuckDB and Parquet both hold
// and whose day fits a date32.
const (
	minMillis = -62135596800000
	maxMillis = 253402300799999
	msPerDay  = 86400000
)

type strField struct {
	v []byte
	k kind
}

type intField struct {
	v int64
	k kind
}

type floatField struct {
	v float64
	k kind
}

type boolField struct {
	v bool
	k kind
}

// fields holds what one record yields before it is appended, so that a record rejected half way
// through leaves nothing in the builders.
type fields struct {
	id              strField
	ts              intField
	tsBad           []byte // the unusable timestamp text for the reject detail
	created         intField
	appID, saasID   intField
	appName         strField
	userName        strField
	failedUserName  strField
	eventType       strField
	eventTypeValue  strField
	action          strField
	success         boolField
	description     strField
	ip              strField
	locCountry      strField
	devCountry      strField
	city            strField
	latitude        floatField
	longitude       floatField
	isp             strField
	anonymousProxy  boolField
	category        intField
	userAgent       strField
	deviceType      strField
	admin           boolField
	objects         kind
	names           [][]byte
	badObjectNames  int
	parameters      strField // the JSON text of rawDataJson.Parameters, when it is an array
	modified        strField // the JSON text of rawDataJson.ModifiedProperties, when it is an array
	awsRegion       strField
	logonType       intField
	mailboxOwner    strField
	typeErrsByField [numCols]int
}

// Converter turns raw activity records into Arrow batches. It keeps scratch space between calls,
// so it is not safe for concurrent use: use one per goroutine.
type Converter struct {
	mem  memory.Allocator
	opts Options
	s    scanner
	f    fields
	// kept is scratch space: the positions of the records that became rows.
	kept []int32
	// perRow is the string bytes per row each string column (and, at colObjects, the object
	// names) took in the last batch, so the next batch reserves its buffers once instead of
	// growing them by doubling (copying and zeroing each time).
	perRow [numCols]float64
}

// NewConverter returns a Converter allocating Arrow memory from mem.
func NewConverter(mem memory.Allocator, opts Options) *Converter {
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	return &Converter{mem: mem, opts: opts}
}

// builders are the typed column builders of one batch.
type builders struct {
	rb      *array.RecordBuilder
	str     [numCols]*array.StringBuilder
	ts      *array.TimestampBuilder
	created *array.TimestampBuilder
	day     *array.Date32Builder
	appID   *array.Int32Builder
	success *array.BooleanBuilder
	lat     *array.Float64Builder
	lon     *array.Float64Builder
	anon    *array.BooleanBuilder
	admin   *array.BooleanBuilder
	objects *array.ListBuilder
	names   *array.StringBuilder
	logon   *array.Int32Builder
}

func newBuilders(mem memory.Allocator, n, rawBytes int, perRow *[numCols]float64) *builders {
	rb := array.NewRecordBuilder(mem, Activities)
	rb.Reserve(n)
	b := &builders{rb: rb}
	for i, c := range Columns {
		if c.Type.ID() == arrow.STRING {
			b.str[i] = rb.Field(i).(*array.StringBuilder)
		}
	}
	b.ts = rb.Field(colTS).(*array.TimestampBuilder)
	b.created = rb.Field(colCreated).(*array.TimestampBuilder)
	b.day = rb.Field(colDay).(*array.Date32Builder)
	b.appID = rb.Field(colAppID).(*array.Int32Builder)
	b.success = rb.Field(colSuccess).(*array.BooleanBuilder)
	b.lat = rb.Field(colLatitude).(*array.Float64Builder)
	b.lon = rb.Field(colLongitude).(*array.Float64Builder)
	b.anon = rb.Field(colAnonymousProxy).(*array.BooleanBuilder)
	b.admin = rb.Field(colAdmin).(*array.BooleanBuilder)
	b.objects = rb.Field(colObjects).(*array.ListBuilder)
	b.names = b.objects.ValueBuilder().(*array.StringBuilder)
	b.logon = rb.Field(colLogonType).(*array.Int32Builder)
	// A column never holds more bytes than the records it comes from (unescaping only shrinks
	// text), so one batch with a few huge fields cannot make the next one over-reserve.
	guess := func(col int) int { return min(int(perRow[col]*1.1*float64(n))+64, rawBytes) }
	for col, sb := range b.str {
		if sb != nil && col != colRaw && perRow[col] > 0 {
			sb.ReserveData(guess(col))
		}
	}
	if perRow[colObjects] > 0 {
		b.names.ReserveData(guess(colObjects))
	}
	return b
}

// learnSizes remembers the string bytes per row of this batch for the next one.
func (b *builders) learnSizes(perRow *[numCols]float64, rows int) {
	if rows < 100 { // too few rows to say much; keep what earlier batches taught
		return
	}
	for col, sb := range b.str {
		if sb != nil {
			perRow[col] = float64(sb.DataLen()) / float64(rows)
		}
	}
	perRow[colObjects] = float64(b.names.DataLen()) / float64(rows)
}

// Convert converts records into one batch. Every record ends either as a row of Batch.Record or
// in Batch.Rejected; a bad record never fails the others. The error is reserved for failures of
// the converter itself.
func (c *Converter) Convert(records []json.RawMessage) (*Batch, error) {
	return c.convert(records, nil)
}

// convert is Convert for records that may be sub-slices of data, back to back (an NDJSON
// chunk's arena): then, when every record becomes a row, the raw column is data itself instead
// of a copy, and the batch shares data's memory (see Chunk.Data).
func (c *Converter) convert(records []json.RawMessage, data []byte) (batch *Batch, err error) {
	rawBytes := 0
	for _, r := range records {
		if len(r) <= c.opts.MaxRecordBytes {
			rawBytes += len(r)
		}
	}
	b := newBuilders(c.mem, len(records), rawBytes, &c.perRow)
	defer b.rb.Release()
	cur := -1
	defer func() {
		// A panic here is a bug in the converter; turn it into an error so one odd record does
		// not take down a long load, and say which record it was.
		if p := recover(); p != nil {
			batch, err = nil, fmt.Errorf("convert records: internal error at record %d of %d: %v (please report it with that record)", cur, len(records), p)
		}
	}()
	out := &Batch{}
	var colErrs [numCols]int
	kept := c.kept[:0]
	for i, raw := range records {
		cur = i
		reason := c.parse(raw)
		if reason != "" {
			out.Rejected = append(out.Rejected, Rejected{
				ID:     c.rejectID(),
				Raw:    append([]byte(nil), raw...),
				Reason: reason,
				Index:  i,
			})
			continue
		}
		c.appendRow(b)
		kept = append(kept, int32(i))
		for col, n := range c.f.typeErrsByField {
			colErrs[col] += n
		}
	}
	c.kept = kept
	for col, n := range colErrs {
		if n == 0 {
			continue
		}
		if out.ColumnTypeErrors == nil {
			out.ColumnTypeErrors = make(map[string]int)
		}
		out.ColumnTypeErrors[Columns[col].Name] += n
		out.TypeErrors += n
	}
	b.learnSizes(&c.perRow, len(kept))
	rec := b.rb.NewRecordBatch()
	defer rec.Release()
	raw := c.rawColumn(records, kept, data)
	defer raw.Release()
	cols := slices.Clone(rec.Columns())
	cols[colRaw] = raw
	out.Record = array.NewRecordBatch(Activities, cols, rec.NumRows())
	return out, nil
}

// rawColumn builds the raw column of the kept records. When they are all the records and lie
// back to back inside data, the column's value buffer is that part of data (no copy: raw is
// most of a record's bytes, and copying it cost a third of the conversion's memory traffic);
// otherwise the kept records are copied into a buffer of their exact size.
func (c *Converter) rawColumn(records []json.RawMessage, kept []int32, data []byte) arrow.Array {
	if len(kept) == len(records) && len(records) > 0 {
		if first, end, ok := backToBack(records, data); ok {
			offsets := memory.NewResizableBuffer(c.mem)
			offsets.Resize(arrow.Int32Traits.BytesRequired(len(records) + 1))
			offs := arrow.Int32Traits.CastFromBytes(offsets.Bytes())
			pos := int32(0)
			for i, r := range records {
				offs[i] = pos
				pos += int32(len(r))
			}
			offs[len(records)] = pos
			values := memory.NewBufferBytes(data[first:end:end])
			d := array.NewData(arrow.BinaryTypes.String, len(records), []*memory.Buffer{nil, offsets, values}, nil, 0, 0)
			offsets.Release()
			defer d.Release()
			return array.NewStringData(d)
		}
	}
	sb := array.NewStringBuilder(c.mem)
	defer sb.Release()
	total := 0
	for _, i := range kept {
		total += len(records[i])
	}
	sb.Reserve(len(kept))
	sb.ReserveData(total)
	for _, i := range kept {
		sb.BinaryBuilder.Append(records[i])
	}
	return sb.NewArray()
}

// backToBack reports whether records follow each other without a gap inside data, and where
// they start and end in it. Only addresses are compared, so data may be any slice.
func backToBack(records []json.RawMessage, data []byte) (first, end int, ok bool) {
	if len(data) == 0 || len(records[0]) == 0 {
		return 0, 0, false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(data)))
	start := uintptr(unsafe.Pointer(unsafe.SliceData(records[0])))
	if start < base || start-base >= uintptr(len(data)) {
		return 0, 0, false
	}
	first = int(start - base)
	end = first
	for _, r := range records {
		if len(r) == 0 || uintptr(unsafe.Pointer(unsafe.SliceData(r))) != base+uintptr(end) || end+len(r) > len(data) {
			return 0, 0, false
		}
		end += len(r)
	}
	return first, end, true
}

func (c *Converter) rejectID() string {
	if c.f.id.k == valid && utf8.Valid(c.f.id.v) {
		return string(c.f.id.v)
	}
	return ""
}

// Reject reason codes: the part of Rejected.Reason before ": ".
const (
	ReasonTooLarge         = "too_large"
	ReasonInvalidUTF8      = "invalid_utf8"
	ReasonInvalidJSON      = "invalid_json"
	ReasonNotObject        = "not_object"
	ReasonMissingID        = "missing_id"
	ReasonBadID            = "bad_id"
	ReasonMissingTimestamp = "missing_timestamp"
	ReasonBadTimestamp     = "bad_timestamp"
)

// RejectReason documents one reject code for the data dictionary.
type RejectReason struct {
	Code string
	Doc  string
}

// RejectReasons lists every reject code, in the order the checks run.
var RejectReasons = []RejectReason{
	{ReasonTooLarge, "the record is larger than the size limit (16 MiB by default); an NDJSON line that long keeps only its first bytes in `raw`"},
	{ReasonInvalidUTF8, "the record is not valid UTF-8"},
	{ReasonInvalidJSON, "the record is not one valid JSON value (syntax error, truncation, trailing text, nesting deeper than 10000)"},
	{ReasonNotObject, "the record is valid JSON but not an object"},
	{ReasonMissingID, "`_id` is absent, null or empty"},
	{ReasonBadID, "`_id` is not a string"},
	{ReasonMissingTimestamp, "`timestamp` is absent or null"},
	{ReasonBadTimestamp, "`timestamp` is not an integer number of epoch milliseconds (as a number, a numeric string or an integral float) between years 0001 and 9999"},
}

// parse reads raw into c.f and returns "" or a reject reason.
func (c *Converter) parse(raw []byte) string {
	f := &c.f
	names := f.names[:0]
	*f = fields{names: names}
	if reason := checkBytes(raw, c.opts.MaxRecordBytes); reason != "" {
		return reason
	}
	s := &c.s
	s.reset(raw)
	if s.peek() != '{' {
		if err := s.skip(); err != nil {
			return ReasonInvalidJSON + ": " + err.Error()
		}
		if !s.atEnd() {
			return ReasonInvalidJSON + ": " + s.fail("trailing text").Error()
		}
		return ReasonNotObject + ": " + jsonTypeName(raw)
	}
	if err := c.record(); err != nil {
		return ReasonInvalidJSON + ": " + err.Error()
	}
	if !s.atEnd() {
		return ReasonInvalidJSON + ": " + s.fail("trailing text").Error()
	}
	switch f.id.k {
	case absent, null:
		return ReasonMissingID + ": no _id"
	case wrong:
		return ReasonBadID + ": _id is not a string"
	}
	if len(f.id.v) == 0 {
		return ReasonMissingID + ": empty _id"
	}
	switch f.ts.k {
	case absent, null:
		return ReasonMissingTimestamp + ": no timestamp"
	case wrong:
		return ReasonBadTimestamp + ": " + quoteDetail(f.tsBad)
	}
	return ""
}

// checkBytes is the first check of every record: its size, then its encoding.
func checkBytes(raw []byte, max int) string {
	if len(raw) > max {
		return fmt.Sprintf("%s: %d bytes, limit %d", ReasonTooLarge, len(raw), max)
	}
	if !utf8.Valid(raw) {
		return ReasonInvalidUTF8 + ": " + invalidUTF8Detail(raw)
	}
	return ""
}

func invalidUTF8Detail(raw []byte) string {
	for i := 0; i < len(raw); {
		r, n := utf8.DecodeRune(raw[i:])
		if r == utf8.RuneError && n <= 1 {
			return fmt.Sprintf("bad byte 0x%02x at byte %d", raw[i], i)
		}
		i += n
	}
	return "invalid"
}

func jsonTypeName(raw []byte) string {
	var s scanner
	s.reset(raw)
	switch s.peek() {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	case 0:
		return "empty"
	default:
		return "a number"
	}
}

// quoteDetail renders a short excerpt of a bad value for a reject reason.
func quoteDetail(b []byte) string {
	const max = 64
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "…"
	}
	return strconv.Quote(string(b))
}

// mark records a field's kind and counts it against col when it had the wrong type.
func (f *fields) mark(col int, k kind) kind {
	if k == wrong {
		f.typeErrsByField[col]++
	}
	return k
}

// record walks the top-level object, pulling the contract's paths and skipping everything else.
// Keys match with exact case (Level and level are different keys); a repeated key: last wins.
func (c *Converter) record() error {
	s, f := &c.s, &c.f
	if err := s.objStart(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, more, err := s.objNext(first)
		if err != nil || !more {
			return err
		}
		switch string(key) {
		case "_id":
			f.id.v, f.id.k, err = s.strVal()
		case "timestamp":
			start := s.i
			f.ts, err = c.timeVal()
			if f.ts.k == wrong {
				f.tsBad = s.b[start:s.i]
			}
		case "created":
			f.created, err = c.timeVal()
			f.mark(colCreated, f.created.k)
		case "appId":
			f.appID, err = c.intVal(math.MinInt32, math.MaxInt32)
			f.mark(colAppID, f.appID.k)
		case "saasId":
			f.saasID, err = c.intVal(math.MinInt32, math.MaxInt32)
			f.mark(colAppID, f.saasID.k)
		case "appName":
			err = c.str(colAppName, &f.appName)
		case "eventTypeName":
			err = c.str(colEventType, &f.eventType)
		case "eventTypeValue":
			err = c.str(colEventTypeValue, &f.eventTypeValue)
		case "description":
			err = c.str(colDescription, &f.description)
		case "user":
			err = c.object(c.user, colUserName)
		case "failedUserData":
			err = c.object(c.failedUser, colUserName)
		case "mainInfo":
			err = c.object(c.mainInfo, colAction, colSuccess, colObjects)
		case "device":
			err = c.object(c.device, colIP, colCountry, colUserAgent)
		case "location":
			err = c.object(c.location, colCountry, colCity, colLatitude, colLongitude, colISP, colAnonymousProxy, colIPCategory)
		case "userAgent":
			err = c.object(c.userAgentObj, colDeviceType)
		case "eventRouting":
			err = c.object(c.eventRouting, colAdmin)
		case "rawDataJson":
			// a repeated rawDataJson replaces the earlier one whole
			f.parameters, f.modified, f.awsRegion, f.logonType, f.mailboxOwner = strField{}, strField{}, strField{}, intField{}, strField{}
			err = c.object(c.rawDataJSON, colParameters, colModifiedProperties, colAWSRegion, colLogonType, colMailboxOwner)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// object reads a nested object member by member with member; a null or absent object yields NULL
// columns, any other type counts a type error against each column the object feeds.
func (c *Converter) object(member func(key []byte) error, cols ...int) error {
	s := &c.s
	switch s.peek() {
	case '{':
	case 'n':
		return s.lit("null")
	default:
		for _, col := range cols {
			c.f.typeErrsByField[col]++
		}
		return s.skip()
	}
	return s.members(member)
}

func (c *Converter) str(col int, dst *strField) (err error) {
	dst.v, dst.k, err = c.s.strVal()
	c.f.mark(col, dst.k)
	return err
}

func (c *Converter) boolean(col int, dst *boolField) (err error) {
	dst.v, dst.k, err = c.s.boolVal()
	c.f.mark(col, dst.k)
	return err
}

// timeVal reads epoch milliseconds given as an integer, a numeric string or an integral float.
func (c *Converter) timeVal() (intField, error) {
	txt, integer, k, err := c.s.numText()
	if k != valid {
		return intField{k: k}, err
	}
	v, ok := integral(txt, integer, minMillis, maxMillis)
	if !ok {
		return intField{k: wrong}, err
	}
	return intField{v: v, k: valid}, err
}

// intVal reads an integer given as a number (integral floats too) or a numeric string.
func (c *Converter) intVal(lo, hi int64) (intField, error) {
	txt, integer, k, err := c.s.numText()
	if k != valid {
		return intField{k: k}, err
	}
	v, ok := integral(txt, integer, lo, hi)
	if !ok {
		return intField{k: wrong}, err
	}
	return intField{v: v, k: valid}, err
}

// floatVal reads a finite number given as a number or a numeric string.
func (c *Converter) floatVal(col int, dst *floatField) error {
	txt, _, k, err := c.s.numText()
	if k == valid {
		v, perr := strconv.ParseFloat(bstr(txt), 64)
		if perr != nil || math.IsInf(v, 0) {
			k = wrong
		}
		dst.v = v
	}
	dst.k = c.f.mark(col, k)
	return err
}

func (c *Converter) user(key []byte) error {
	if string(key) == "userName" {
		return c.str(colUserName, &c.f.userName)
	}
	return c.s.skip()
}

func (c *Converter) failedUser(key []byte) error {
	if string(key) == "userName" {
		return c.str(colUserName, &c.f.failedUserName)
	}
	return c.s.skip()
}

func (c *Converter) userAgentObj(key []byte) error {
	if string(key) == "deviceType" {
		return c.str(colDeviceType, &c.f.deviceType)
	}
	return c.s.skip()
}

func (c *Converter) eventRouting(key []byte) error {
	if string(key) == "adminEvent" {
		return c.boolean(colAdmin, &c.f.admin)
	}
	return c.s.skip()
}

func (c *Converter) device(key []byte) error {
	f := &c.f
	switch string(key) {
	case "clientIP":
		return c.str(colIP, &f.ip)
	case "countryCode":
		return c.str(colCountry, &f.devCountry)
	case "userAgent":
		return c.str(colUserAgent, &f.userAgent)
	}
	return c.s.skip()
}

func (c *Converter) location(key []byte) (err error) {
	f := &c.f
	switch string(key) {
	case "countryCode":
		return c.str(colCountry, &f.locCountry)
	case "city":
		return c.str(colCity, &f.city)
	case "latitude":
		return c.floatVal(colLatitude, &f.latitude)
	case "longitude":
		return c.floatVal(colLongitude, &f.longitude)
	case "organizationSearchable":
		return c.str(colISP, &f.isp)
	case "anonymousProxy":
		return c.boolean(colAnonymousProxy, &f.anonymousProxy)
	case "category":
		f.category, err = c.intVal(math.MinInt64, math.MaxInt64)
		f.mark(colIPCategory, f.category.k)
		return err
	}
	return c.s.skip()
}

func (c *Converter) mainInfo(key []byte) error {
	f := &c.f
	switch string(key) {
	case "rawOperationName":
		return c.str(colAction, &f.action)
	case "activityResult":
		return c.object(c.activityResult, colSuccess)
	case "eventObjects":
		return c.eventObjects()
	}
	return c.s.skip()
}

// rawDataJSON reads the parts of rawDataJson that have a column: Parameters and
// ModifiedProperties (see jsonArray), awsRegion, LogonType and MailboxOwnerUPN.
func (c *Converter) rawDataJSON(key []byte) (err error) {
	f := &c.f
	switch string(key) {
	case "Parameters":
		f.parameters, err = c.jsonArray(colParameters)
	case "ModifiedProperties":
		f.modified, err = c.jsonArray(colModifiedProperties)
	case "awsRegion":
		err = c.str(colAWSRegion, &f.awsRegion)
	case "MailboxOwnerUPN":
		err = c.str(colMailboxOwner, &f.mailboxOwner)
	case "LogonType":
		f.logonType, err = c.intVal(math.MinInt32, math.MaxInt32)
		f.mark(colLogonType, f.logonType.k)
	default:
		err = c.s.skip()
	}
	return err
}

// jsonArray reads a value kept as JSON text: the array's text byte for byte (the scanner
// validates it while skipping it, so it costs no more than skipping), NULL when null, and NULL
// with a type error against col when it is not an array.
func (c *Converter) jsonArray(col int) (strField, error) {
	s, f := &c.s, &c.f
	switch s.peek() {
	case '[':
		start := s.i
		if err := s.skip(); err != nil {
			return strField{}, err
		}
		return strField{v: s.b[start:s.i], k: valid}, nil
	case 'n':
		return strField{k: null}, s.lit("null")
	default:
		return strField{k: f.mark(col, wrong)}, s.skip()
	}
}

func (c *Converter) activityResult(key []byte) error {
	if string(key) == "isSuccess" {
		return c.boolean(colSuccess, &c.f.success)
	}
	return c.s.skip()
}

// eventObjects reads mainInfo.eventObjects into the list of their names. Elements that are null
// or have no name are left out; an element or name of the wrong type counts a type error.
func (c *Converter) eventObjects() error {
	s, f := &c.s, &c.f
	switch s.peek() {
	case '[':
	case 'n':
		f.objects = null
		f.names = f.names[:0]
		return s.lit("null")
	default:
		f.objects = f.mark(colObjects, wrong)
		f.names = f.names[:0]
		return s.skip()
	}
	f.objects = valid
	f.names = f.names[:0]
	if err := s.arrStart(); err != nil {
		return err
	}
	for first := true; ; first = false {
		more, err := s.arrNext(first)
		if err != nil || !more {
			return err
		}
		switch s.peek() {
		case '{':
			err = c.object(c.eventObject)
		case 'n':
			err = s.lit("null")
		default:
			f.mark(colObjects, wrong)
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (c *Converter) eventObject(key []byte) error {
	if string(key) != "name" {
		return c.s.skip()
	}
	v, k, err := c.s.strVal()
	if c.f.mark(colObjects, k) == valid {
		c.f.names = append(c.f.names, v)
	}
	return err
}

func appendStr(b *array.StringBuilder, f strField) {
	if f.k == valid {
		b.BinaryBuilder.Append(f.v)
	} else {
		b.AppendNull()
	}
}

func appendBool(b *array.BooleanBuilder, f boolField) {
	if f.k == valid {
		b.UnsafeAppend(f.v)
	} else {
		b.UnsafeAppendBoolToBitmap(false)
	}
}

func appendFloat(b *array.Float64Builder, f floatField) {
	if f.k == valid {
		b.UnsafeAppend(f.v)
	} else {
		b.UnsafeAppendBoolToBitmap(false)
	}
}

// orElse returns the first usable field: the contract's source, else its fallback.
func orElse(a, b strField) strField {
	if a.k == valid {
		return a
	}
	return b
}

// appendRow appends the parsed record c.f as one row, raw excepted (rawColumn builds it for
// the whole batch). Fixed-width builders were reserved for the whole batch, so their unsafe
// appends stay in bounds.
func (c *Converter) appendRow(b *builders) {
	f := &c.f
	b.str[colID].BinaryBuilder.Append(f.id.v)
	b.ts.UnsafeAppend(arrow.Timestamp(f.ts.v))
	if f.created.k == valid {
		b.created.UnsafeAppend(arrow.Timestamp(f.created.v))
	} else {
		b.created.UnsafeAppendBoolToBitmap(false)
	}
	b.day.UnsafeAppend(arrow.Date32(floorDiv(f.ts.v, msPerDay)))
	switch {
	case f.appID.k == valid:
		b.appID.UnsafeAppend(int32(f.appID.v))
	case f.saasID.k == valid:
		b.appID.UnsafeAppend(int32(f.saasID.v))
	default:
		b.appID.UnsafeAppendBoolToBitmap(false)
	}
	appendStr(b.str[colAppName], f.appName)
	appendStr(b.str[colUserName], orElse(f.userName, f.failedUserName))
	appendStr(b.str[colEventType], f.eventType)
	appendStr(b.str[colEventTypeValue], f.eventTypeValue)
	appendStr(b.str[colAction], f.action)
	appendBool(b.success, f.success)
	appendStr(b.str[colDescription], f.description)
	appendStr(b.str[colIP], f.ip)
	appendStr(b.str[colCountry], orElse(f.locCountry, f.devCountry))
	appendStr(b.str[colCity], f.city)
	appendFloat(b.lat, f.latitude)
	appendFloat(b.lon, f.longitude)
	appendStr(b.str[colISP], f.isp)
	appendBool(b.anon, f.anonymousProxy)
	appendCategory(b.str[colIPCategory], f.category)
	appendStr(b.str[colUserAgent], f.userAgent)
	appendStr(b.str[colDeviceType], f.deviceType)
	appendBool(b.admin, f.admin)
	if f.objects == valid {
		b.objects.Append(true)
		for _, n := range f.names {
			b.names.BinaryBuilder.Append(n)
		}
	} else {
		b.objects.AppendNull()
	}
	b.str[colRaw].AppendEmptyValue() // replaced by rawColumn
	appendStr(b.str[colParameters], f.parameters)
	b.str[colTenant].Append(c.opts.Tenant)
	appendStr(b.str[colModifiedProperties], f.modified)
	appendStr(b.str[colAWSRegion], f.awsRegion)
	if f.logonType.k == valid {
		b.logon.UnsafeAppend(int32(f.logonType.v))
	} else {
		b.logon.UnsafeAppendBoolToBitmap(false)
	}
	appendStr(b.str[colMailboxOwner], f.mailboxOwner)
}

// categoryText holds the stored names indexed by location.category.
var categoryText = func() (t [7][]byte) {
	for k, v := range IPCategoryNames {
		t[k] = []byte(v)
	}
	return t
}()

// appendCategory stores the name of location.category. 0 (NONE) is NULL; a number without a
// name is stored as its decimal text so nothing is silently lost.
func appendCategory(b *array.StringBuilder, f intField) {
	switch {
	case f.k != valid || f.v == 0:
		b.AppendNull()
	case f.v > 0 && f.v < int64(len(categoryText)) && categoryText[f.v] != nil:
		b.BinaryBuilder.Append(categoryText[f.v])
	default:
		b.Append(strconv.FormatInt(f.v, 10))
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
