package schema

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/apache/arrow-go/v18/arrow/array"
)

func TestSplitPage(t *testing.T) {
	tests := []struct {
		name string
		body string
		want []string
		err  string // substring of the error; "" for success
	}{
		{"envelope", `{"data":[{"_id":"a"},{"_id":"b"}],"hasNext":true,"nextQueryFilters":{"date":{"gte":1}}}`,
			[]string{`{"_id":"a"}`, `{"_id":"b"}`}, ""},
		{"envelope data last", `{"hasNext":false,"total":2,"data":[ {"_id":"a"} ,` + "\n" + `{"_id":"b"} ]}`,
			[]string{`{"_id":"a"}`, `{"_id":"b"}`}, ""},
		{"bare array", " [ {\"_id\":\"a\", \"x\": [1, {\"y\": \"]\"}]} ]\n", []string{`{"_id":"a", "x": [1, {"y": "]"}]}`}, ""},
		{"empty data", `{"data":[],"hasNext":false}`, []string{}, ""},
		{"empty array", `[]`, []string{}, ""},
		{"odd elements pass through", `{"data":[1,"s",null,{"_id":"\u00e9"}]}`, []string{`1`, `"s"`, `null`, `{"_id":"\u00e9"}`}, ""},
		{"invalid utf-8 passes through", "[{\"_id\":\"\xff\"}]", []string{"{\"_id\":\"\xff\"}"}, ""},
		{"bad record passes through", `{"data":[{"_id":"a"},{"_id":"b",},{"_id":"c"}]}`, []string{`{"_id":"a"}`, `{"_id":"b",}`, `{"_id":"c"}`}, ""},
		{"brackets in strings", `[{"a":"}]{["},{"b":"\"}"}]`, []string{`{"a":"}]{["}`, `{"b":"\"}"}`}, ""},
		{"text between records", `[{"_id":"a"} x {"_id":"b"}]`, nil, "invalid JSON"},
		{"unbalanced", `{"data":[{"_id":"a"]}`, nil, "invalid JSON"},
		{"no data", `{"hasNext":false}`, nil, "no \"data\" array"},
		{"data not array", `{"data":{"_id":"a"}}`, nil, "no \"data\" array"},
		{"truncated", `{"data":[{"_id":"a"},{"_id":`, nil, "invalid JSON"},
		{"trailing text", `[{"_id":"a"}] [`, nil, "trailing text"},
		{"scalar", `42`, nil, "expected a JSON object or array"},
		{"empty body", ``, nil, "expected a JSON object or array"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SplitPage([]byte(tt.body))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d records %q, want %d", len(got), got, len(tt.want))
			}
			for i := range got {
				if string(got[i]) != tt.want[i] {
					t.Errorf("record %d = %q, want %q", i, got[i], tt.want[i])
				}
			}
		})
	}
	if _, err := SplitPage([]byte(`{"x":1}`)); !errors.Is(err, ErrNoData) {
		t.Errorf("missing data: %v, want ErrNoData", err)
	}
}

