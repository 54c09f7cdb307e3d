package loader

import (
	"bufio"
	"bytes"
	"compress/flate"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

// The shapes of JSON input Load reads besides NDJSON; all of them go through the streaming
// reader (readJSONStream), which splits records out of them without holding more than one record.
const (
	// FormatArray is a JSON array of records ([{…},{…}]), compact or pretty-printed.
	FormatArray Format = "json-array"
	// FormatJSON is JSON objects one after another: pretty-printed (jq . output), or several on
	// one line ({…}{…}); objects that are saved pages ({"data":[…]}) are split into their records.
	FormatJSON Format = "json"
)

// ErrNotJSON marks an input that holds no JSON records at all (NotJSONError says what it looks like).
var ErrNotJSON = errors.New("not JSON")

// NotJSONError is an input refused before anything was loaded: it is not JSON, and Looks says
// what it looks like (CSV, HTML, a Parquet file, binary data, …).
type NotJSONError struct {
	Name  string
	Looks string
}

func (e *NotJSONError) Error() string {
	return fmt.Sprintf("%s is not JSON: it looks like %s", e.Name, e.Looks)
}

func (e *NotJSONError) Unwrap() error { return ErrNotJSON }

// sniffMost is how much of an input (after gzip) the sniffer looks at; sniffLines how many
// lines that do not start a JSON value it reads before calling the input something else.
const (
	sniffMost  = 64 << 10
	sniffLines = 20
)

// magics are the formats people hand a JSON loader by mistake, by their first bytes.
var magics = []struct {
	prefix string
	looks  string
}{
	{"PAR1", "a Parquet file (read it with mcasload sql --parquet, or load the NDJSON it came from)"},
	{"PK\x03\x04", "a ZIP archive or an Office document (unzip it, or save the sheet as JSON)"},
	{"%PDF", "a PDF document"},
	{"\x28\xb5\x2f\xfd", "zstd-compressed data (decompress it with zstd -d, or pipe: zstd -dc FILE | mcasload load -)"},
	{"BZh", "bzip2-compressed data (pipe it: bzip2 -dc FILE | mcasload load -)"},
	{"\xfd7zXZ\x00", "xz-compressed data (pipe it: xz -dc FILE | mcasload load -)"},
	{"SQLite format 3\x00", "an SQLite database"},
	{"\x89PNG", "a PNG image"},
	{"\xff\xd8\xff", "a JPEG image"},
	{"\xff\xfe", "UTF-16 text (save it as UTF-8)"},
	{"\xfe\xff", "UTF-16 text (save it as UTF-8)"},
}

// Sniff decides from the first bytes of an input (gzip already undone) which format it holds,
// or what it looks like when it is not JSON. complete says head is the whole input; decided is
// false when head ends before the answer (give it more bytes). An input is JSON when one of its
// first non-blank lines starts a JSON object or array; an empty input is NDJSON with no records.
func Sniff(head []byte, complete bool) (f Format, looks string, decided bool) {
	for _, m := range magics {
		if bytes.HasPrefix(head, []byte(m.prefix)) {
			return "", m.looks, true
		}
		if !complete && len(head) < len(m.prefix) && bytes.HasPrefix([]byte(m.prefix), head) {
			return "", "", false
		}
	}
	if len(head) >= 12 && string(head[8:12]) == "DUCK" {
		return "", "a DuckDB database (point --warehouse at its folder instead)", true
	}
	if len(head) >= sniffMost {
		head, complete = head[:sniffMost], true // as far as it looks
	}
	body := bytes.TrimPrefix(head, []byte("\xef\xbb\xbf"))
	rest := body
	n := 0 // lines that do not start a JSON value
	for n < sniffLines {
		line, after, found := bytes.Cut(rest, []byte("\n"))
		t := bytes.TrimLeft(line, " \t\r\f")
		switch {
		case len(t) == 0 && !found && !complete:
			return "", "", false // the line's first byte is still to come
		case len(t) == 0:
		case t[0] == '{' || t[0] == '[':
			return jsonFormat(body, len(body)-len(rest), n == 0, complete)
		default:
			n++
		}
		if !found {
			break
		}
		rest = after
	}
	if n < sniffLines && !complete {
		return "", "", false // more lines may follow, one of them JSON
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if complete {
			return FormatNDJSON, "", true
		}
		return "", "", false
	}
	return "", describe(body), true
}

// jsonFormat decides the JSON format of an input whose first JSON-looking line starts at off
// (first: no other line before it): NDJSON when its first value closes on its line with nothing
// after it, a saved page or array when it is one, otherwise objects one after another.
func jsonFormat(body []byte, off int, first, complete bool) (Format, string, bool) {
	if !first {
		return FormatNDJSON, "", true // lines that are not JSON come first: rejected line by line
	}
	v := bytes.TrimLeft(body[off:], " \t\r\f")
	if v[0] == '[' {
		return FormatArray, "", true
	}
	if f, decided := detectHead(v); decided && f == FormatPages {
		return FormatPages, "", true
	} else if !decided && !complete {
		return "", "", false
	}
	end, closed := valueEnd(v)
	if !closed {
		nl := bytes.IndexByte(v, '\n')
		switch {
		case nl >= 0:
			return FormatJSON, "", true // the first object goes on past its line: pretty-printed
		case complete:
			return FormatNDJSON, "", true // one long line (an oversized or cut record)
		}
		return "", "", false
	}
	if bytes.IndexByte(v[:end], '\n') >= 0 {
		return FormatJSON, "", true // the first object spans lines: pretty-printed
	}
	after := bytes.TrimLeft(v[end:], " \t\r\f")
	switch {
	case len(after) == 0 && !complete:
		return "", "", false
	case len(after) == 0 || after[0] == '\n':
		return FormatNDJSON, "", true
	}
	return FormatJSON, "", true // another value on the same line: {…}{…}
}

// valueEnd finds where the object or array at the start of b closes, by its brackets outside
// strings; closed is false when b ends first.
func valueEnd(b []byte) (end int, closed bool) {
	depth := 0
	inString, escaped := false, false
	for i, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				return i + 1, true
			}
		}
	}
	return len(b), false
}

