package loader

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/schema"
)

func TestSniff(t *testing.T) {
	tests := []struct {
		name  string
		in    string
		want  Format
		looks string // a word of the description, for inputs that are not JSON
	}{
		{"ndjson", `{"_id":"a","timestamp":1}` + "\n" + `{"_id":"b"}` + "\n", FormatNDJSON, ""},
		{"ndjson, a bad first line", "oops\n" + `{"_id":"a"}` + "\n", FormatNDJSON, ""},
		{"jq . output", "{\n  \"_id\": \"a\",\n  \"timestamp\": 1\n}\n{\n  \"_id\": \"b\"\n}\n", FormatJSON, ""},
		{"objects on one line", `{"_id":"a"}{"_id":"b"}`, FormatJSON, ""},
		{"array", `[{"_id":"a"},{"_id":"b"}]`, FormatArray, ""},
		{"pretty array", "[\n  {\n    \"_id\": \"a\"\n  }\n]\n", FormatArray, ""},
		{"saved page", `{"data":[{"_id":"a"}],"hasNext":false}`, FormatPages, ""},
		{"pretty saved page", "{\n  \"hasNext\": true,\n  \"data\": [\n", FormatPages, ""},
		{"byte order mark", "\ufeff" + `{"_id":"a"}` + "\n", FormatNDJSON, ""},
		{"empty", "", FormatNDJSON, ""},
		{"blank", "\n\n  \n", FormatNDJSON, ""},
		{"csv", "_id,timestamp,user\na,1,alice\nb,2,bob\n", "", "CSV"},
		{"tsv", "_id\ttimestamp\na\t1\n", "", "tab-separated"},
		{"html", "<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>\n", "", "HTML"},
		{"html error page", "\n<html>\n<body>502 Bad Gateway</body></html>", "", "HTML"},
		{"xml", "<?xml version=\"1.0\"?>\n<a/>\n", "", "XML"},
		{"parquet", "PAR1\x15\x04\x15\x00", "", "Parquet"},
		{"zip", "PK\x03\x04\x14\x00", "", "ZIP"},
		{"binary", "\x00\x01\x02\x03garbage\x00", "", "binary"},
		{"utf-16", "\xff\xfe{\x00\"\x00", "", "UTF-16"},
		{"duckdb", "\x00\x00\x00\x00\x00\x00\x00\x00DUCK\x40\x00", "", "DuckDB"},
		{"plain text", "hello\nworld\n", "", "text"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, looks, decided := Sniff([]byte(tt.in), true)
			if !decided {
				t.Fatalf("Sniff(%q, complete) undecided", tt.in)
			}
			if f != tt.want || (tt.looks == "") != (looks == "") || !strings.Contains(looks, tt.looks) {
				t.Errorf("Sniff(%q) = %q, %q; want %q, looking like %q", tt.in, f, looks, tt.want, tt.looks)
			}
			// Through a reader, gzip or not, the answer is the same.
			for _, data := range [][]byte{[]byte(tt.in), gz([]byte(tt.in))} {
				gf, glooks, err := sniffReader(bufio.NewReaderSize(bytes.NewReader(data), 1<<20))
				if err != nil || gf != f || glooks != looks {
					t.Errorf("sniffReader = %q, %q, %v; want %q, %q", gf, glooks, err, f, looks)
				}
			}
		})
	}
}

// TestSniffWaitsOnlyForWhatItNeeds: a pipe that sends its first record and then stays quiet is
// sniffed without waiting for more.
func TestSniffWaitsOnlyForWhatItNeeds(t *testing.T) {
	pr, pw := io.Pipe()
	defer pw.Close()
	go pw.Write([]byte(`{"_id":"a","timestamp":1}` + "\n"))
	done := make(chan Format, 1)
	go func() {
		f, _, _ := sniffReader(bufio.NewReaderSize(pr, 1<<20))
		done <- f
	}()
	select {
	case f := <-done:
		if f != FormatNDJSON {
			t.Errorf("format %q, want ndjson", f)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sniffing a quiet pipe waited for more than its first record")
	}
}

// FuzzSniff: Sniff never panics, always decides on a complete input, and an answer it gives on
// a prefix is the answer on the whole input (so sniffing a pipe as it fills is safe).
func FuzzSniff(f *testing.F) {
	for _, s := range []string{
		`{"_id":"a"}` + "\n", "{\n \"a\": 1\n}", `[1,2]`, `{"data":[]}`, "a,b\n1,2\n", "<html>", "PAR1",
		"\ufeff{\"data\"", "x\n\n{\"_id\":1}", `{"s":"}\"{"}{"_id":2}`, "\x1f\x8b\x08\x00",
	} {
		f.Add([]byte(s), uint16(3))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		full, fullLooks, decided := Sniff(data, true)
		if !decided {
			t.Fatalf("Sniff(%q, complete) undecided", data)
		}
		if (full == "") == (fullLooks == "") {
			t.Fatalf("Sniff(%q) = %q, %q: want a format or a description, not both", data, full, fullLooks)
		}
		k := int(cut) % (len(data) + 1)
		f, looks, decided := Sniff(data[:k], false)
		if decided && (f != full || (looks == "") != (fullLooks == "")) {
			t.Fatalf("Sniff(%q…) decided %q %q on %d bytes, but %q %q on all %d", data[:k], f, looks, k, full, fullLooks, len(data))
		}
	})
}

func TestCheckInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.ndjson", `{"_id":"a","timestamp":1}`+"\n")
	csv := write("activities.csv", "_id,timestamp\na,1\n")
	ctx := t.Context()
	if _, err := CheckInputs(ctx, []Input{{Name: good}, {Name: good}}); err != nil {
		t.Errorf("good inputs: %v", err)
	}
	var nj *NotJSONError
	if _, err := CheckInputs(ctx, []Input{{Name: good}, {Name: csv}}); !errors.As(err, &nj) || nj.Name != csv || !strings.Contains(err.Error(), "CSV") {
		t.Errorf("csv second: %v; want a NotJSONError naming %s as CSV", err, csv)
	}
	var ie *InputError
	missing := filepath.Join(dir, "missing.ndjson")
	if _, err := CheckInputs(ctx, []Input{{Name: good}, {Name: missing}}); !errors.As(err, &ie) || ie.Name != missing || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing second: %v; want an InputError naming it", err)
	}
	if _, err := CheckInputs(ctx, []Input{{Name: dir}}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "folder") {
		t.Errorf("folder: %v", err)
	}
	// Standard input is peeked, not consumed: the returned input reads it all.
	in, err := CheckInputs(ctx, []Input{{Name: "-", Reader: strings.NewReader("{\n \"_id\": \"a\"\n}\n")}})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := io.ReadAll(in[0].Reader); string(b) != "{\n \"_id\": \"a\"\n}\n" {
		t.Errorf("stdin after the check reads %q", b)
	}
	if _, err := CheckInputs(ctx, []Input{{Name: "-", Reader: strings.NewReader("<html>\n")}}); !errors.As(err, &nj) || nj.Name != "standard input" {
		t.Errorf("html on stdin: %v", err)
	}
	// A quiet stdin is waited on only until the context ends.
	pr, pw := io.Pipe()
	defer pw.Close()
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := CheckInputs(cctx, []Input{{Name: "-", Reader: pr}}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("quiet stdin: %v; want the context's error", err)
	}
}

// TestReadStreamRejects: in a stream of pretty-printed objects, a cut record, text between
// records, an oversized record and an empty array element are each rejected with their line,
// and every record around them loads.
func TestReadStreamRejects(t *testing.T) {
	rec := func(id string) string {
		return "{\n  \"_id\": \"" + id + "\",\n  \"timestamp\": 1767225600000\n}\n"
	}
	big := "{\n  \"_id\": \"big\",\n  \"timestamp\": 1767225600000,\n  \"d\": \"" + strings.Repeat("x", 300) + "\"\n}\n"
	in := rec("a") +
		"{\n  \"_id\": \"cut\",\n  \"timestamp\": 17672\n" + // the input goes on with a new object
		rec("b") +
		"this is not JSON\n" +
		rec("c") + big + rec("d") +
		"[" + `{"_id":"e","timestamp":1767225600000},,{"_id":"f","timestamp":1767225600000}` + "]\n" +
		rec("g") +
		`{"data":[{"_id":"h","timestamp":1767225600000}],"hasNext":false}` + "\n" +
		"{\n  \"_id\": \"tail\",\n  \"timestamp\": 1"
	m := newMemCommitter()
	sum, err := Load(t.Context(), m, []Input{{Name: "-", Reader: strings.NewReader(in)}}, LoadOptions{ChunkRows: 2, MaxRecordBytes: 256}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c", "d", "e", "g", "h"} {
		if _, ok := m.raw[id]; !ok {
			t.Errorf("record %s was not loaded", id)
		}
	}
	if got := m.raw["a"]; got != `{"_id":"a","timestamp":1767225600000}` {
		t.Errorf("raw of a pretty record %q, want it compact", got)
	}
	// cut, text, the empty element (and f, read as text up to the next line), tail; big
	if sum.RejectedByReason[schema.ReasonInvalidJSON] != 4 || sum.RejectedByReason[schema.ReasonTooLarge] != 1 {
		t.Errorf("rejects %v; want 4 invalid_json and 1 too_large", sum.RejectedByReason)
	}
	if sum.New+sum.Rejected != sum.Records {
		t.Errorf("summary %+v does not add up", sum)
	}
}
