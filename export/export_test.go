package export

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
	"github.com/mcasload/mcasload/output"
)

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

// testSchema has a zone-less timestamp on purpose: Write must label it UTC.
var testSchema = arrow.NewSchema([]arrow.Field{
	{Name: "id", Type: arrow.BinaryTypes.String},
	{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
	{Name: "day", Type: arrow.FixedWidthTypes.Date32},
	{Name: "objects", Type: arrow.ListOf(arrow.BinaryTypes.String)},
}, nil)

// rows makes n rows spread over days days in random order, in batches of batch rows.
func rows(t *testing.T, mem memory.Allocator, n, days, batch int) (array.RecordReader, map[string]time.Time) {
	t.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	want := map[string]time.Time{}
	var recs []arrow.RecordBatch
	b := array.NewRecordBuilder(mem, testSchema)
	defer b.Release()
	for i := range n {
		ts := day0.Add(time.Duration(r.IntN(days*24*60)) * time.Minute)
		id := fmt.Sprintf("id-%05d", i)
		want[id] = ts
		b.Field(0).(*array.StringBuilder).Append(id)
		b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(ts.UnixMilli()))
		b.Field(2).(*array.Date32Builder).Append(arrow.Date32FromTime(ts))
		lb := b.Field(3).(*array.ListBuilder)
		lb.Append(true)
		lb.ValueBuilder().(*array.StringBuilder).Append("obj " + id)
		if (i+1)%batch == 0 || i == n-1 {
			recs = append(recs, b.NewRecordBatch())
		}
	}
	rdr, err := array.NewRecordReader(testSchema, recs)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		rec.Release()
	}
	return rdr, want
}

func readParquet(t *testing.T, path string) arrow.Table {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{}, memory.DefaultAllocator)
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := fr.ReadTable(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}

