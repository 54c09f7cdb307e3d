// Package progress draws the live progress line of long commands (load, scan, export): redrawn in
// place on a terminal, a plain line every few seconds elsewhere. On a terminal the progress line
// and the log share stderr through one Console, so a log line never lands on the progress line:
// the line is cleared, the log line written whole, and the progress line drawn again under it.
package progress

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/humanize"
)

// Snapshot is what a progress line shows at one instant. Zero fields are left out of the line,
// so the same reporter serves `load` (records, bytes) and `scan` (pages, throttle waits, ETA).
type Snapshot struct {
	Records    int64 // records read so far
	Bytes      int64 // input bytes read so far
	New        int64 // rows committed as new
	Duplicates int64 // records already in the warehouse
	Rejected   int64 // records rejected
	Pages      int64 // API pages fetched (scan)
	Throttled  int64 // 429 responses waited out (scan)
	Total      int64 // expected records when known (the API's approximate total), for the ETA
	// Waiting is set while a request waits for the API's rate budget, WaitLeft until it may be
	// sent; Waited is the time spent waiting for the budget so far (scan).
	Waiting  bool
	WaitLeft time.Duration
	Waited   time.Duration
}

// Display reports a Snapshot periodically until stopped. On a terminal it redraws one line in
// place; elsewhere (cron, CI, a pipe) it writes a plain line every Interval so logs stay readable.
type Display struct {
	con      *Console
	interval time.Duration
	clk      clock.Clock
	snap     func() Snapshot
	label    string

	start   time.Time
	started bool
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// Options configure a Display.
type Options struct {
	Label    string        // first word of each line, e.g. "load" or "scan"
	Terminal bool          // redraw one line in place (see IsTerminal)
	Interval time.Duration // time between lines; default 200ms on a terminal, 10s otherwise
	Clock    clock.Clock   // default clock.Real
	// Console is the shared writer of stderr that the log also writes through (see NewConsole);
	// nil makes one over w with Terminal.
	Console *Console
}

// IsTerminal reports whether w is an interactive terminal (a tty): pipes, files and /dev/null
// are not, so cron mail and CI logs get plain lines instead of carriage returns.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// New returns a reporter that writes snap() to w; call Start and then Stop.
func New(w io.Writer, snap func() Snapshot, opts Options) *Display {
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Interval <= 0 {
		opts.Interval = 10 * time.Second
		if opts.Terminal {
			opts.Interval = 200 * time.Millisecond
		}
	}
	if opts.Label == "" {
		opts.Label = "progress"
	}
	con := opts.Console
	if con == nil {
		con = NewConsole(w, opts.Terminal)
	}
	return &Display{
		con: con, interval: opts.Interval, clk: opts.Clock, snap: snap,
		label: opts.Label, stop: make(chan struct{}), done: make(chan struct{}), start: opts.Clock.Now(),
	}
}

// Start begins reporting in the background until Stop or ctx ends.
func (p *Display) Start(ctx context.Context) {
	p.start = p.clk.Now()
	p.started = true
	go func() {
		defer close(p.done)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-p.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		for {
			if err := p.clk.Sleep(ctx, p.interval); err != nil {
				return
			}
			p.Report()
		}
	}()
}

// Stop ends reporting; on a terminal it finishes the line so the summary starts on its own line.
// The last frame stays as it was drawn; Finish draws the final figures instead.
func (p *Display) Stop() {
	p.halt()
	p.con.End()
}

// Finish ends reporting with one last frame of the run's final figures (the ones its summary
// prints, after elapsed), so the last frame on screen agrees with the summary under it.
func (p *Display) Finish(final Snapshot, elapsed time.Duration) {
	p.halt()
	p.con.Draw(p.FinalLine(final, elapsed))
	p.con.End()
}

func (p *Display) halt() {
	p.once.Do(func() {
		close(p.stop)
		if p.started {
			<-p.done
		}
	})
}

// Report writes one progress line now.
func (p *Display) Report() {
	p.con.Draw(p.Line(p.snap(), p.clk.Now().Sub(p.start)))
}

// Line formats s after elapsed time as one progress line.
func (p *Display) Line(s Snapshot, elapsed time.Duration) string {
	var b strings.Builder
	b.WriteString(p.label)
	b.WriteString(": ")
	if s.Pages > 0 {
		fmt.Fprintf(&b, "%s pages, ", humanize.Count(s.Pages))
	}
	fmt.Fprintf(&b, "%s records", humanize.Count(s.Records))
	if s.Bytes > 0 {
		fmt.Fprintf(&b, ", %.1f MB", float64(s.Bytes)/1e6)
	}
	secs := elapsed.Seconds()
	if secs > 0 {
		fmt.Fprintf(&b, ", %s rec/s", humanize.Count(int64(float64(s.Records)/secs)))
		if s.Bytes > 0 {
			fmt.Fprintf(&b, ", %.1f MB/s", float64(s.Bytes)/1e6/secs)
		}
	}
	if s.New > 0 || s.Duplicates > 0 {
		fmt.Fprintf(&b, " | new %s, duplicate %s", humanize.Count(s.New), humanize.Count(s.Duplicates))
	}
	if s.Rejected > 0 {
		fmt.Fprintf(&b, ", rejected %s", humanize.Count(s.Rejected))
	}
	if s.Throttled > 0 {
		fmt.Fprintf(&b, ", throttled %d", s.Throttled)
	}
	switch {
	case s.Waiting:
		// The ETA would only grow while nothing moves: say what the run waits for instead.
		fmt.Fprintf(&b, " | waiting for the rate budget: %s left", ceilSeconds(s.WaitLeft))
	case s.Total > 0 && s.Records > 0 && s.Records < s.Total && secs > 0:
		left := time.Duration(float64(s.Total-s.Records) / (float64(s.Records) / secs) * float64(time.Second))
		fmt.Fprintf(&b, ", ETA %s", left.Round(time.Second))
	}
	if s.Waited > 0 && !s.Waiting {
		fmt.Fprintf(&b, " | waited %s for the rate budget", humanize.Seconds(s.Waited))
	}
	fmt.Fprintf(&b, " [%s]", elapsed.Round(time.Second))
	return b.String()
}

// FinalLine is the last frame: the figures of the finished run, its elapsed time to the
// millisecond as the summary prints it, and no wait in progress.
func (p *Display) FinalLine(s Snapshot, elapsed time.Duration) string {
	s.Waiting, s.WaitLeft, s.Total = false, 0, 0
	line := p.Line(s, elapsed)
	return strings.TrimSuffix(line, fmt.Sprintf(" [%s]", elapsed.Round(time.Second))) +
		fmt.Sprintf(" [%s]", elapsed.Round(time.Millisecond))
}

// ceilSeconds renders a wait still to come in whole seconds, rounded up, so it reads 1s until
// the wait is over.
func ceilSeconds(d time.Duration) string {
	return fmt.Sprintf("%ds", (d+time.Second-1)/time.Second)
}
