package loader

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/mcasload/mcasload/schema"
)

// jsonReader splits JSON that is not one record per line into records, reading byte by byte
// and never holding more than one record (at most MaxRecordBytes of it): arrays of records,
// objects one after another (pretty-printed or on one line), and saved API pages
// ({"data":[…], …}), whose records are read out of "data" as they come, so a page or an array
// of any size streams. Records are split by their brackets and strings only; Convert judges
// what is inside; a pretty-printed record is stored compact. A record cut short (the input ends, or a line starts a new top-level object
// while it is open) or text between records is rejected with its line, and reading goes on.
type jsonReader struct {
	br   *bufio.Reader
	line int // the line of the next byte, 1-based
	max  int // MaxRecordBytes
	// bol: the last byte read ended a line, so the next one starts a line.
	bol bool

	ch    Chunk
	size  int // bytes of records in ch
	flush func(Chunk) error
	opts  LoadOptions
}

// errCut ends a value whose input ended, or whose line was followed by one that starts a new
// top-level object ('{' first on the line), before it closed.
var errCut = errors.New("cut")

// jsonRecord is one value being read: its first max bytes and its full length.
type jsonRecord struct {
	buf   []byte
	total int
	line  int // where it starts
}

func (r *jsonRecord) add(max int, b ...byte) {
	r.total += len(b)
	if room := max - len(r.buf); room > 0 {
		r.buf = append(r.buf, b[:min(room, len(b))]...)
	}
}

// readJSONStream reads one input of FormatArray, FormatJSON or FormatPages into p.
func readJSONStream(ctx context.Context, p *Pipeline, br *bufio.Reader, opts LoadOptions) error {
	s := &jsonReader{br: br, line: 1, max: opts.MaxRecordBytes, opts: opts, bol: true}
	s.flush = func(ch Chunk) error { return p.Add(ctx, ch) }
	return s.run(ctx)
}

func (s *jsonReader) run(ctx context.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		c, err := s.next()
		if err == io.EOF {
			return s.send()
		}
		if err != nil {
			return err
		}
		switch c {
		case '[':
			err = s.array(s.line)
		case '{':
			err = s.object()
		default:
			err = s.garbage(c, "text between records")
		}
		if err != nil {
			return err
		}
	}
}

// readByte reads one byte, counting lines.
func (s *jsonReader) readByte() (byte, error) {
	c, err := s.br.ReadByte()
	if err != nil {
		return 0, err
	}
	s.bol = c == '\n'
	if s.bol {
		s.line++
	}
	return c, nil
}

// newTopLevel reports whether the next byte starts a line with '{': a new top-level object
// (every pretty-printer indents nested values), so whatever is open was cut.
func (s *jsonReader) newTopLevel() bool {
	if !s.bol {
		return false
	}
	b, err := s.br.Peek(1)
	return err == nil && b[0] == '{'
}

