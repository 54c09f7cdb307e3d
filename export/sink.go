package export

import (
	"bufio"
	"errors"
	"io"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/output"
)

// sink writes batches of one schema to one file.
type sink interface {
	write(rec arrow.RecordBatch) error
	// close finishes the file (footer, flush); the caller syncs and closes the *os.File.
	close() error
	// abort stops a sink after an error elsewhere, without finishing the file.
	abort()
}

func newSink(w io.Writer, schema *arrow.Schema, opts Options) (sink, error) {
	if opts.Format == Parquet {
		return newParquetSink(w, schema, opts.RowGroupRows)
	}
	return newTextSink(w, schema, output.Format(opts.Format)), nil
}

// parquetSink writes the Parquet file `query --format parquet` writes (output.ParquetWriter).
type parquetSink struct{ pw *output.ParquetWriter }

func newParquetSink(w io.Writer, schema *arrow.Schema, rowGroupRows int) (*parquetSink, error) {
	pw, err := output.NewParquetWriter(w, schema, rowGroupRows)
	if err != nil {
		return nil, err
	}
	return &parquetSink{pw: pw}, nil
}

func (s *parquetSink) write(rec arrow.RecordBatch) error { return s.pw.Write(rec) }
func (s *parquetSink) close() error                      { return s.pw.Close() }
func (s *parquetSink) abort()                            { s.pw.Close() }

// textSink renders CSV or NDJSON with the output package, so an export reads exactly like
// `mcasload query --format csv|ndjson`. output.Write consumes a record reader; batches reach it
// through a channel from a goroutine, since the export hands them over one at a time.
type textSink struct {
	ch   chan arrow.RecordBatch
	done chan struct{}
	err  error
	bw   *bufio.Writer
}

func newTextSink(w io.Writer, schema *arrow.Schema, format output.Format) *textSink {
	s := &textSink{ch: make(chan arrow.RecordBatch), done: make(chan struct{}), bw: bufio.NewWriterSize(w, 256<<10)}
	rdr := &chanReader{schema: schema, ch: s.ch}
	go func() {
		defer close(s.done)
		_, err := output.Write(s.bw, rdr, output.Options{Format: format})
		if err == nil {
			err = s.bw.Flush()
		}
		// After an error nothing reads the channel any more; write sees done instead.
		rdr.releaseCurrent()
		s.err = err
	}()
	return s
}

func (s *textSink) write(rec arrow.RecordBatch) error {
	rec.Retain()
	select {
	case s.ch <- rec:
		return nil
	case <-s.done:
		rec.Release()
		if s.err == nil {
			return errors.New("write text: the writer stopped early")
		}
		return s.err
	}
}

func (s *textSink) close() error {
	close(s.ch)
	<-s.done
	return s.err
}

func (s *textSink) abort() { s.close() }

// chanReader is an array.RecordReader over batches sent on a channel; it owns each batch it
// receives and releases it when the next one is read.
type chanReader struct {
	schema *arrow.Schema
	ch     chan arrow.RecordBatch
	cur    arrow.RecordBatch
	closed bool
}

var _ array.RecordReader = (*chanReader)(nil)

func (r *chanReader) Retain()                        {}
func (r *chanReader) Release()                       {}
func (r *chanReader) Schema() *arrow.Schema          { return r.schema }
func (r *chanReader) RecordBatch() arrow.RecordBatch { return r.cur }
func (r *chanReader) Record() arrow.RecordBatch      { return r.cur }
func (r *chanReader) Err() error                     { return nil }
func (r *chanReader) Next() bool {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	if r.closed {
		return false
	}
	rec, ok := <-r.ch
	if !ok {
		r.closed = true
		return false
	}
	r.cur = rec
	return true
}

func (r *chanReader) releaseCurrent() {
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
}
