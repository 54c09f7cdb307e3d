package streaming

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"syscall"
	"testing"
	"testing/iotest"
)

// tailOver is a Tail reading body from the start, as Resume builds one for a new blob whose
// answer declared size bytes.
func tailOver(body io.Reader, size int, opts ReadOptions) *Tail {
	return &Tail{blob: "b", body: io.NopCloser(body), r: bufio.NewReaderSize(body, 16), line: sha256.New(),
		opts: opts.withDefaults(), etag: "e1", cur: Cursor{Size: int64(size)}}
}

// drain reads every batch and returns the records, the line numbers and the final error.
func drain(t *Tail) (recs []string, lines []int, rejected int, err error) {
	for {
		b, err := t.Next()
		if err != nil {
			return recs, lines, rejected, err
		}
		for i, r := range b.Chunk.Records {
			recs = append(recs, string(r))
			lines = append(lines, b.Chunk.Lines[i])
		}
		rejected += len(b.Chunk.Rejected)
		if b.Cursor != t.Cursor() {
			panic("batch cursor is not the tail's")
		}
	}
}

func TestTailLines(t *testing.T) {
	body := "{\"a\":1}\r\n\n  \n{\"b\":2}\n" + "{\"long\":\"" + string(bytes.Repeat([]byte("x"), 40)) + "\"}\r\n{\"c\":3}\n{\"par"
	tl := tailOver(iotest.HalfReader(bytes.NewReader([]byte(body))), len(body), ReadOptions{BatchLines: 2, MaxLineBytes: 30})
	recs, lines, rejected, err := drain(tl)
	if err != io.EOF || len(recs) != 3 || recs[0] != `{"a":1}` || recs[1] != `{"b":2}` || recs[2] != `{"c":3}` || rejected != 1 {
		t.Fatalf("records %q rejected %d err %v", recs, rejected, err)
	}
	if lines[0] != 1 || lines[1] != 4 || lines[2] != 6 {
		t.Errorf("line numbers %v, want 1 4 6", lines)
	}
	c := tl.Cursor()
	end := int64(len(body) - len(`{"par`))
	if c.Offset != end || c.Lines != 6 || c.LineStart != end-8 || c.LineSHA256 != sha256.Sum256([]byte("{\"c\":3}\n")) || c.ETag != "e1" {
		t.Errorf("cursor %+v, want offset %d after line 6, its hash, and the ETag once read to the end", c, end)
	}
	// An answer whose body is shorter than the length it declared pins nothing: no ETag.
	short := tailOver(bytes.NewReader([]byte(body)), len(body)+10, ReadOptions{})
	if _, _, _, err := drain(short); err != io.EOF || short.Cursor().ETag != "" || short.Cursor().Offset != end {
		t.Errorf("short body: cursor %+v, %v; want no ETag", short.Cursor(), err)
	}
}

// TestTailReadError: a connection cut mid-blob hands out the complete lines before it, keeps a
// cursor after the last of them, and reports the error instead of io.EOF; the cursor then has no
// ETag, so the next run reads on.
func TestTailReadError(t *testing.T) {
	r := io.MultiReader(bytes.NewReader([]byte("{\"a\":1}\n{\"b\":2}\n{\"c\"")), iotest.ErrReader(syscall.ECONNRESET))
	tl := tailOver(r, 40, ReadOptions{})
	recs, _, _, err := drain(tl)
	if len(recs) != 2 || !errors.Is(err, syscall.ECONNRESET) || err == io.EOF {
		t.Fatalf("records %q err %v", recs, err)
	}
	if c := tl.Cursor(); c.Offset != 16 || c.ETag != "" {
		t.Errorf("cursor %+v, want offset 16 and no ETag", c)
	}
}

// FuzzTail: whatever the bytes and however they arrive, the tail hands out exactly the complete
// non-blank lines, numbered, and its cursor stands after the last "\n" with that line's hash.
func FuzzTail(f *testing.F) {
	f.Add([]byte("a\nb\r\n\nc"), uint8(3))
	f.Add([]byte("\n\n\r\n"), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		var r io.Reader = bytes.NewReader(data)
		if chunk%2 == 1 {
			r = iotest.OneByteReader(r)
		}
		tl := tailOver(r, len(data), ReadOptions{BatchLines: int(chunk%7) + 1, MaxLineBytes: 64})
		recs, lines, rejected, err := drain(tl)
		if err != io.EOF {
			t.Fatalf("err %v", err)
		}
		var want []string
		var wantLines []int
		tooLong := 0
		last := bytes.LastIndexByte(data, '\n')
		n := 0
		for line := range bytes.SplitAfterSeq(data[:last+1], []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			n++
			content := bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
			switch {
			case len(content) > 64:
				tooLong++
			case len(bytes.TrimSpace(content)) > 0:
				want = append(want, string(content))
				wantLines = append(wantLines, n)
			}
		}
		if len(recs) != len(want) || rejected != tooLong {
			t.Fatalf("%d records %d rejected, want %d and %d", len(recs), rejected, len(want), tooLong)
		}
		for i := range want {
			if recs[i] != want[i] || lines[i] != wantLines[i] {
				t.Fatalf("record %d = %q line %d, want %q line %d", i, recs[i], lines[i], want[i], wantLines[i])
			}
		}
		c := tl.Cursor()
		if c.Offset != int64(last+1) || c.Lines != int64(n) {
			t.Fatalf("cursor %+v, want offset %d lines %d", c, last+1, n)
		}
		if n > 0 && c.LineSHA256 != sha256.Sum256(data[c.LineStart:c.Offset]) {
			t.Fatalf("cursor hash is not the last line's")
		}
	})
}
