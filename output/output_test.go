package output

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
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

// travel is a wide result shaped like impossible-travel's, with the values an analyst acts on:
// long UPNs, IPv4 and IPv6 addresses, lists of ids; and long free text.
func travel(t *testing.T, mem memory.Allocator) array.RecordReader {
	t.Helper()
	str := arrow.BinaryTypes.String
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "user_name", Type: str}, {Name: "from_ip", Type: str}, {Name: "from_loc", Type: str},
		{Name: "to_ip", Type: str}, {Name: "to_loc", Type: str},
		{Name: "km", Type: arrow.PrimitiveTypes.Int64}, {Name: "kmh", Type: arrow.PrimitiveTypes.Float64},
		{Name: "first_ts", Type: &arrow.TimestampType{Unit: arrow.Microsecond, TimeZone: "UTC"}},
		{Name: "user_agent", Type: str}, {Name: "evidence_ids", Type: arrow.ListOf(str)},
	}, nil)
	b := array.NewRecordBuilder(mem, sc)
	defer b.Release()
	rows := [][]string{
		{"renee.tavares@contoso.onmicrosoft.com", "71.105.224.13", "Seattle, US", "185.220.101.47", "Frankfurt am Main, DE", "8192", "3120.4"},
		{"bob@contoso.com", "2001:db8:85a3::8a2e:370:7334", "London, GB", "203.0.113.250", "Sydney, AU", "16990", "11020.7"},
		{"svc-backup-automation@contoso.onmicrosoft.com", "10.0.0.1", "Paris, FR", "198.51.100.7", "São Paulo, BR", "9407", "2250.0"},
	}
	base := time.Date(2026, 3, 1, 8, 30, 0, 0, time.UTC)
	for i, r := range rows {
		for c := 0; c < 5; c++ {
			b.Field(c).(*array.StringBuilder).Append(r[c])
		}
		km, _ := strconv.ParseInt(r[5], 10, 64)
		kmh, _ := strconv.ParseFloat(r[6], 64)
		b.Field(5).(*array.Int64Builder).Append(km)
		b.Field(6).(*array.Float64Builder).Append(kmh)
		ts, _ := arrow.TimestampFromTime(base.Add(time.Duration(i)*time.Hour), arrow.Microsecond)
		b.Field(7).(*array.TimestampBuilder).Append(ts)
		b.Field(8).(*array.StringBuilder).Append("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36")
		lb := b.Field(9).(*array.ListBuilder)
		lb.Append(true)
		for j := range 2 {
			lb.ValueBuilder().(*array.StringBuilder).Append(fmt.Sprintf("%016x", uint64(i*2+j+1)*0x9e3779b97f4a7c15))
		}
	}
	rec := b.NewRecordBatch()
	defer rec.Release()
	rdr, err := array.NewRecordReader(sc, []arrow.RecordBatch{rec})
	if err != nil {
		t.Fatal(err)
	}
	return rdr
}