// describe says what a head that holds no JSON looks like.
func describe(head []byte) string {
	sample := head
	if !utf8.Valid(trimRune(sample)) || bytes.IndexByte(sample, 0) >= 0 {
		return "binary data"
	}
	first, second, _ := bytes.Cut(bytes.TrimLeft(sample, " \t\r\n\f"), []byte("\n"))
	second, _, _ = bytes.Cut(second, []byte("\n"))
	lower := bytes.ToLower(first)
	switch {
	case bytes.HasPrefix(lower, []byte("<!doctype html")) || bytes.Contains(bytes.ToLower(sample), []byte("<html")):
		return "HTML (a web page: a portal page or an error page saved instead of the API's JSON?)"
	case bytes.HasPrefix(lower, []byte("<?xml")):
		return "XML"
	case first[0] == '<':
		return "HTML or XML"
	}
	for _, sep := range []struct {
		b    byte
		name string
	}{{',', "CSV"}, {'\t', "tab-separated values"}, {';', "CSV (semicolon-separated)"}} {
		if n := bytes.Count(first, []byte{sep.b}); n > 0 && (len(second) == 0 || bytes.Count(second, []byte{sep.b}) > 0) {
			return sep.name + " (export the activities as JSON, e.g. with mcasload scan, or the API's saved pages)"
		}
	}
	return "text that is not JSON"
}

// trimRune drops a UTF-8 sequence cut at the end of b, so a head that ends mid-character is
// still valid UTF-8.
func trimRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax && i <= len(b); i++ {
		if utf8.RuneStart(b[len(b)-i]) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			break
		}
	}
	return b
}

