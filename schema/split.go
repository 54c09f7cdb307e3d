package schema

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// ErrNoData is returned by SplitPage for an object without a "data" array.
var ErrNoData = errors.New(`split page: no "data" array in the page`)

// SplitPage splits a saved API page into its records: either the envelope {"data":[…], …} or a
// bare JSON array. The records are sub-slices of body (not copies). Elements are split by their
// brackets and strings only, without validating their insides: a record with a syntax error,
// invalid UTF-8 or the wrong shape is passed on so that Convert rejects it with its raw text
// while the rest of the page loads. A page whose structure is broken (truncated, unbalanced,
// text between elements) is an error, because its record boundaries cannot be trusted.
func SplitPage(body []byte) ([]json.RawMessage, error) {
	var s scanner
	s.reset(body)
	var recs []json.RawMessage
	var err error
	switch s.peek() {
	case '[':
		recs, err = splitArray(&s)
	case '{':
		recs, err = splitEnvelope(&s)
	default:
		return nil, fmt.Errorf("split page: expected a JSON object or array, found %s", jsonTypeName(body))
	}
	if err != nil {
		if errors.Is(err, ErrNoData) {
			return nil, err
		}
		return nil, fmt.Errorf("split page: invalid JSON: %w", err)
	}
	if !s.atEnd() {
		return nil, fmt.Errorf("split page: invalid JSON: %w", s.fail("trailing text"))
	}
	return recs, nil
}

func splitEnvelope(s *scanner) ([]json.RawMessage, error) {
	if err := s.objStart(); err != nil {
		return nil, err
	}
	var recs []json.RawMessage
	found := false
	for first := true; ; first = false {
		key, more, err := s.objNext(first)
		if err != nil {
			return nil, err
		}
		if !more {
			break
		}
		if string(key) == "data" && s.peek() == '[' {
			if recs, err = splitArray(s); err != nil {
				return nil, err
			}
			found = true
			continue
		}
		if err := s.skip(); err != nil {
			return nil, err
		}
	}
	if !found {
		return nil, ErrNoData
	}
	if recs == nil {
		recs = []json.RawMessage{}
	}
	return recs, nil
}

func splitArray(s *scanner) ([]json.RawMessage, error) {
	if err := s.arrStart(); err != nil {
		return nil, err
	}
	recs := []json.RawMessage{}
	for first := true; ; first = false {
		more, err := s.arrNext(first)
		if err != nil {
			return nil, err
		}
		if !more {
			return recs, nil
		}
		start := s.i
		if err := s.skipElement(); err != nil {
			return nil, err
		}
		recs = append(recs, json.RawMessage(s.b[start:s.i:s.i]))
	}
}

// skipElement skips one array element by structure: an object or array ends at the bracket
// that balances its first one, outside strings. Scalars are skipped exactly. Convert validates
// what is inside, so this pass stays a fast byte loop.
func (s *scanner) skipElement() error {
	if c := s.peek(); c != '{' && c != '[' {
		return s.skip()
	}
	depth := 0
	b := s.b
	for s.i < len(b) {
		switch b[s.i] {
		case '"':
			if _, _, _, err := s.str(); err != nil {
				return err
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				return nil
			}
		}
		s.i++
	}
	return s.fail("unterminated element")
}

// NDJSONOptions tune an NDJSONReader.
type NDJSONOptions struct {
	// ChunkRecords is the most records per chunk (0: 5000, the API's page size).
	ChunkRecords int
	// ChunkBytes ends a chunk once its records hold this many bytes (0: 8 MiB).
	ChunkBytes int
	// MaxRecordBytes is the longest line kept whole (0: DefaultMaxRecordBytes). A longer line is
	// rejected as too_large by the reader with only its first MaxRecordBytes bytes as Raw, so
	// memory stays bounded whatever the input.
	MaxRecordBytes int
}

// Chunk is a run of NDJSON records and where they came from.
type Chunk struct {
	Records []json.RawMessage // one per non-blank line, without the line ending
	// Data, when set, holds the records back to back (they are sub-slices of it): ConvertChunk
	// then makes it the raw column's buffer instead of copying the records, so the batch
	// shares Data's memory and Data must not change while the batch is in use.
	Data  []byte
	Lines []int // Lines[i] is the 1-based line number of Records[i]
	// Rejected are lines the reader itself refused (too long to hold); Convert judges the rest.
	Rejected []Rejected
}

// NDJSONReader reads newline-delimited JSON in chunks. It never fails on a bad line: it passes
// every line on (blank lines are skipped) and Convert, through ConvertChunk, rejects the bad ones
// with their line numbers.
type NDJSONReader struct {
	r    *bufio.Reader
	opts NDJSONOptions
	line int
	err  error
}

