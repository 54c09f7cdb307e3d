package export

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"

	"github.com/mcasload/mcasload/output"
)

// parquetShape is what a Parquet file's settings look like from outside: its stored Arrow
// schema, its row group lengths, the codec of every column chunk, and the encodings of raw.
type parquetShape struct {
	Schema       string
	RowGroups    []int64
	Codecs       []string
	RawEncodings []string
}

func readShape(t *testing.T, path string) parquetShape {
	t.Helper()
	pf, err := file.OpenParquetFile(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	tbl := readParquet(t, path)
	defer tbl.Release()
	sh := parquetShape{Schema: tbl.Schema().String()}
	raw := pf.MetaData().Schema.ColumnIndexByName("raw")
	for i := range pf.NumRowGroups() {
		rg := pf.MetaData().RowGroup(i)
		sh.RowGroups = append(sh.RowGroups, rg.NumRows())
		for c := range rg.NumColumns() {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				t.Fatal(err)
			}
			if codec := cc.Compression().String(); !slices.Contains(sh.Codecs, codec) {
				sh.Codecs = append(sh.Codecs, codec)
			}
			if c == raw {
				for _, e := range cc.Encodings() {
					sh.RawEncodings = append(sh.RawEncodings, e.String())
				}
			}
		}
	}
	slices.Sort(sh.RawEncodings)
	sh.RawEncodings = slices.Compact(sh.RawEncodings)
	return sh
}

// TestParquetSameAsQuery pins that export and `query --format parquet` (output.Write) write the
// same kind of file, through one writer: the same codec, row group length, raw encoding and
// stored types (a zone-less timestamp labelled UTC), and that these are the intended ones.
func TestParquetSameAsQuery(t *testing.T) {
	mem := memory.NewCheckedAllocator(memory.NewGoAllocator())
	defer mem.AssertSize(t, 0)
	sc := arrow.NewSchema([]arrow.Field{
		{Name: "id", Type: arrow.BinaryTypes.String},
		{Name: "ts", Type: &arrow.TimestampType{Unit: arrow.Millisecond}},
		{Name: "raw", Type: arrow.BinaryTypes.String},
		{Name: "objects", Type: arrow.ListOf(arrow.BinaryTypes.String)},
	}, nil)
	n := output.ParquetRowGroupRows + 1000
	result := func() array.RecordReader {
		b := array.NewRecordBuilder(mem, sc)
		defer b.Release()
		var recs []arrow.RecordBatch
		for i := range n {
			id := fmt.Sprintf("id-%06d", i)
			b.Field(0).(*array.StringBuilder).Append(id)
			b.Field(1).(*array.TimestampBuilder).Append(arrow.Timestamp(day0.UnixMilli() + int64(i)))
			b.Field(2).(*array.StringBuilder).Append(`{"_id":"` + id + `"}`)
			lb := b.Field(3).(*array.ListBuilder)
			lb.Append(true)
			lb.ValueBuilder().(*array.StringBuilder).Append("obj")
			if (i+1)%50000 == 0 || i == n-1 {
				recs = append(recs, b.NewRecordBatch())
			}
		}
		rdr, err := array.NewRecordReader(sc, recs)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			r.Release()
		}
		return rdr
	}
	dir := t.TempDir()
	exported := filepath.Join(dir, "export.parquet")
	rdr := result()
	_, err := Write(t.Context(), exported, rdr, Options{Format: Parquet})
	rdr.Release()
	if err != nil {
		t.Fatal(err)
	}
	queried := filepath.Join(dir, "query.parquet")
	f, err := os.Create(queried)
	if err != nil {
		t.Fatal(err)
	}
	rdr = result()
	_, err = output.Write(f, rdr, output.Options{Format: output.Parquet})
	rdr.Release()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}

	e, q := readShape(t, exported), readShape(t, queried)
	if fmt.Sprint(e) != fmt.Sprint(q) {
		t.Errorf("export and query write different Parquet:\nexport %+v\nquery  %+v", e, q)
	}
	if want := []int64{int64(output.ParquetRowGroupRows), 1000}; !slices.Equal(e.RowGroups, want) {
		t.Errorf("row groups %v, want %v", e.RowGroups, want)
	}
	if !slices.Equal(e.Codecs, []string{"ZSTD"}) {
		t.Errorf("codecs %v, want ZSTD only", e.Codecs)
	}
	if slices.ContainsFunc(e.RawEncodings, func(s string) bool { return strings.Contains(s, "DICT") }) {
		t.Errorf("raw is dictionary-encoded (%v); it is unique per row", e.RawEncodings)
	}
	if !strings.Contains(e.Schema, "ts: type=timestamp[ms, tz=UTC]") {
		t.Errorf("stored schema %s: ts is not a UTC timestamp", e.Schema)
	}
}