func space(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' }

// next skips white space and returns the next byte.
func (s *jsonReader) next() (byte, error) {
	for {
		c, err := s.readByte()
		if err != nil || !space(c) {
			return c, err
		}
	}
}

// array reads the elements of an array whose '[' was read, each a record.
func (s *jsonReader) array(start int) error {
	ended := func(err error) error {
		if err == io.EOF {
			return s.reject(&jsonRecord{line: start}, schema.ReasonInvalidJSON, fmt.Sprintf("the input ends inside the array that starts on line %d", start))
		}
		return err
	}
	c, err := s.next()
	if err != nil || c == ']' {
		return ended(err)
	}
	for {
		if c == ',' || c == ']' { // an empty element: [1,,2] or [1,]
			return s.garbage(c, "an empty element in an array")
		}
		r := &jsonRecord{line: s.line}
		if err := s.value(r, c); err != nil {
			return s.cut(r, err)
		}
		if err := s.emit(r); err != nil {
			return err
		}
		if s.newTopLevel() {
			return s.reject(&jsonRecord{line: start}, schema.ReasonInvalidJSON, fmt.Sprintf("the array that starts on line %d is not closed before line %d", start, s.line))
		}
		if c, err = s.next(); err != nil {
			return ended(err)
		}
		switch c {
		case ']':
			return nil
		case ',':
			if c, err = s.next(); err != nil {
				return ended(err)
			}
		default:
			return s.garbage(c, "text between the elements of an array")
		}
	}
}

// object reads a top-level object whose '{' was read: a saved page when a "data" array comes
// before any "_id" (its records are read out of it and the rest of the page is skipped), else
// one record.
func (s *jsonReader) object() error {
	r := &jsonRecord{line: s.line}
	r.add(s.max, '{')
	for first := true; ; first = false {
		c, err := s.next()
		if err != nil {
			return s.cut(r, err)
		}
		if c == '}' {
			r.add(s.max, c)
			return s.emit(r)
		}
		if !first {
			if c != ',' {
				return s.finish(r, c)
			}
			r.add(s.max, c)
			if c, err = s.next(); err != nil {
				return s.cut(r, err)
			}
		}
		if c != '"' {
			return s.finish(r, c)
		}
		key := &jsonRecord{}
		if err := s.str(key); err != nil {
			r.add(s.max, key.buf...)
			return s.cut(r, err)
		}
		r.add(s.max, key.buf...)
		if c, err = s.next(); err != nil {
			return s.cut(r, err)
		}
		if c != ':' {
			return s.finish(r, c)
		}
		r.add(s.max, c)
		v, err := s.next()
		if err != nil {
			return s.cut(r, err)
		}
		switch string(key.buf) {
		case `"data"`:
			if v == '[' {
				if err := s.array(s.line); err != nil {
					return err
				}
				return s.skipRest(r.line)
			}
		case `"_id"`:
			return s.finish(r, v) // a record: read the rest of it whole
		}
		if err := s.value(r, v); err != nil {
			return s.cut(r, err)
		}
	}
}

// finish reads the rest of the object r (from the byte c on) as one record by its brackets,
// and emits it.
func (s *jsonReader) finish(r *jsonRecord, c byte) error {
	if err := s.balanced(r, c, 1); err != nil {
		return s.cut(r, err)
	}
	return s.emit(r)
}

// skipRest skips what follows a page's "data" array up to the page's closing '}'.
func (s *jsonReader) skipRest(start int) error {
	r := &jsonRecord{}
	c, err := s.next()
	if err == nil {
		err = s.balanced(r, c, 1)
	}
	if err != nil {
		return s.reject(&jsonRecord{line: start, buf: r.buf, total: r.total}, schema.ReasonInvalidJSON, fmt.Sprintf("the page that starts on line %d is not closed", start))
	}
	return nil
}

// value reads one value whose first byte is c into r.
func (s *jsonReader) value(r *jsonRecord, c byte) error {
	switch c {
	case '{', '[':
		return s.balanced(r, c, 0)
	case '"':
		return s.str(r)
	}
	// A scalar: up to the next delimiter, which is left for the caller.
	r.add(s.max, c)
	for {
		b, err := s.br.Peek(1)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if space(b[0]) || b[0] == ',' || b[0] == ']' || b[0] == '}' {
			return nil
		}
		c, _ = s.readByte()
		r.add(s.max, c)
	}
}

// balanced reads into r from the byte c on until the brackets opened (depth of them before c)
// close, outside strings.
func (s *jsonReader) balanced(r *jsonRecord, c byte, depth int) error {
	for {
		switch c {
		case '"':
			if err := s.str(r); err != nil {
				return err
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		}
		if c != '"' {
			r.add(s.max, c)
		}
		if depth <= 0 {
			return nil
		}
		if s.newTopLevel() {
			return errCut
		}
		var err error
		if c, err = s.readByte(); err != nil {
			return err
		}
	}
}

// str reads a string whose '"' is c into r, with both quotes. A raw line break cannot be in a
// JSON string: it ends the string's record as cut.
func (s *jsonReader) str(r *jsonRecord) error {
	r.add(s.max, '"')
	escaped := false
	for {
		c, err := s.readByte()
		if err != nil {
			return err
		}
		if c == '\n' {
			return errCut
		}
		r.add(s.max, c)
		switch {
		case escaped:
			escaped = false
		case c == '\\':
			escaped = true
		case c == '"':
			return nil
		}
	}
}

// garbage rejects the text from c up to the next line that starts a top-level object or array
// (or the end), and goes on from there.
func (s *jsonReader) garbage(c byte, what string) error {
	r := &jsonRecord{line: s.line}
	r.add(s.max, c)
	for {
		if s.bol {
			if b, err := s.br.Peek(1); err == nil && (b[0] == '{' || b[0] == '[') {
				break
			}
		}
		c, err := s.readByte()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		r.add(s.max, c)
	}
	return s.reject(r, schema.ReasonInvalidJSON, fmt.Sprintf("line %d: %s", r.line, what))
}

// cut rejects r, a value that did not close: err is errCut or the input's end; any other
// error (a failed read) is returned.
func (s *jsonReader) cut(r *jsonRecord, err error) error {
	if err != io.EOF && err != errCut {
		return err
	}
	return s.reject(r, schema.ReasonInvalidJSON, fmt.Sprintf("line %d: the value that starts here is cut short before line %d", r.line, s.line))
}

// emit adds a complete record to the chunk (a reject when it is over the size limit).
func (s *jsonReader) emit(r *jsonRecord) error {
	if r.total > s.max {
		return s.reject(r, schema.ReasonTooLarge, fmt.Sprintf("the record on line %d is %d bytes, limit %d; raw keeps the first %d", r.line, r.total, s.max, len(r.buf)))
	}
	raw := r.buf
	if bytes.IndexByte(raw, '\n') >= 0 {
		// Pretty-printed: stored compact, as the API sends it, so the same record loaded from
		// NDJSON or a page has the same raw. Invalid JSON stays as it came, for its reject.
		var c bytes.Buffer
		if json.Compact(&c, raw) == nil {
			raw = c.Bytes()
		}
	}
	s.ch.Records = append(s.ch.Records, json.RawMessage(raw))
	s.ch.Lines = append(s.ch.Lines, r.line)
	s.size += len(r.buf)
	return s.maybeSend()
}

// reject keeps r aside with reason (a schema reject code) and a detail.
func (s *jsonReader) reject(r *jsonRecord, reason, detail string) error {
	raw := r.buf
	if raw == nil {
		raw = []byte{}
	}
	s.ch.Rejected = append(s.ch.Rejected, schema.Rejected{Raw: raw, Reason: reason + ": " + detail, Index: -1, Line: r.line})
	s.size += len(raw)
	return s.maybeSend()
}

func (s *jsonReader) maybeSend() error {
	if len(s.ch.Records)+len(s.ch.Rejected) < s.opts.ChunkRows && s.size < s.opts.ChunkBytes {
		return nil
	}
	return s.send()
}

// send hands the chunk read so far to the pipeline.
func (s *jsonReader) send() error {
	if len(s.ch.Records) == 0 && len(s.ch.Rejected) == 0 {
		return nil
	}
	ch := s.ch
	s.ch, s.size = Chunk{}, 0
	return s.flush(ch)
}
