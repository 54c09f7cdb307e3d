// Package output renders a query result (an Arrow record reader) as an aligned terminal table,
// CSV, JSON, NDJSON, Markdown or Parquet.
package output

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// Format is an output format.
type Format string

// The formats Write accepts.
const (
	Table    Format = "table"
	CSV      Format = "csv"
	JSON     Format = "json"
	NDJSON   Format = "ndjson"
	Markdown Format = "markdown"
	Parquet  Format = "parquet"
)

// Formats lists every format, the default first.
var Formats = []Format{Table, CSV, JSON, NDJSON, Markdown, Parquet}

// ErrUnknownFormat is returned (wrapped) by ParseFormat.
var ErrUnknownFormat = errors.New("unknown format")

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	f := Format(strings.ToLower(strings.TrimSpace(s)))
	if f == "md" {
		f = Markdown
	}
	if !slices.Contains(Formats, f) {
		names := make([]string, len(Formats))
		for i, f := range Formats {
			names[i] = string(f)
		}
		return "", fmt.Errorf("%w %q; accepted: %s", ErrUnknownFormat, s, strings.Join(names, ", "))
	}
	return f, nil
}

// NoRows is what the human formats (table, markdown) print for an empty result.
const NoRows = "no rows"

// Options tune Write.
type Options struct {
	Format Format
	// Width is the terminal width a table must fit (0: no limit, every value whole): see
	// writeTable for how. Wide is --wide, the same as Width 0.
	Width int
	Wide  bool
	// Meta is what JSON puts beside the rows ({"meta": …, "rows": […]}); the other formats hold
	// rows only, and the caller says the meta elsewhere (stderr).
	Meta *Meta
	// Entities names columns, beyond the well-known ones (IsEntity), whose values a table must
	// never cut: an investigation's header lists them.
	Entities []string
}

func (o Options) width() int {
	if o.Wide {
		return 0
	}
	return o.Width
}

// Write renders every batch of rdr to w and returns the number of rows written. It does not
// release rdr. Table and Markdown say NoRows for an empty result; CSV writes the header alone,
// JSON its meta and an empty rows array, NDJSON nothing, Parquet a file with the schema and no
// rows.
func Write(w io.Writer, rdr array.RecordReader, opts Options) (int, error) {
	var (
		n   int
		err error
	)
	switch opts.Format {
	case "", Table:
		n, err = writeTable(w, rdr, opts)
	case CSV:
		n, err = writeCSV(w, rdr)
	case JSON:
		n, err = writeEnvelope(w, rdr, opts.Meta)
	case NDJSON:
		n, err = writeJSON(w, rdr, true)
	case Markdown:
		n, err = writeMarkdown(w, rdr)
	case Parquet:
		n, err = writeParquet(w, rdr)
	default:
		_, err = ParseFormat(string(opts.Format))
	}
	if err == nil {
		err = rdr.Err()
	}
	if err != nil {
		return n, fmt.Errorf("write %s: %w", opts.Format, err)
	}
	return n, nil
}

// each calls f for every row of every batch.
func each(rdr array.RecordReader, f func(rec arrow.RecordBatch, row int) error) (int, error) {
	n := 0
	for rdr.Next() {
		rec := rdr.RecordBatch()
		for i := 0; i < int(rec.NumRows()); i++ {
			if err := f(rec, i); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, rdr.Err()
}

func header(s *arrow.Schema) []string {
	h := make([]string, s.NumFields())
	for i, f := range s.Fields() {
		h[i] = f.Name
	}
	return h
}