func TestPartitionedUnsortedInput(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	// More days than open files, in random order: days are closed and reopened as new parts.
	rdr, want := rows(t, mem, 3000, 12, 250)
	defer rdr.Release()
	out := filepath.Join(t.TempDir(), "ds")
	res, err := Write(t.Context(), out, rdr, Options{Format: Parquet, PartitionByDay: true, RowGroupRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != int64(len(want)) || len(res.Days) != 12 {
		t.Fatalf("result %d rows in %d days, want %d in 12", res.Rows, len(res.Days), len(want))
	}
	if len(res.Files) <= 12 {
		t.Errorf("%d files: expected extra parts from days closed and reopened", len(res.Files))
	}
	seen := map[string]bool{}
	for _, f := range res.Files {
		tbl := readParquet(t, filepath.Join(out, f))
		s := tbl.Schema()
		if len(s.FieldIndices("day")) != 0 {
			t.Fatalf("%s keeps the day column; it belongs to the folder name", f)
		}
		if ts := s.Field(1).Type.(*arrow.TimestampType); ts.TimeZone != "UTC" {
			t.Fatalf("ts is %v, want UTC", ts)
		}
		folder := strings.TrimPrefix(filepath.Dir(f), "day=")
		tr := array.NewTableReader(tbl, 0)
		for tr.Next() {
			rec := tr.RecordBatch()
			for i := range int(rec.NumRows()) {
				id := rec.Column(0).(*array.String).Value(i)
				if seen[id] {
					t.Fatalf("%s written twice", id)
				}
				seen[id] = true
				if d := want[id].Format(time.DateOnly); d != folder {
					t.Fatalf("%s of %s is in day=%s", id, d, folder)
				}
			}
		}
		tr.Release()
		tbl.Release()
	}
	if len(seen) != len(want) {
		t.Errorf("%d rows read back, want %d", len(seen), len(want))
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".*")); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestSingleFileFormats(t *testing.T) {
	for _, f := range Formats {
		t.Run(string(f), func(t *testing.T) {
			mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
			defer mem.AssertSize(t, 0)
			rdr, want := rows(t, mem, 500, 3, 64)
			defer rdr.Release()
			out := filepath.Join(t.TempDir(), "x"+f.Ext())
			res, err := Write(t.Context(), out, rdr, Options{Format: f})
			if err != nil {
				t.Fatal(err)
			}
			if res.Rows != 500 {
				t.Errorf("%d rows", res.Rows)
			}
			switch f {
			case Parquet:
				tbl := readParquet(t, out)
				defer tbl.Release()
				if tbl.NumRows() != 500 || tbl.Schema().Field(1).Type.(*arrow.TimestampType).TimeZone != "UTC" {
					t.Errorf("read back %d rows, schema %v", tbl.NumRows(), tbl.Schema())
				}
			case NDJSON:
				data, _ := os.ReadFile(out)
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				var row struct {
					ID      string
					Ts      time.Time
					Objects []string
				}
				if err := json.Unmarshal([]byte(lines[7]), &row); err != nil {
					t.Fatal(err)
				}
				if len(lines) != 500 || !row.Ts.Equal(want[row.ID]) || !slices.Equal(row.Objects, []string{"obj " + row.ID}) {
					t.Errorf("%d lines; line 8 %s", len(lines), lines[7])
				}
			case CSV:
				data, _ := os.ReadFile(out)
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				if len(lines) != 501 || lines[0] != "id,ts,day,objects" {
					t.Errorf("%d lines, header %q", len(lines), lines[0])
				}
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestTextSinkReportsWriteErrors(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rdr, _ := rows(t, mem, 5000, 2, 500)
	defer rdr.Release()
	s := newTextSink(failingWriter{}, output.NormalizeSchema(testSchema), "ndjson")
	var err error
	for rdr.Next() && err == nil {
		rec := output.Normalize(rdr.RecordBatch())
		err = s.write(rec)
		rec.Release()
	}
	if cerr := s.close(); err == nil {
		err = cerr
	}
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("error %v, want disk full", err)
	}
}

func TestOutputChecks(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "there")
	os.WriteFile(existing, nil, 0o600)
	if err := CheckOut(existing, false); !errors.Is(err, ErrExists) {
		t.Errorf("existing output: %v", err)
	}
	if err := CheckOut(existing, true); err != nil {
		t.Errorf("--force: %v", err)
	}
	if err := CheckOut(filepath.Join(dir, "no", "x"), false); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Errorf("missing folder: %v", err)
	}
	if _, err := ParseFormat("xlsx"); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("format: %v", err)
	}
	if _, err := SelectColumns([]string{"a", "b"}, []string{"b", "c"}); !errors.Is(err, ErrUnknownColumn) || !strings.Contains(err.Error(), "accepted: a, b") {
		t.Errorf("columns: %v", err)
	}
	if idx, err := SelectColumns([]string{"a", "b", "c"}, ParseColumns(" c, a ,")); err != nil || !slices.Equal(idx, []int{2, 0}) {
		t.Errorf("columns: %v %v", idx, err)
	}
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	rdr, _ := rows(t, mem, 10, 1, 10)
	defer rdr.Release()
	noDay := Project(rdr, []int{0})
	defer noDay.Release()
	noDay.Retain()
	if _, err := Write(t.Context(), filepath.Join(dir, "p"), noDay, Options{Format: CSV, PartitionByDay: true}); !errors.Is(err, ErrNoDay) {
		t.Errorf("partition without a day: %v", err)
	}
}

func FuzzParseColumns(f *testing.F) {
	for _, s := range []string{"a,b", " a , ,b,", "", ",,,", "id,ts,raw"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, n := range ParseColumns(s) {
			if n == "" || n != strings.TrimSpace(n) || strings.Contains(n, ",") {
				t.Fatalf("ParseColumns(%q) gave %q", s, n)
			}
		}
	})
}

func TestConcatOpensPartsOneAtATime(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	opened := 0
	part := func(n int) func() (array.RecordReader, error) {
		return func() (array.RecordReader, error) {
			opened++
			rdr, _ := rows(t, mem, n, 1, 4)
			return rdr, nil
		}
	}
	c := Concat(testSchema, []func() (array.RecordReader, error){part(5), part(0), part(7)})
	defer c.Release()
	total := 0
	for c.Next() {
		total += int(c.RecordBatch().NumRows())
		if total <= 5 && opened != 1 {
			t.Fatalf("%d parts open while reading the first", opened)
		}
	}
	if c.Err() != nil || total != 12 || opened != 3 {
		t.Fatalf("err %v, %d rows from %d parts; want 12 from 3", c.Err(), total, opened)
	}
	other := arrow.NewSchema([]arrow.Field{{Name: "x", Type: arrow.BinaryTypes.String}}, nil)
	bad := Concat(other, []func() (array.RecordReader, error){part(3)})
	defer bad.Release()
	if bad.Next() || bad.Err() == nil || !strings.Contains(bad.Err().Error(), "differs") {
		t.Fatalf("schema mismatch: %v", bad.Err())
	}
}
