package output

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/mcasload/mcasload/internal/testkit"
)

// sample builds a small result with the types investigations return: text with a long cell and
// a line break, integers, floats, UTC timestamps, lists, booleans and NULLs.
func sample(t *testing.T, mem memory.Allocator, rows int) array.RecordReader {
	t.Helper()
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "user_name", Type: arrow.BinaryTypes.String, Nullable: true},
		{Name: "n", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "kmh", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: "first_ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}, Nullable: true},
		{Name: "ips", Type: arrow.ListOf(arrow.BinaryTypes.String), Nullable: true},
		{Name: "risky", Type: arrow.FixedWidthTypes.Boolean, Nullable: true},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	base := time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)
	users := []string{"alice@contoso.com", "bob|pipe@contoso.com", "a very long user name that will not fit a narrow terminal at all@contoso.com", "line\nbreak, \"quoted\"@contoso.com"}
	for i := 0; i < rows; i++ {
		b.Field(0).(*array.StringBuilder).Append(users[i%len(users)])
		if i == 2 {
			b.Field(1).AppendNull()
		} else {
			b.Field(1).(*array.Int64Builder).Append(int64(1000 * i))
		}
		b.Field(2).(*array.Float64Builder).Append(912.5 + float64(i))
		ts, _ := arrow.TimestampFromTime(base.Add(time.Duration(i)*90*time.Minute), arrow.Microsecond)
		b.Field(3).(*array.TimestampBuilder).Append(ts)
		lb := b.Field(4).(*array.ListBuilder)
		lb.Append(true)
		for j := 0; j <= i%3; j++ {
			lb.ValueBuilder().(*array.StringBuilder).Append("203.0.113." + string(rune('1'+j)))
		}
		b.Field(5).(*array.BooleanBuilder).Append(i%2 == 0)
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rdr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rdr
}

func TestFormatsGolden(t *testing.T) {
	for _, f := range Formats {
		for _, rows := range []int{0, 4} {
			t.Run(string(f)+"/"+string(rune('0'+rows)), func(t *testing.T) {
				mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
				defer mem.AssertSize(t, 0)
				rdr := sample(t, mem, rows)
				defer rdr.Release()
				var buf bytes.Buffer
				n, err := Write(&buf, rdr, Options{Format: f, Width: 80, Meta: sampleMeta()})
				if err != nil {
					t.Fatal(err)
				}
				if n != rows {
					t.Fatalf("wrote %d rows, want %d", n, rows)
				}
				got := buf.Bytes()
				if f == Parquet {
					got = parquetAsCSV(t, got)
				}
				testkit.Golden(t, filepath.Join("testdata", "sample-"+string(rune('0'+rows))+"."+string(f)), got)
			})
		}
	}
}

// parquetAsCSV reads a Parquet file back with arrow-go and renders it as CSV with its schema:
// the file's bytes carry library versions, its content is what must not change.
func parquetAsCSV(t *testing.T, data []byte) []byte {
	t.Helper()
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	var buf bytes.Buffer
	testkit.ReadParquet(t, data, mem, func(pf *file.Reader, rr array.RecordReader) {
		buf.WriteString("# " + rr.Schema().String() + "\n# codec: " + codec(t, pf) + "\n")
		if _, err := Write(&buf, rr, Options{Format: CSV}); err != nil {
			t.Fatal(err)
		}
	})
	return buf.Bytes()
}

func TestTableFitsTheWidthAndWideShowsAll(t *testing.T) {
	long := "a very long user name that will not fit a narrow terminal at all@contoso.com"
	for _, width := range []int{60, 80, 100} {
		var buf bytes.Buffer
		rdr := sample(t, memory.DefaultAllocator, 4)
		if _, err := Write(&buf, rdr, Options{Format: Table, Width: width}); err != nil {
			t.Fatal(err)
		}
		rdr.Release()
		for _, line := range strings.Split(strings.TrimRight(buf.String(), "\n"), "\n") {
			if n := len([]rune(line)); n > width {
				t.Fatalf("width %d: line of %d runes: %q", width, n, line)
			}
		}
		if strings.Contains(buf.String(), long) || !strings.Contains(buf.String(), "…") {
			t.Fatalf("width %d: long cell not truncated:\n%s", width, buf.String())
		}
	}
	var buf bytes.Buffer
	rdr := sample(t, memory.DefaultAllocator, 4)
	defer rdr.Release()
	if _, err := Write(&buf, rdr, Options{Format: Table, Width: 60, Wide: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), long) || strings.Contains(buf.String(), "…") {
		t.Fatalf("--wide truncated:\n%s", buf.String())
	}
}

func TestParseFormat(t *testing.T) {
	for _, f := range Formats {
		if got, err := ParseFormat(strings.ToUpper(string(f))); err != nil || got != f {
			t.Errorf("ParseFormat(%q) = %q, %v", f, got, err)
		}
	}
	_, err := ParseFormat("xml")
	if err == nil || !strings.Contains(err.Error(), "accepted: table, csv, json, ndjson, markdown, parquet") {
		t.Fatalf("ParseFormat(xml): %v", err)
	}
}

