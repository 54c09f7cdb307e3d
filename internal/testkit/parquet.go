package testkit

import (
	"bytes"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ReadParquet opens the Parquet file data with arrow-go, allocating from mem, and hands fn the
// file and a reader of all its rows; both are released when fn returns. Golden tests render the
// rows as text: a Parquet file's bytes carry library versions, its content is what must not change.
func ReadParquet(t testing.TB, data []byte, mem memory.Allocator, fn func(pf *file.Reader, rr array.RecordReader)) {
	t.Helper()
	pf, err := file.NewParquetReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	defer pf.Close()
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: 1024}, mem)
	if err != nil {
		t.Fatal(err)
	}
	rr, err := fr.GetRecordReader(t.Context(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rr.Release()
	fn(pf, rr)
}