// TestSplitPageConvert: a saved page with a bad record still lands the others.
func TestSplitPageConvert(t *testing.T) {
	body := `{"data":[` + rec("a", "") + `,{"timestamp":1},` + rec("b", "") + `],"hasNext":false}`
	recs, err := SplitPage([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	strs := make([]string, len(recs))
	for i, r := range recs {
		strs[i] = string(r)
	}
	b := convert(t, Options{}, strs...)
	if b.Record.NumRows() != 2 || len(b.Rejected) != 1 || !strings.HasPrefix(b.Rejected[0].Reason, ReasonMissingID) {
		t.Errorf("rows %d rejected %+v", b.Record.NumRows(), b.Rejected)
	}
}

func readAll(t testing.TB, r *NDJSONReader) []*Chunk {
	t.Helper()
	var out []*Chunk
	for {
		ch, err := r.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, ch)
	}
}

func TestNDJSONReader(t *testing.T) {
	a, b, c := rec("a", ""), rec("b", `"x":"é"`), rec("c", "")
	tests := []struct {
		name  string
		input string
		opts  NDJSONOptions
		recs  [][]string // per chunk
		lines [][]int
	}{
		{"lines", a + "\n" + b + "\n" + c + "\n", NDJSONOptions{}, [][]string{{a, b, c}}, [][]int{{1, 2, 3}}},
		{"no final newline", a + "\n" + b, NDJSONOptions{}, [][]string{{a, b}}, [][]int{{1, 2}}},
		{"crlf", a + "\r\n" + b + "\r\n", NDJSONOptions{}, [][]string{{a, b}}, [][]int{{1, 2}}},
		{"blank lines skipped, counted", "\n" + a + "\n\n  \t\n" + b + "\n\n", NDJSONOptions{}, [][]string{{a, b}}, [][]int{{2, 5}}},
		{"chunks by records", a + "\n" + b + "\n" + c + "\n", NDJSONOptions{ChunkRecords: 2}, [][]string{{a, b}, {c}}, [][]int{{1, 2}, {3}}},
		{"chunks by bytes", a + "\n" + b + "\n" + c + "\n", NDJSONOptions{ChunkBytes: len(a) + 1}, [][]string{{a, b}, {c}}, [][]int{{1, 2}, {3}}},
		{"garbage line kept for Convert", a + "\n{not json\n" + b + "\n", NDJSONOptions{}, [][]string{{a, "{not json", b}}, [][]int{{1, 2, 3}}},
		{"empty input", "", NDJSONOptions{}, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunks := readAll(t, NewNDJSONReader(strings.NewReader(tt.input), tt.opts))
			if len(chunks) != len(tt.recs) {
				t.Fatalf("%d chunks, want %d", len(chunks), len(tt.recs))
			}
			for i, ch := range chunks {
				if len(ch.Rejected) != 0 {
					t.Errorf("chunk %d rejected %+v", i, ch.Rejected)
				}
				var got []string
				for _, r := range ch.Records {
					got = append(got, string(r))
				}
				if strings.Join(got, "|") != strings.Join(tt.recs[i], "|") {
					t.Errorf("chunk %d records %q, want %q", i, got, tt.recs[i])
				}
				if len(ch.Lines) != len(tt.lines[i]) {
					t.Fatalf("chunk %d lines %v, want %v", i, ch.Lines, tt.lines[i])
				}
				for j := range ch.Lines {
					if ch.Lines[j] != tt.lines[i][j] {
						t.Errorf("chunk %d lines %v, want %v", i, ch.Lines, tt.lines[i])
					}
				}
			}
		})
	}
}

// TestNDJSONChunksOwnTheirBytes: a chunk stays intact while later chunks are read.
func TestNDJSONChunksOwnTheirBytes(t *testing.T) {
	var in strings.Builder
	for i := range 100 {
		in.WriteString(rec(strings.Repeat(string(rune('a'+i%26)), 2000), "") + "\n")
	}
	chunks := readAll(t, NewNDJSONReader(strings.NewReader(in.String()), NDJSONOptions{ChunkRecords: 7}))
	lines := strings.Split(strings.TrimSuffix(in.String(), "\n"), "\n")
	n := 0
	for _, ch := range chunks {
		for j, r := range ch.Records {
			if string(r) != lines[ch.Lines[j]-1] {
				t.Fatalf("line %d changed after later reads", ch.Lines[j])
			}
			n++
		}
	}
	if n != 100 {
		t.Errorf("%d records, want 100", n)
	}
}

// TestNDJSONRejectsWithLines: bad lines become rejects with their line numbers, in line order,
// and the good lines land.
func TestNDJSONRejectsWithLines(t *testing.T) {
	long := rec("long", `"d":"`+strings.Repeat("x", 5000)+`"`)
	input := rec("a", "") + "\n" + // 1
		"{\"_id\":\"b\",\n" + // 2: truncated
		long + "\r\n" + // 3: too long for the reader
		rec("c", "") + "\n" + // 4
		"\xff\xfe\n" + // 5: invalid UTF-8
		`{"timestamp":5}` + "\n" + // 6: no _id
		rec("d", "") // 7
	mem := checkedMem(t)
	conv := NewConverter(mem, Options{})
	r := NewNDJSONReader(strings.NewReader(input), NDJSONOptions{MaxRecordBytes: 1000})
	var rows int64
	var rejects []Rejected
	for _, ch := range readAll(t, r) {
		b, err := conv.ConvertChunk(ch)
		if err != nil {
			t.Fatal(err)
		}
		rows += b.Record.NumRows()
		rejects = append(rejects, b.Rejected...)
		b.Record.Release()
	}
	if rows != 3 {
		t.Errorf("%d rows, want 3", rows)
	}
	want := []struct {
		line int
		code string
	}{{2, ReasonInvalidJSON}, {3, ReasonTooLarge}, {5, ReasonInvalidUTF8}, {6, ReasonMissingID}}
	if len(rejects) != len(want) {
		t.Fatalf("rejects %+v", rejects)
	}
	for i, w := range want {
		r := rejects[i]
		if r.Line != w.line || !strings.HasPrefix(r.Reason, w.code+": ") {
			t.Errorf("reject %d: line %d reason %q, want line %d %s", i, r.Line, r.Reason, w.line, w.code)
		}
	}
	if got := rejects[1]; len(got.Raw) != 1000 || string(got.Raw) != long[:1000] || !strings.Contains(got.Reason, fmt.Sprintf("line 3 is %d bytes", len(long))) {
		t.Errorf("too long line: %d raw bytes, reason %q", len(got.Raw), got.Reason)
	}
	if string(rejects[0].Raw) != `{"_id":"b",` || rejects[0].ID != "b" {
		t.Errorf("truncated line raw %q id %q", rejects[0].Raw, rejects[0].ID)
	}
}

func TestNDJSONReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	in := io.MultiReader(strings.NewReader(rec("a", "")+"\n"), iotest.ErrReader(boom))
	r := NewNDJSONReader(in, NDJSONOptions{})
	ch, err := r.Next()
	if err != nil || len(ch.Records) != 1 {
		t.Fatalf("first chunk: %v, %+v", err, ch)
	}
	if _, err := r.Next(); !errors.Is(err, boom) || !strings.Contains(err.Error(), "read ndjson line 2") {
		t.Errorf("err = %v, want the read error naming line 2", err)
	}
}

// TestConvertChunkSharesRaw: when every record of an NDJSON chunk becomes a row, the raw column
// is the reader's buffer itself (no copy); when one is rejected, or the records are not back to
// back (a page's records have commas between them), raw is copied. Either way each row's raw is
// its record, byte for byte, and nothing stays allocated.
func TestConvertChunkSharesRaw(t *testing.T) {
	good := []string{rec("a", `"appName":"x"`), rec("b", ""), rec("c", `"description":"é\n"`)}
	tests := []struct {
		name   string
		lines  []string
		rows   []string // raw of each row, in order
		shared bool
	}{
		{"all rows", good, good, true},
		{"blank lines between", []string{good[0], "", good[1], "  ", good[2]}, good, true},
		{"one rejected", []string{good[0], `{"_id":"x"}`, good[2]}, []string{good[0], good[2]}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mem := checkedMem(t)
			conv := NewConverter(mem, Options{})
			chunks := readAll(t, NewNDJSONReader(strings.NewReader(strings.Join(tt.lines, "\n")+"\n"), NDJSONOptions{}))
			if len(chunks) != 1 {
				t.Fatalf("%d chunks", len(chunks))
			}
			b, err := conv.ConvertChunk(chunks[0])
			if err != nil {
				t.Fatal(err)
			}
			defer b.Record.Release()
			raw := b.Record.Column(colRaw).(*array.String)
			if raw.Len() != len(tt.rows) {
				t.Fatalf("%d rows, want %d", raw.Len(), len(tt.rows))
			}
			for i, want := range tt.rows {
				if raw.Value(i) != want {
					t.Errorf("row %d raw %q, want %q", i, raw.Value(i), want)
				}
			}
			values := raw.Data().Buffers()[2].Bytes()
			shared := &values[0] == &chunks[0].Data[0]
			if shared != tt.shared {
				t.Errorf("raw shares the reader's buffer: %v, want %v", shared, tt.shared)
			}
		})
	}
	t.Run("page records", func(t *testing.T) {
		mem := checkedMem(t)
		recs, err := SplitPage([]byte(`{"data":[` + strings.Join(good, ",") + `]}`))
		if err != nil {
			t.Fatal(err)
		}
		b, err := NewConverter(mem, Options{}).ConvertChunk(&Chunk{Records: recs, Lines: []int{1, 2, 3}})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Record.Release()
		for i, want := range good {
			if got := row(t, b.Record, i)["raw"]; got != want {
				t.Errorf("row %d raw %q, want %q", i, got, want)
			}
		}
	})
}

func TestValidate(t *testing.T) {
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{rec("a", `"x":[1,{"y":"\u00e9"}]`), true},
		{` {"a":1} `, true},
		{`[1,2]`, true},
		{`{"a":1`, false},
		{`{"a":1} {}`, false},
		{`{"a":tru}`, false},
		{``, false},
	} {
		if err := Validate([]byte(tt.in)); (err == nil) != tt.ok {
			t.Errorf("Validate(%q) = %v, want ok %v", tt.in, err, tt.ok)
		}
	}
}
