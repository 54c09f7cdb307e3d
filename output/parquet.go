package output

import (
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/compress"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// ParquetRowGroupRows is the row group length of the Parquet files mcasload writes for users
// (query --format parquet, export): DuckDB's own default, large enough for fast scans, small
// enough that a reader can skip by the row group statistics.
const ParquetRowGroupRows = 122880

// ParquetWriter writes the one kind of Parquet file mcasload hands to users, so `query --format
// parquet` and `export` produce the same: zstd, ParquetRowGroupRows rows per row group, no
// dictionary for raw (unique per row), and the Arrow schema stored in the file with every
// zone-less timestamp given the UTC zone (NormalizeSchema), so notebooks read back the same
// types: UTC instants, lists as lists.
type ParquetWriter struct {
	fw *pqarrow.FileWriter
}

// parquetProperties are the settings of every file ParquetWriter writes; rowGroupRows <= 0
// means ParquetRowGroupRows.
func parquetProperties(rowGroupRows int) (*parquet.WriterProperties, pqarrow.ArrowWriterProperties) {
	if rowGroupRows <= 0 {
		rowGroupRows = ParquetRowGroupRows
	}
	props := parquet.NewWriterProperties(
		parquet.WithCompression(compress.Codecs.Zstd),
		parquet.WithMaxRowGroupLength(int64(rowGroupRows)),
		parquet.WithCreatedBy("mcasload"),
		parquet.WithDictionaryFor("raw", false))
	return props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema())
}

// NewParquetWriter starts a file of batches of schema on w; rowGroupRows <= 0 means
// ParquetRowGroupRows (tests pass small values). The caller owns w: Close finishes the file
// without closing it.
func NewParquetWriter(w io.Writer, schema *arrow.Schema, rowGroupRows int) (*ParquetWriter, error) {
	props, arrowProps := parquetProperties(rowGroupRows)
	// The Parquet writer closes a writer that is an io.Closer; hide Close from it.
	fw, err := pqarrow.NewFileWriter(NormalizeSchema(schema), struct{ io.Writer }{w}, props, arrowProps)
	if err != nil {
		return nil, err
	}
	return &ParquetWriter{fw: fw}, nil
}

// Write adds a batch of the writer's schema; the caller keeps ownership of rec.
func (p *ParquetWriter) Write(rec arrow.RecordBatch) error {
	n := Normalize(rec)
	defer n.Release()
	return p.fw.WriteBuffered(n)
}

// Close writes the last row group and the footer.
func (p *ParquetWriter) Close() error { return p.fw.Close() }

// writeParquet writes the result as one ParquetWriter file.
func writeParquet(w io.Writer, rdr array.RecordReader) (int, error) {
	pw, err := NewParquetWriter(w, rdr.Schema(), 0)
	if err != nil {
		return 0, err
	}
	n := 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		if err := pw.Write(rec); err != nil {
			pw.Close()
			return n, err
		}
		n += int(rec.NumRows())
	}
	if err := rdr.Err(); err != nil {
		pw.Close()
		return n, err
	}
	return n, pw.Close()
}
