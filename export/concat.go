package export

import (
	"fmt"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Concat returns one reader over the readers that open returns in turn, opened one at a time
// only when the previous one is exhausted: DuckDB materializes an Arrow result whole, so an
// export of a month runs one query per day to keep memory to a day's rows. Every part must have
// schema s. The concatenation releases each part when done with it.
func Concat(s *arrow.Schema, open []func() (array.RecordReader, error)) array.RecordReader {
	return &concat{schema: s, open: open, refs: 1}
}

type concat struct {
	schema *arrow.Schema
	open   []func() (array.RecordReader, error)
	cur    array.RecordReader
	err    error
	refs   int64
}

func (c *concat) Retain()                        { c.refs++ }
func (c *concat) Schema() *arrow.Schema          { return c.schema }
func (c *concat) Err() error                     { return c.err }
func (c *concat) Record() arrow.RecordBatch      { return c.RecordBatch() }
func (c *concat) RecordBatch() arrow.RecordBatch { return c.cur.RecordBatch() }

func (c *concat) Release() {
	if c.refs--; c.refs > 0 {
		return
	}
	if c.cur != nil {
		c.cur.Release()
		c.cur = nil
	}
}

func (c *concat) Next() bool {
	for c.err == nil {
		if c.cur != nil {
			if c.cur.Next() {
				return true
			}
			c.err = c.cur.Err()
			c.cur.Release()
			c.cur = nil
			continue
		}
		if len(c.open) == 0 {
			return false
		}
		rdr, err := c.open[0]()
		c.open = c.open[1:]
		if err != nil {
			c.err = err
			return false
		}
		if !rdr.Schema().Equal(c.schema) {
			rdr.Release()
			c.err = fmt.Errorf("concatenate results: schema %s differs from %s", rdr.Schema(), c.schema)
			return false
		}
		c.cur = rdr
	}
	return false
}
