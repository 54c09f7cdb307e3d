package loader

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/mcasload/mcasload/schema"
)

// Input is one thing `load` reads: a file path, or "-" for Reader (stdin).
type Input struct {
	Name   string    // path, or "-" for standard input
	Reader io.Reader // used when Name is "-"
}

// LoadOptions configure Load.
type LoadOptions struct {
	Pipeline Options
	// ChunkRows is how many records go to a conversion worker at once; default 5000 (one API page).
	ChunkRows int
	// ChunkBytes ends a chunk once its records hold this many bytes; default DefaultChunkBytes
	// (at most a quarter of the pipeline's BatchBytes). Small chunks keep the queue's memory
	// small: 2 × workers chunks wait for conversion or commit.
	ChunkBytes int
	// MaxRecordBytes is the largest record read into memory; a longer line is rejected with its
	// first MaxRecordBytes bytes kept. Default schema.DefaultMaxRecordBytes.
	MaxRecordBytes int
	// OnFile is called when a file starts (for logging); may be nil.
	OnFile func(name string, format Format)
}

// Format is the shape of an input file, detected from its first bytes.
type Format string

// The input formats Load recognises.
const (
	FormatNDJSON Format = "ndjson"    // one record per line
	FormatPages  Format = "api-pages" // saved API responses {"data":[…]} (one or more)
)

// Load reads inputs in order through a pipeline into c and returns the run's Summary. When ctx is
// cancelled (SIGINT, SIGTERM) it stops reading, commits every record already read, and returns
// the summary with Stopped set and ctx's error.
func Load(ctx context.Context, c Committer, inputs []Input, opts LoadOptions, progress func(*Pipeline)) (*Summary, error) {
	if opts.ChunkRows <= 0 {
		opts.ChunkRows = DefaultChunkRows
		// A chunk larger than a commit would make every commit bigger than asked.
		if b := opts.Pipeline.BatchRows; b > 0 && b < opts.ChunkRows {
			opts.ChunkRows = b
		}
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = DefaultChunkBytes
		if b := opts.Pipeline.BatchBytes; b > 0 && b/4 < int64(opts.ChunkBytes) {
			opts.ChunkBytes = int(max(b/4, 64<<10))
		}
	}
	if opts.MaxRecordBytes <= 0 {
		opts.MaxRecordBytes = schema.DefaultMaxRecordBytes
	}
	if opts.Pipeline.Schema.MaxRecordBytes <= 0 {
		opts.Pipeline.Schema.MaxRecordBytes = opts.MaxRecordBytes
	}
	if opts.Pipeline.Command == "" {
		opts.Pipeline.Command = "load"
	}
	p := Start(c, opts.Pipeline)
	if progress != nil {
		progress(p)
	}
	// Inputs are read on their own goroutine so a signal is honoured even while a read blocks
	// (stdin from a quiet pipe): the pipeline then commits what it was given and the blocked
	// reader is abandoned. Records it had buffered but not handed over are simply read again
	// by the next run; loading is idempotent.
	readDone := make(chan error, 1)
	go func() {
		for _, in := range inputs {
			if err := ctx.Err(); err != nil {
				readDone <- err
				return
			}
			if err := loadInput(ctx, p, in, opts); err != nil {
				readDone <- err
				return
			}
			p.Update(func(s *Summary) { s.Files++ })
		}
		readDone <- nil
	}()
	var readErr error
	select {
	case readErr = <-readDone:
	case <-ctx.Done():
		select {
		case readErr = <-readDone: // the input ended as the signal came: it is all handed over
		default:
			readErr = ctx.Err()
		}
	}
	sum, err := p.Close(ctx)
	// Stopped means the input was not read to its end because of the signal; a signal that
	// arrives once everything was handed over changes nothing.
	stopped := readErr != nil && ctx.Err() != nil && errors.Is(readErr, ctx.Err())
	if sum != nil {
		sum.Stopped = stopped
	}
	switch {
	case err != nil:
		return sum, err
	case stopped:
		return sum, ctx.Err()
	case readErr != nil:
		sum.Error = readErr.Error()
		return sum, readErr
	}
	return sum, nil
}

