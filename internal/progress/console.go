package progress

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// clearLine returns the cursor to the start of the line and erases it (ANSI "erase in line").
const clearLine = "\r\x1b[K"

// Console is the one writer of stderr while a progress line may be live. The log handler writes
// through it (it is an io.Writer, and slog handlers write one whole record per Write) and the
// progress Display draws through it; on a terminal it clears the progress line before a log
// record and draws it again after, so the two never share a line. Elsewhere it only keeps lines
// from interleaving.
type Console struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	width int    // terminal columns, 0 unknown: a longer progress line is cut so \r can redraw it
	line  string // the progress line on screen, "" when none
}

// NewConsole wraps w; tty says whether w is an interactive terminal (see IsTerminal).
func NewConsole(w io.Writer, tty bool) *Console {
	c := &Console{w: w, tty: tty}
	if f, ok := w.(*os.File); ok && tty {
		if ws, err := unix.IoctlGetWinsize(int(f.Fd()), unix.TIOCGWINSZ); err == nil {
			c.width = int(ws.Col)
		}
	}
	return c
}

// Terminal reports whether the console redraws a line in place.
func (c *Console) Terminal() bool { return c.tty }

// Write writes a log record (or any whole lines) without colliding with the progress line.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty || c.line == "" {
		return c.w.Write(p)
	}
	if _, err := io.WriteString(c.w, clearLine); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	if err == nil && len(p) > 0 && p[len(p)-1] != '\n' {
		_, err = io.WriteString(c.w, "\n")
	}
	if err == nil {
		_, err = io.WriteString(c.w, c.line)
	}
	return n, err
}

// Draw shows line as the progress line: in place on a terminal, as a line of its own elsewhere.
func (c *Console) Draw(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.tty {
		fmt.Fprintln(c.w, line)
		return
	}
	if c.width > 1 {
		line = cut(line, c.width-1)
	}
	c.line = line
	fmt.Fprint(c.w, clearLine+line)
}

// End leaves the progress line on screen as the last frame and moves to the next line.
func (c *Console) End() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tty && c.line != "" {
		fmt.Fprint(c.w, "\n")
	}
	c.line = ""
}

// cut shortens s to at most n runes.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
