package bench

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Row is one line of the benchmark table. Zero figures print as blanks, so a row shows only what
// its measurement has.
type Row struct {
	Step      string        // "1 offline", "2 memory", …
	What      string        // what ran, e.g. "mcasload load 100k"
	Records   int64         // records handled
	Wall      time.Duration // wall time of the process (or the measured window)
	RecPerSec float64
	MBPerSec  float64
	PeakRSS   int64  // bytes
	Figure    string // the headline figure of the row: a ratio, a share of the ceiling, …
	Target    string // the target the figure is held to, e.g. "≥ 1.0"
	// Met is "yes", "no" or "" (no target on this row).
	Met string
}

// Table is the benchmark result: rows in the order measured, plus notes (skips, caveats).
type Table struct {
	mu    sync.Mutex // steps that measure concurrently (the online scans) add from goroutines
	Rows  []Row
	Notes []string
}

// Add appends rows.
func (t *Table) Add(rows ...Row) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Rows = append(t.Rows, rows...)
}

// Note records a caveat printed under the table.
func (t *Table) Note(format string, args ...any) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.Notes = append(t.Notes, fmt.Sprintf(format, args...))
}

// verdict renders a target check.
func verdict(ok bool) string {
	if ok {
		return "yes"
	}
	return "no"
}

func (r Row) cells() []string {
	c := []string{r.Step, r.What, "", "", "", "", "", r.Figure, r.Target, r.Met}
	if r.Records > 0 {
		c[2] = groupDigits(r.Records)
	}
	if r.Wall > 0 {
		c[3] = fmtDuration(r.Wall)
	}
	if r.RecPerSec > 0 {
		c[4] = groupDigits(int64(r.RecPerSec + 0.5))
	}
	if r.MBPerSec > 0 {
		c[5] = fmt.Sprintf("%.1f", r.MBPerSec)
	}
	if r.PeakRSS > 0 {
		c[6] = fmt.Sprintf("%.0f", MB(r.PeakRSS))
	}
	return c
}

var header = []string{"step", "measurement", "records", "time", "rec/s", "MB/s", "peak RSS MB", "figure", "target", "met"}

// WriteText prints the table aligned for a terminal.
func (t *Table) WriteText(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range t.Rows {
		fmt.Fprintln(tw, strings.Join(r.cells(), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	for _, n := range t.Notes {
		if _, err := fmt.Fprintf(w, "note: %s\n", n); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
	}
	return nil
}

// WriteMarkdown prints the table as GitHub Markdown, for docs/benchmarks.md.
func (t *Table) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat("---|", len(header)) + "\n")
	for _, r := range t.Rows {
		cells := r.cells()
		for i, c := range cells {
			cells[i] = strings.ReplaceAll(c, "|", `\|`)
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	for _, n := range t.Notes {
		b.WriteString("\n- " + n)
	}
	if len(t.Notes) > 0 {
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	if err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// fmtDuration prints 0.42s, 12.3s or 4m05s.
func fmtDuration(d time.Duration) string {
	switch {
	case d < 10*time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d < 100*time.Second:
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	d = d.Round(time.Second)
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

// groupDigits prints 1234567 as 1,234,567.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, ch := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// short prints 100000 as 100k and 5000000 as 5M, for row labels.
func short(n int) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
