package output

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"slices"
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

// writeTable aligns columns. When the table is wider than opts.Width (a terminal), it fits the
// way the DuckDB CLI does, but never at the cost of the facts an analyst acts on: users and IPs
// keep their whole values, ids are shown whole or not at all; other columns shrink, their long
// cells ending in "…", or are left out (fitColumns), and a last line names what was left out;
// when the users and IPs alone do not fit side by side, each row becomes a block of lines
// (writeRecords). Width 0 (a pipe, a file, --max-width 0) prints every value whole. Line breaks
// in cells are shown as "↵" so every row is one line.
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
	natural := make([]int, len(h))
	for c, name := range h {
		natural[c] = utf8.RuneCountInString(name)
	}
	for _, r := range rows {
		for c := range r {
			r[c] = oneLine.Replace(r[c])
			natural[c] = max(natural[c], utf8.RuneCountInString(r[c]))
		}
	}
	kind := make([]int, len(h))
	for c, f := range rdr.Schema().Fields() {
		kind[c] = columnKind(f.Name, opts.Entities)
		if kind[c] == plainColumn && !isText(f.Type) {
			kind[c] = wholeColumn // a cut number or time reads as another one
		}
	}
	if keys := keyWidth(natural, kind); opts.width() > 0 && keys > opts.width() {
		return len(rows), writeRecords(w, h, rows, kind, opts.width())
	}
	fit := fitColumns(natural, h, kind, opts.width())

	var b strings.Builder
	line := func(vals []string, right []bool) {
		for i, c := range fit.shown {
			if i > 0 {
				b.WriteString("  ")
			}
			v := truncate(vals[c], fit.widths[c])
			pad := strings.Repeat(" ", fit.widths[c]-utf8.RuneCountInString(v))
			switch {
			case right != nil && right[c]:
				b.WriteString(pad + v)
			case i == len(fit.shown)-1:
				b.WriteString(v)
			default:
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
		rule[c] = strings.Repeat("─", fit.widths[c])
	}
	line(rule, nil)
	for _, r := range rows {
		line(r, right)
	}
	if len(fit.hidden) > 0 {
		names := make([]string, len(fit.hidden))
		for i, c := range fit.hidden {
			names[i] = h[c]
		}
		note := fmt.Sprintf("hidden to fit %d columns: %s (--max-width 0 shows them)", opts.width(), strings.Join(names, ", "))
		b.WriteString(wrapWords(note, opts.width()) + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return len(rows), err
}

// entityNames are the columns whose values are the facts an analyst acts on: who and from where.
// Investigations name more in their headers (Options.Entities).
var entityNames = map[string]bool{
	"user": true, "user_name": true, "users": true, "user_list": true, "actor": true, "owner": true,
	"ip": true, "ips": true, "tenant": true,
}

// idNames are the columns of record ids: never cut (a cut id finds nothing), but hidden whole
// when they do not fit, since 64 hex digits each would crowd out the users and IPs.
var idNames = map[string]bool{"id": true, "ids": true, "evidence_ids": true}

// IsEntity reports whether a column named name holds values a table must never cut: a
// well-known name (user, user_name, actor, owner, ip, ips, tenant, id, ids, evidence_ids, …), a
// name ending in _user, _users, _ip, _ips, _id or _ids (from_ip, target_user), or one of extra.
func IsEntity(name string, extra []string) bool {
	return columnKind(name, extra) != plainColumn
}

// How a table may fit a column into a terminal.
const (
	plainColumn = iota // text: may shrink (cells end in "…") or be hidden
	wholeColumn        // numbers, times, booleans: shown whole or hidden
	idColumn           // ids: shown whole or hidden, before the columns above
	keyColumn          // users and IPs: always shown whole
)

// isText reports whether cells of type t are text that may be shortened with "…".
func isText(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRING, arrow.LARGE_STRING, arrow.STRING_VIEW, arrow.BINARY, arrow.LARGE_BINARY,
		arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.STRUCT, arrow.MAP:
		return true
	}
	return false
}

func columnKind(name string, extra []string) int {
	n := strings.ToLower(name)
	switch {
	case entityNames[n] || slices.Contains(extra, name):
		return keyColumn
	case idNames[n] || strings.HasSuffix(n, "_id") || strings.HasSuffix(n, "_ids"):
		return idColumn
	}
	for _, suffix := range []string{"_user", "_users", "_ip", "_ips"} {
		if strings.HasSuffix(n, suffix) {
			return keyColumn
		}
	}
	return plainColumn
}

// fitted is how a table fits its width: the columns shown (in order), each one's width, and
// the columns left out.
type fitted struct {
	shown, hidden []int
	widths        []int
}

// fitColumns fits columns of natural widths into width (0: no limit). Users and IPs are always
// shown whole; then id columns, whole, while they fit; then other columns, left to right, while
// they fit: numbers and times whole, text at its floor (its header or 8 characters, or its
// natural width when smaller). The space left widens the shrunk columns again. When users and IPs alone are wider than
// width they are shown whole all the same and the terminal wraps: cutting a user or an IP
// would be worse.
func fitColumns(natural []int, h []string, kind []int, width int) fitted {
	f := fitted{widths: slices.Clone(natural)}
	if width <= 0 {
		for c := range natural {
			f.shown = append(f.shown, c)
		}
		return f
	}
	floor := func(c int) int {
		if kind[c] != plainColumn {
			return natural[c]
		}
		return min(natural[c], max(utf8.RuneCountInString(h[c]), 8))
	}
	take := map[int]bool{}
	used := -2 // no gap before the first column
	for _, k := range []int{keyColumn, idColumn, -1} {
		for c := range natural {
			if (kind[c] == k || k < 0 && kind[c] <= wholeColumn) && (k == keyColumn || used+2+floor(c) <= width) {
				take[c] = true
				used += 2 + floor(c)
			}
		}
	}
	for c := range natural {
		if take[c] {
			f.shown = append(f.shown, c)
			f.widths[c] = floor(c)
		} else {
			f.hidden = append(f.hidden, c)
		}
	}
	// Widen the shrunk columns again, one character at a time to the narrowest, while it fits.
	for used < width {
		narrowest := -1
		for _, c := range f.shown {
			if f.widths[c] < natural[c] && (narrowest < 0 || f.widths[c] < f.widths[narrowest]) {
				narrowest = c
			}
		}
		if narrowest < 0 {
			break
		}
		f.widths[narrowest]++
		used++
	}
	return f
}

// keyWidth is the width of the users and IPs side by side.
func keyWidth(natural, kind []int) int {
	w := -2
	for c, k := range kind {
		if k == keyColumn {
			w += 2 + natural[c]
		}
	}
	return w
}

// writeRecords prints each row as a block of "column = value" lines, as the DuckDB CLI's line
// mode does (psql's expanded display): the table's form when even the users and IPs do not fit
// side by side. Users, IPs, ids, numbers and times stay whole; long text ends in "…".
func writeRecords(w io.Writer, h []string, rows [][]string, kind []int, width int) error {
	nameW := 0
	for _, name := range h {
		nameW = max(nameW, utf8.RuneCountInString(name))
	}
	var b strings.Builder
	for i, r := range rows {
		if i > 0 {
			b.WriteString("\n")
		}
		for c, name := range h {
			v := r[c]
			if kind[c] == plainColumn {
				v = truncate(v, max(width-nameW-3, 8))
			}
			b.WriteString(strings.Repeat(" ", nameW-utf8.RuneCountInString(name)) + name + " =")
			if v != "" {
				b.WriteString(" " + v)
			}
			b.WriteString("\n")
		}
	}
	note := fmt.Sprintf("(one line per column: the users and IPs do not fit %d columns side by side; --max-width 0 prints a table)", width)
	b.WriteString("\n" + wrapWords(note, width) + "\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// wrapWords breaks text into lines of at most width runes at spaces.
func wrapWords(text string, width int) string {
	var b strings.Builder
	n := 0
	for i, word := range strings.Fields(text) {
		l := utf8.RuneCountInString(word)
		switch {
		case i == 0:
		case n+1+l > width:
			b.WriteString("\n")
			n = 0
		default:
			b.WriteString(" ")
			n++
		}
		b.WriteString(word)
		n += l
	}
	return b.String()
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