// TestTableNeverCutsAUserOrAnIP renders a wide result at 80 and 120 columns (a terminal) and
// piped (no width): users and IPs are always whole; ids are whole or their column is hidden; on
// a terminal every line fits and the columns left out are named; piped, every value of every
// column is there.
func TestTableNeverCutsAUserOrAnIP(t *testing.T) {
	keys := []string{"renee.tavares@contoso.onmicrosoft.com", "bob@contoso.com", "svc-backup-automation@contoso.onmicrosoft.com",
		"71.105.224.13", "185.220.101.47", "2001:db8:85a3::8a2e:370:7334", "203.0.113.250", "10.0.0.1", "198.51.100.7"}
	for _, tt := range []struct {
		name   string
		opts   Options
		hidden []string
	}{
		{"80", Options{Format: Table, Width: 80}, []string{}}, // one line per column: nothing hidden
		{"120", Options{Format: Table, Width: 120}, []string{"kmh", "first_ts", "user_agent", "evidence_ids"}},
		{"200", Options{Format: Table, Width: 200}, []string{}},
		{"piped", Options{Format: Table}, nil},
		{"wide", Options{Format: Table, Width: 80, Wide: true}, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rdr := travel(t, mem)
			defer rdr.Release()
			var buf bytes.Buffer
			if _, err := Write(&buf, rdr, tt.opts); err != nil {
				t.Fatal(err)
			}
			got := buf.String()
			for _, v := range keys {
				if !strings.Contains(got, v) {
					t.Errorf("%q is cut or missing:\n%s", v, got)
				}
			}
			idsHidden := slices.Contains(tt.hidden, "evidence_ids")
			if tt.name == "80" && !strings.Contains(got, "   user_name = renee.tavares@contoso.onmicrosoft.com\n     from_ip = 71.105.224.13\n") {
				t.Errorf("at 80 columns the rows are not shown one line per column:\n%s", got)
			}
			if has := strings.Contains(got, "[9e3779b97f4a7c15, 3c6ef372fe94f82a]"); has == idsHidden {
				t.Errorf("the ids are neither whole nor hidden (hidden %v):\n%s", idsHidden, got)
			}
			for _, line := range strings.Split(strings.TrimRight(got, "\n"), "\n") {
				if n := len([]rune(line)); tt.opts.width() > 0 && n > tt.opts.width() {
					t.Errorf("line of %d runes wider than %d: %q", n, tt.opts.width(), line)
				}
			}
			switch {
			case tt.opts.width() == 0:
				if strings.Contains(got, "…") || strings.Contains(got, "hidden") || !strings.Contains(got, "Safari/537.36") {
					t.Errorf("a table with no width limit cut or hid something:\n%s", got)
				}
			case len(tt.hidden) == 0:
				if strings.Contains(got, "hidden") {
					t.Errorf("a column is hidden:\n%s", got)
				}
			default:
				_, note, _ := strings.Cut(got, "hidden to fit ")
				want := fmt.Sprintf("%d columns: %s (--max-width 0 shows them)", tt.opts.Width, strings.Join(tt.hidden, ", "))
				if strings.TrimSpace(strings.ReplaceAll(note, "\n", " ")) != want {
					t.Errorf("the last lines do not name the hidden columns %q:\n%s", want, got)
				}
			}
			testkit.Golden(t, filepath.Join("testdata", "travel-"+tt.name+".table"), buf.Bytes())
		})
	}
}

// TestTableEntitiesWiderThanTheTerminal: when the users and IPs alone do not fit side by side,
// each row is shown one line per column, the users and IPs whole.
func TestTableEntitiesWiderThanTheTerminal(t *testing.T) {
	long := "a very long user name that will not fit a narrow terminal at all@contoso.com"
	var buf bytes.Buffer
	rdr := sample(t, memory.DefaultAllocator, 4)
	defer rdr.Release()
	if _, err := Write(&buf, rdr, Options{Format: Table, Width: 60}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), long) || !strings.Contains(buf.String(), "[203.0.113.1, 203.0.113.2, 203.0.113.3]") {
		t.Fatalf("a user or IP list was cut:\n%s", buf.String())
	}
	if !strings.Contains(buf.String(), "(one line per column: the users and IPs do not fit 60") {
		t.Errorf("the rows are not shown one line per column:\n%s", buf.String())
	}
}

func TestIsEntity(t *testing.T) {
	for name, want := range map[string]bool{
		"user_name": true, "USER": true, "ips": true, "from_ip": true, "target_user": true, "evidence_ids": true,
		"tenant": true, "actor": true, "owner": true, "mailbox": false, "ip_category": false, "n": false, "kmh": false,
	} {
		if got := IsEntity(name, nil); got != want {
			t.Errorf("IsEntity(%q) = %v, want %v", name, got, want)
		}
	}
	if !IsEntity("mailbox", []string{"mailbox"}) {
		t.Error("a column an investigation names as an entity is not one")
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