// loadInput reads one input into p.
func loadInput(ctx context.Context, p *Pipeline, in Input, opts LoadOptions) error {
	var r io.Reader
	name := in.Name
	if name == "-" {
		if in.Reader == nil {
			return errors.New("read stdin: no standard input")
		}
		r = in.Reader
		name = "stdin"
	} else {
		f, err := os.Open(in.Name)
		if err != nil {
			return fmt.Errorf("open input: %w", err)
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 1<<20)
	// gzip is detected by its magic number so `load x.ndjson.gz` and `zcat | load -` both work.
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		defer zr.Close()
		br = bufio.NewReaderSize(zr, 1<<20)
	}
	format, looks, err := sniffReader(br)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	if looks != "" {
		return &NotJSONError{Name: name, Looks: looks}
	}
	// A byte order mark (editors on Windows add one) is not part of the first record.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte("\xef\xbb\xbf")) {
		br.Discard(3)
	}
	if opts.OnFile != nil {
		opts.OnFile(name, format)
	}
	if format == FormatNDJSON {
		err = readNDJSON(ctx, p, br, opts)
	} else {
		err = readJSONStream(ctx, p, br, opts)
	}
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return err
}

// DetectFormat looks at the first bytes of br without consuming them (gzip undone on a copy)
// and returns the input's format: FormatNDJSON, FormatPages, FormatArray or FormatJSON; an
// input that is not JSON (Sniff) counts as NDJSON here, whose reader rejects it line by line.
// It peeks only as far as it must, so a slow pipe is not waited on for more than the first
// record, and at most 64 KiB (or br's buffer size, if smaller) are examined.
func DetectFormat(br *bufio.Reader) Format {
	f, looks, err := sniffReader(br)
	if err != nil || looks != "" {
		return FormatNDJSON
	}
	return f
}

// detectHead decides the format from the first bytes of an input, or reports that it cannot
// tell yet because head ends too early.
func detectHead(head []byte) (f Format, decided bool) {
	head = bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	head = bytes.TrimLeft(head, " \t\r\n")
	if len(head) == 0 {
		return FormatNDJSON, false
	}
	switch head[0] {
	case '[':
		return FormatPages, true
	case '{':
	default:
		return FormatNDJSON, true
	}
	dec := json.NewDecoder(bytes.NewReader(head))
	if _, err := dec.Token(); err != nil { // '{'
		return FormatNDJSON, true
	}
	for {
		k, err := dec.Token()
		if err != nil {
			return FormatNDJSON, !truncated(err)
		}
		key, ok := k.(string)
		if !ok { // '}': an object without "data"
			return FormatNDJSON, true
		}
		switch key {
		case "_id":
			return FormatNDJSON, true
		case "data":
			t, err := dec.Token()
			if err != nil {
				return FormatNDJSON, !truncated(err)
			}
			if d, ok := t.(json.Delim); ok && d == '[' {
				return FormatPages, true
			}
			return FormatNDJSON, true
		}
		if err := skipValue(dec); err != nil {
			return FormatNDJSON, !truncated(err)
		}
	}
}

// truncated reports a decoding error caused by the end of the peeked bytes, not by bad JSON.
func truncated(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// skipValue consumes one JSON value from dec.
func skipValue(dec *json.Decoder) error {
	depth := 0
	for {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); ok {
			switch d {
			case '{', '[':
				depth++
			default:
				depth--
			}
		}
		if depth == 0 {
			return nil
		}
	}
}

// readNDJSON reads one record per line through schema's NDJSON reader, which keeps line numbers
// for rejects and refuses lines over the size limit without holding them whole.
func readNDJSON(ctx context.Context, p *Pipeline, br *bufio.Reader, opts LoadOptions) error {
	nr := schema.NewNDJSONReader(br, schema.NDJSONOptions{ChunkRecords: opts.ChunkRows, ChunkBytes: opts.ChunkBytes, MaxRecordBytes: opts.MaxRecordBytes})
	for {
		ch, err := nr.Next()
		if ch != nil {
			if aerr := p.Add(ctx, Chunk{Records: ch.Records, Data: ch.Data, Lines: ch.Lines, Rejected: ch.Rejected}); aerr != nil {
				return aerr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
