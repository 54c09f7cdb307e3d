package output

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

func writeCSV(w io.Writer, rdr array.RecordReader) (int, error) {
	cw := csv.NewWriter(w)
	if err := cw.Write(header(rdr.Schema())); err != nil {
		return 0, err
	}
	row := make([]string, rdr.Schema().NumFields())
	n, err := each(rdr, func(rec arrow.RecordBatch, i int) error {
		for c := range row {
			row[c] = text(rec.Column(c), i)
		}
		return cw.Write(row)
	})
	cw.Flush()
	if err == nil {
		err = cw.Error()
	}
	return n, err
}

// orderedRow marshals a row as a JSON object with the columns in result order.
type orderedRow struct {
	names  []string
	values []any
}

func (r orderedRow) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range r.names {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(name)
		v, err := json.Marshal(r.values[i])
		if err != nil {
			return nil, fmt.Errorf("column %s: %w", name, err)
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

// writeEnvelope writes {"meta": meta, "rows": [...]}: meta first, so a reader knows what the
// rows answer before reading them, and one row per line as before.
func writeEnvelope(w io.Writer, rdr array.RecordReader, meta *Meta) (int, error) {
	if meta == nil {
		meta = &Meta{}
	}
	m, err := json.Marshal(meta)
	if err != nil {
		return 0, fmt.Errorf("meta: %w", err)
	}
	if _, err := io.WriteString(w, `{"meta":`+string(m)+`,"rows":`); err != nil {
		return 0, err
	}
	n, err := writeJSON(w, rdr, false)
	if err != nil {
		return n, err
	}
	_, err = io.WriteString(w, "}\n")
	return n, err
}

func writeJSON(w io.Writer, rdr array.RecordReader, lines bool) (int, error) {
	names := header(rdr.Schema())
	if !lines {
		if _, err := io.WriteString(w, "["); err != nil {
			return 0, err
		}
	}
	rows := 0
	n, err := each(rdr, func(rec arrow.RecordBatch, i int) error {
		r := orderedRow{names: names, values: make([]any, len(names))}
		for c := range names {
			r.values[c] = goValue(rec.Column(c), i)
		}
		b, err := json.Marshal(r)
		if err != nil {
			return err
		}
		switch {
		case lines:
			b = append(b, '\n')
		case rows == 0:
			b = append([]byte("\n  "), b...)
		default:
			b = append([]byte(",\n  "), b...)
		}
		rows++
		_, err = w.Write(b)
		return err
	})
	if err != nil || lines {
		return n, err
	}
	end := "]"
	if n > 0 {
		end = "\n]"
	}
	_, err = io.WriteString(w, end)
	return n, err
}

// cells reads the whole result as text cells; the table and Markdown need every width first.
func cells(rdr array.RecordReader) ([][]string, error) {
	var rows [][]string
	_, err := each(rdr, func(rec arrow.RecordBatch, i int) error {
		row := make([]string, rec.NumCols())
		for c := range row {
			// Clone: a string cell aliases the batch's buffer, which the next batch may free
			// (DuckDB's reader hands out C memory).
			row[c] = strings.Clone(text(rec.Column(c), i))
		}
		rows = append(rows, row)
		return nil
	})
	return rows, err
}

func writeMarkdown(w io.Writer, rdr array.RecordReader) (int, error) {
	rows, err := cells(rdr)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, NoRows)
		return 0, err
	}
	esc := strings.NewReplacer("|", "\\|", "\r\n", "<br>", "\n", "<br>", "\r", "<br>")
	var b strings.Builder
	line := func(vals []string) {
		b.WriteString("|")
		for _, v := range vals {
			b.WriteString(" " + esc.Replace(v) + " |")
		}
		b.WriteString("\n")
	}
	h := header(rdr.Schema())
	line(h)
	sep := make([]string, len(h))
	for i := range sep {
		sep[i] = "---"
	}
	line(sep)
	for _, r := range rows {
		line(r)
	}
	_, err = io.WriteString(w, b.String())
	return len(rows), err
}

// writeTable aligns columns; when the table is wider than opts.Width and opts.Wide is off,
// the widest columns shrink one character at a time (never below their header or 8 characters)
// and their long cells end in "…". Line breaks in cells are shown as "↵" so every row is one line.
func writeTable(w io.Writer, rdr array.RecordReader, opts Options) (int, error) {
	rows, err := cells(rdr)
	if err != nil {
		return 0, err
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintln(w, NoRows)
		return 0, err
	}
	h := header(rdr.Schema())
	oneLine := strings.NewReplacer("\r\n", "↵", "\n", "↵", "\r", "↵", "\t", " ")
	widths := make([]int, len(h))
	for c, name := range h {
		widths[c] = utf8.RuneCountInString(name)
	}
	for _, r := range rows {
		for c := range r {
			r[c] = oneLine.Replace(r[c])
			widths[c] = max(widths[c], utf8.RuneCountInString(r[c]))
		}
	}
	if opts.Width > 0 && !opts.Wide {
		shrink(widths, h, opts.Width)
	}
	var b strings.Builder
	line := func(vals []string, right []bool) {
		for c, v := range vals {
			if c > 0 {
				b.WriteString("  ")
			}
			v = truncate(v, widths[c])
			pad := strings.Repeat(" ", widths[c]-utf8.RuneCountInString(v))
			if right != nil && right[c] {
				b.WriteString(pad + v)
			} else if c == len(vals)-1 {
				b.WriteString(v)
			} else {
				b.WriteString(v + pad)
			}
		}
		b.WriteString("\n")
	}
	right := make([]bool, len(h))
	for c, f := range rdr.Schema().Fields() {
		right[c] = isNumeric(f.Type)
	}
	line(h, nil)
	rule := make([]string, len(h))
	for c := range rule {
		rule[c] = strings.Repeat("─", widths[c])
	}
	line(rule, nil)
	for _, r := range rows {
		line(r, right)
	}
	_, err = io.WriteString(w, b.String())
	return len(rows), err
}

// shrink narrows the widest columns until the row fits width.
func shrink(widths []int, h []string, width int) {
	total := func() int {
		t := 2 * (len(widths) - 1)
		for _, w := range widths {
			t += w
		}
		return t
	}
	for total() > width {
		widest := -1
		for c, w := range widths {
			floor := max(utf8.RuneCountInString(h[c]), 8)
			if w > floor && (widest < 0 || w > widths[widest]) {
				widest = c
			}
		}
		if widest < 0 {
			return // nothing can shrink further; the terminal wraps
		}
		widths[widest]--
	}
}

func truncate(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:width-1]) + "…"
}

func isNumeric(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32,
		arrow.UINT64, arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.DECIMAL128, arrow.DECIMAL256:
		return true
	}
	return false
}