func codec(t *testing.T, pf *file.Reader) string {
	if pf.NumRowGroups() == 0 {
		return "none (no row groups)"
	}
	cc, err := pf.MetaData().RowGroup(0).ColumnChunk(0)
	if err != nil {
		t.Fatal(err)
	}
	return cc.Compression().String()
}

// scribblingReader overwrites each batch's string bytes once the next batch is asked for, as a
// reader that hands out C memory (DuckDB's) may reuse or free it.
type scribblingReader struct {
	array.RecordReader
	prev arrow.RecordBatch
}

func (r *scribblingReader) Next() bool {
	if r.prev != nil {
		for _, col := range r.prev.Columns() {
			if s, ok := col.(*array.String); ok {
				b := s.Data().Buffers()[2].Bytes()
				for i := range b {
					b[i] = 'X'
				}
			}
		}
	}
	ok := r.RecordReader.Next()
	if ok {
		r.prev = r.RecordReader.RecordBatch()
	}
	return ok
}

func TestBufferedFormatsCopyCellsOutOfTheBatch(t *testing.T) {
	sc := arrow.NewSchema([]arrow.Field{{Name: "user_name", Type: arrow.BinaryTypes.String}}, nil)
	for _, f := range []Format{Table, Markdown} {
		t.Run(string(f), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			var recs []arrow.RecordBatch
			for _, users := range [][]string{{"alice@contoso.com", "bob@contoso.com"}, {"carol@contoso.com"}} {
				b := array.NewRecordBuilder(mem, sc)
				b.Field(0).(*array.StringBuilder).AppendValues(users, nil)
				recs = append(recs, b.NewRecordBatch())
				b.Release()
			}
			inner, err := array.NewRecordReader(sc, recs)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range recs {
				r.Release()
			}
			defer inner.Release()
			var buf bytes.Buffer
			if _, err := Write(&buf, &scribblingReader{RecordReader: inner}, Options{Format: f}); err != nil {
				t.Fatal(err)
			}
			for _, u := range []string{"alice@contoso.com", "bob@contoso.com", "carol@contoso.com"} {
				if !strings.Contains(buf.String(), u) {
					t.Fatalf("%s lost %s once its batch was reused:\n%s", f, u, buf.String())
				}
			}
		})
	}
}

// sampleMeta is a meta with every field a query fills, for the JSON golden.
func sampleMeta() *Meta {
	first := time.Date(2026, 2, 1, 22, 0, 0, 0, time.UTC)
	return &Meta{Command: "query", Investigation: "impossible-travel", Kind: "detection",
		Window:  &Window{Since: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)},
		Read:    &Window{Since: time.Date(2026, 2, 28, 0, 0, 0, 0, time.UTC), Until: time.Date(2026, 3, 8, 0, 0, 0, 0, time.UTC)},
		History: &History{Declared: "1d", DeclaredDays: 1, AvailableDays: 0.5, FirstActivity: &first}, Provisional: true,
		Notes: []string{"half the history"},
		Suppressed: &Suppressed{Rows: 2, AllowList: "wh/allow-list.toml", ByEntry: []SuppressedBy{
			{Scope: "global", Kind: "users", Value: "svc@contoso.com", Rows: 1}, {Scope: "impossible-travel", Kind: "ip_ranges", Value: "10.0.0.0/8", Rows: 1}}}}
}

// TestMetaOutsideJSON: the row-only formats' stderr line is the same meta as one JSON line; a
// table's words say what is provisional and what was suppressed.
func TestMetaOutsideJSON(t *testing.T) {
	var line bytes.Buffer
	if err := WriteMetaLine(&line, sampleMeta()); err != nil {
		t.Fatal(err)
	}
	var back Meta
	if strings.Count(line.String(), "\n") != 1 || json.Unmarshal(line.Bytes(), &back) != nil || back.Suppressed.Rows != 2 || !back.Provisional {
		t.Errorf("meta line %q", line.String())
	}
	want := []string{"provisional: half the history",
		"suppressed 2 rows by the allow-list wh/allow-list.toml (global users svc@contoso.com: 1, impossible-travel ip_ranges 10.0.0.0/8: 1)"}
	if got := sampleMeta().Summary(); !slices.Equal(got, want) {
		t.Errorf("summary %q, want %q", got, want)
	}
	if got := (&Meta{Command: "sql"}).Summary(); len(got) != 0 {
		t.Errorf("nothing to say, said %q", got)
	}
	var buf bytes.Buffer
	if err := WriteJSON(&buf, &Meta{Command: "status"}, []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	var env struct {
		Meta Meta
		Rows []int
	}
	if err := json.Unmarshal(buf.Bytes(), &env); err != nil || env.Meta.Command != "status" || len(env.Rows) != 2 {
		t.Errorf("WriteJSON: %s (%v)", buf.String(), err)
	}
}