// NewNDJSONReader returns a reader over r.
func NewNDJSONReader(r io.Reader, opts NDJSONOptions) *NDJSONReader {
	if opts.ChunkRecords <= 0 {
		opts.ChunkRecords = 5000
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 8 << 20
	}
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = DefaultMaxRecordBytes
	}
	return &NDJSONReader{r: bufio.NewReaderSize(r, 1<<20), opts: opts}
}

// Next returns the next chunk, or io.EOF after the last one. Each chunk owns its bytes, so it
// stays valid after later calls. A read error is returned after the records read before it.
func (n *NDJSONReader) Next() (*Chunk, error) {
	if n.err != nil {
		return nil, n.err
	}
	ch := &Chunk{}
	arena := make([]byte, 0, min(n.opts.ChunkBytes+n.opts.ChunkBytes/4, 64<<20))
	for len(ch.Records) < n.opts.ChunkRecords && len(arena) < n.opts.ChunkBytes {
		start := len(arena)
		var total int
		var err error
		arena, total, err = n.readLine(arena)
		if total > 0 || err == nil {
			n.line++
		}
		line := arena[start:]
		if total > n.opts.MaxRecordBytes {
			ch.Rejected = append(ch.Rejected, Rejected{
				Raw:    append([]byte(nil), line...),
				Reason: fmt.Sprintf("%s: line %d is %d bytes, limit %d; raw keeps the first %d", ReasonTooLarge, n.line, total, n.opts.MaxRecordBytes, len(line)),
				Index:  -1,
				Line:   n.line,
			})
			arena = arena[:start]
		} else if len(bytes.TrimSpace(line)) == 0 {
			arena = arena[:start]
		} else {
			ch.Records = append(ch.Records, json.RawMessage(arena[start:len(arena):len(arena)]))
			ch.Lines = append(ch.Lines, n.line)
		}
		if err != nil {
			if err != io.EOF {
				err = fmt.Errorf("read ndjson line %d: %w", n.line+1, err)
			}
			n.err = err
			break
		}
	}
	if len(ch.Records) == 0 && len(ch.Rejected) == 0 {
		return nil, n.err
	}
	ch.Data = arena
	return ch, nil
}

// readLine appends one line (without "\n" or "\r\n") to dst, keeping at most MaxRecordBytes of it,
// and returns the line's full length without its line ending.
func (n *NDJSONReader) readLine(dst []byte) ([]byte, int, error) {
	start := len(dst)
	total := 0
	var last byte // the byte before the current fragment, to see a "\r" split from its "\n"
	for {
		frag, err := n.r.ReadSlice('\n')
		ending := 0
		if len(frag) > 0 && frag[len(frag)-1] == '\n' {
			ending = 1
			if len(frag) > 1 && frag[len(frag)-2] == '\r' || len(frag) == 1 && last == '\r' {
				ending = 2
			}
		}
		if len(frag) > 0 {
			last = frag[len(frag)-1]
		}
		total += len(frag) - ending
		kept := len(dst) - start
		if ending == 2 && len(frag) == 1 && kept == total+1 {
			dst = dst[:len(dst)-1] // the "\r" arrived with the previous fragment
			kept--
		}
		if room := n.opts.MaxRecordBytes - kept; room > 0 {
			body := frag[:max(len(frag)-ending, 0)]
			dst = append(dst, body[:min(room, len(body))]...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		return dst, total, err
	}
}

// ConvertChunk converts an NDJSON chunk: the batch's rejects carry line numbers and include the
// lines the reader refused, in line order.
func (c *Converter) ConvertChunk(ch *Chunk) (*Batch, error) {
	return convertChunk(func(records []json.RawMessage) (*Batch, error) { return c.convert(records, ch.Data) }, ch)
}

// convertChunk converts a chunk's records with convert and completes the rejects.
func convertChunk(convert func([]json.RawMessage) (*Batch, error), ch *Chunk) (*Batch, error) {
	b, err := convert(ch.Records)
	if err != nil {
		return nil, err
	}
	b.addChunkRejects(ch)
	return b, nil
}

// addChunkRejects gives the batch's rejects their line numbers and merges in the lines the
// reader refused, in line order.
func (b *Batch) addChunkRejects(ch *Chunk) {
	for i := range b.Rejected {
		b.Rejected[i].Line = ch.Lines[b.Rejected[i].Index]
	}
	if len(ch.Rejected) == 0 {
		return
	}
	all := make([]Rejected, 0, len(b.Rejected)+len(ch.Rejected))
	i, j := 0, 0
	for i < len(b.Rejected) || j < len(ch.Rejected) {
		if j == len(ch.Rejected) || i < len(b.Rejected) && b.Rejected[i].Line < ch.Rejected[j].Line {
			all = append(all, b.Rejected[i])
			i++
		} else {
			all = append(all, ch.Rejected[j])
			j++
		}
	}
	b.Rejected = all
}