// sniffReader reads what Sniff needs from br without consuming it, gzip undone on a copy of the
// peeked bytes, peeking only as far as it must so a slow pipe is not waited on for more than
// the first record.
func sniffReader(br *bufio.Reader) (Format, string, error) {
	for n := 1; ; {
		// Peek(n) waits only for n bytes; whatever else has arrived is looked at too.
		_, err := br.Peek(n)
		raw, _ := br.Peek(br.Buffered())
		complete := err != nil
		switch {
		case err == nil, errors.Is(err, io.EOF):
		case errors.Is(err, bufio.ErrBufferFull):
			complete = false
		default:
			return "", "", err
		}
		head, headComplete, gzErr := gunzipHead(raw, complete)
		if gzErr != nil {
			return "", "", gzErr
		}
		if f, looks, decided := Sniff(head, headComplete); decided {
			return f, looks, nil
		}
		if complete || len(raw) >= br.Size() {
			f, looks, _ := Sniff(head, true)
			return f, looks, nil
		}
		n = len(raw) + 1
	}
}

// gunzipHead is raw, or its decompressed start when raw is gzip (up to sniffMost bytes);
// complete says the result is the whole input.
func gunzipHead(raw []byte, complete bool) ([]byte, bool, error) {
	if len(raw) < 2 || raw[0] != 0x1f || raw[1] != 0x8b {
		return raw, complete, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		if !complete && (errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF)) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("read gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, sniffMost))
	switch {
	case err == nil:
		return out, complete && len(out) < sniffMost, nil
	case errors.Is(err, io.ErrUnexpectedEOF) && !complete:
		return out, false, nil
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader):
		return nil, false, fmt.Errorf("read gzip: %w", err)
	}
	var ce flate.CorruptInputError
	if errors.As(err, &ce) {
		return nil, false, fmt.Errorf("read gzip: %w", err)
	}
	return out, false, nil
}

// CheckInputs checks every input before anything is loaded, so that a mistake in the second
// file is found before the first is committed: each file exists, is a regular file (or a
// pipe) that can be read, and holds JSON (NotJSONError otherwise). Standard input ("-") is
// wrapped in a buffered reader that is peeked, never consumed: the returned inputs read it.
// It waits for standard input's first bytes only until ctx is done.
func CheckInputs(ctx context.Context, inputs []Input) ([]Input, error) {
	out := make([]Input, len(inputs))
	for i, in := range inputs {
		out[i] = in
		if in.Name == "-" {
			if in.Reader == nil {
				return nil, errors.New("read stdin: no standard input")
			}
			br := bufio.NewReaderSize(in.Reader, 1<<20)
			out[i].Reader = br
			if err := sniffWithin(ctx, "standard input", br); err != nil {
				return nil, err
			}
			continue
		}
		fi, err := os.Stat(in.Name)
		if err != nil {
			return nil, &InputError{Name: in.Name, Err: err}
		}
		if fi.IsDir() {
			return nil, &InputError{Name: in.Name, Err: errIsFolder}
		}
		f, err := os.Open(in.Name)
		if err != nil {
			return nil, &InputError{Name: in.Name, Err: err}
		}
		err = sniffWithin(ctx, in.Name, bufio.NewReaderSize(f, 1<<20))
		f.Close()
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

var errIsFolder = errors.New("is a folder; name the files in it")

// InputError is an input that cannot be read at all: missing, a folder, not readable.
type InputError struct {
	Name string
	Err  error
}

func (e *InputError) Error() string {
	if errors.Is(e.Err, errIsFolder) {
		return fmt.Sprintf("input %s %v", e.Name, e.Err)
	}
	var pe *os.PathError
	if errors.As(e.Err, &pe) {
		return fmt.Sprintf("input %s: %v", e.Name, pe.Err)
	}
	return fmt.Sprintf("input %s: %v", e.Name, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// sniffWithin sniffs br, refusing a non-JSON input, giving up when ctx is done first (standard
// input may take its time; the goroutine left behind ends with the process).
func sniffWithin(ctx context.Context, name string, br *bufio.Reader) error {
	type result struct {
		looks string
		err   error
	}
	done := make(chan result, 1)
	go func() {
		_, looks, err := sniffReader(br)
		done <- result{looks, err}
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case r := <-done:
		switch {
		case r.err != nil:
			return fmt.Errorf("read %s: %w", name, r.err)
		case r.looks != "":
			return &NotJSONError{Name: name, Looks: r.looks}
		}
		return nil
	}
}
