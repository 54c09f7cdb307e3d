package output

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// writeParquet writes one zstd Parquet file with the result's Arrow schema stored, so a
// notebook reads back the same types (UTC timestamps, lists as lists).
func writeParquet(w io.Writer, rdr array.RecordReader) (int, error) {
	props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithCreatedBy("mcasload"))
	// The Parquet writer closes a writer that is an io.Closer; the caller owns w.
	fw, err := pqarrow.NewFileWriter(rdr.Schema(), struct{ io.Writer }{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
	if err != nil {
		return 0, err
	}
	n := 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if err := fw.WriteBuffered(rec); err != nil {
			fw.Close()
			return n, err
		}
		n += int(rec.NumRows())
	}
	if err := rdr.Err(); err != nil {
		fw.Close()
		return n, err
	}
	return n, fw.Close()
}
