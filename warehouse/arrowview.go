package warehouse

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"

	"github.com/mcasload/mcasload/internal/arrowscan"
)

// withView registers records as the view memory.main.<name> for the duration of f. DuckDB reads
// the Arrow buffers in place (no staging copy); the view is a one-shot stream, so each statement
// that reads the rows registers them again, and reads every column of the view (DuckDB's C API
// hands the stream's batches to its scan whole, so a statement that skips a column reads the
// wrong ones: the view holds exactly the columns its statement reads). The view lives in the in-memory catalog, never in
// the warehouse file, and is dropped before its stream is released.
func withView(ctx context.Context, s *session, name string, sch *arrow.Schema, records []arrow.RecordBatch, f func(view string) error) error {
	rdr, err := array.NewRecordReader(sch, records)
	if err != nil {
		return fmt.Errorf("read batch: %w", err)
	}
	defer rdr.Release()
	var release func()
	err = s.conn.Raw(func(dc any) error {
		release, err = arrowscan.Register(dc.(driver.Conn), rdr, name)
		return err
	})
	if err != nil {
		return fmt.Errorf("register batch %s: %w", name, err)
	}
	defer release()
	ferr := f("memory.main." + name)
	if err := s.exec(context.WithoutCancel(ctx), `DROP VIEW IF EXISTS memory.main.`+name); err != nil && ferr == nil {
		ferr = fmt.Errorf("drop batch view %s: %w", name, err)
	}
	return ferr
}
