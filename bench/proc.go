package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Cmd is one child process to measure.
type Cmd struct {
	Path  string
	Args  []string
	Env   []string  // added to the harness's environment
	Stdin io.Reader // nil: no input
	// Stderr, when set, receives the child's standard error instead of the in-memory tail.
	Stderr io.Writer
}

// String is the command line as a user would type it (for the report and error messages).
func (c Cmd) String() string {
	return strings.Join(append([]string{c.Path}, c.Args...), " ")
}

// Usage is what one finished child process cost, from wait4's rusage: the kernel's own figures,
// so nothing is sampled and nothing is missed between samples.
type Usage struct {
	Wall     time.Duration
	User     time.Duration
	Sys      time.Duration
	MaxRSS   int64 // peak resident set size in bytes (ru_maxrss)
	ExitCode int
	Stdout   string // whole standard output
	Stderr   string // the last 64 KiB of standard error (unless Cmd.Stderr took it)
}

// CPU is user plus system time.
func (u Usage) CPU() time.Duration { return u.User + u.Sys }

// MB is bytes in megabytes (10^6), as the table shows them.
func MB(bytes int64) float64 { return float64(bytes) / 1e6 }

// tailBuffer keeps the last max bytes written to it: enough of a child's stderr to explain a
// failure without holding a chatty log in memory.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (c Cmd) command(ctx context.Context) (*exec.Cmd, *bytes.Buffer, *tailBuffer) {
	cmd := exec.CommandContext(ctx, c.Path, c.Args...)
	cmd.Env = append(os.Environ(), c.Env...)
	cmd.Stdin = c.Stdin
	var out bytes.Buffer
	errTail := &tailBuffer{max: 64 << 10}
	cmd.Stdout = &out
	cmd.Stderr = errTail
	if c.Stderr != nil {
		cmd.Stderr = c.Stderr
	}
	// A cancelled benchmark interrupts the child so it commits and exits; kill only if it hangs.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 30 * time.Second
	return cmd, &out, errTail
}

func usageOf(cmd *exec.Cmd, start time.Time, out *bytes.Buffer, errTail *tailBuffer) Usage {
	u := Usage{Wall: time.Since(start), Stdout: out.String(), Stderr: string(errTail.buf), ExitCode: -1}
	if ps := cmd.ProcessState; ps != nil {
		u.ExitCode = ps.ExitCode()
		u.User = ps.UserTime()
		u.Sys = ps.SystemTime()
		if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
			u.MaxRSS = ru.Maxrss * 1024 // kilobytes on Linux
		}
	}
	return u
}

// Run runs c to completion and measures it. A non-zero exit is not an error here (callers
// decide which codes are fine); failing to start is.
func Run(ctx context.Context, c Cmd) (Usage, error) {
	cmd, out, errTail := c.command(ctx)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Usage{}, fmt.Errorf("start %s: %w", c.Path, err)
	}
	err := cmd.Wait()
	u := usageOf(cmd, start, out, errTail)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		return u, fmt.Errorf("run %s: %w", c.Path, err)
	}
	return u, nil
}

// RunPipe runs producer | consumer, measuring each: the consumer's figures are those of a
// process reading standard input, the producer's are reported separately.
func RunPipe(ctx context.Context, producer, consumer Cmd) (prod, cons Usage, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return prod, cons, fmt.Errorf("create pipe: %w", err)
	}
	producer.Stdin = nil
	consumer.Stdin = r
	pcmd, pout, perr := producer.command(ctx)
	pcmd.Stdout = w
	ccmd, cout, cerr := consumer.command(ctx)
	start := time.Now()
	if err := pcmd.Start(); err != nil {
		r.Close()
		w.Close()
		return prod, cons, fmt.Errorf("start %s: %w", producer.Path, err)
	}
	if err := ccmd.Start(); err != nil {
		r.Close()
		w.Close()
		_ = pcmd.Process.Kill()
		_ = pcmd.Wait()
		return prod, cons, fmt.Errorf("start %s: %w", consumer.Path, err)
	}
	// The children hold their own copies; ours must go so EOF and EPIPE reach them.
	r.Close()
	w.Close()
	perrW := pcmd.Wait()
	cerrW := ccmd.Wait()
	prod = usageOf(pcmd, start, pout, perr)
	cons = usageOf(ccmd, start, cout, cerr)
	for _, e := range []error{perrW, cerrW} {
		var ee *exec.ExitError
		if e != nil && !errors.As(e, &ee) {
			return prod, cons, fmt.Errorf("run pipe: %w", e)
		}
	}
	return prod, cons, nil
}

// Server is a long-running child (the simulator) that the harness stops with SIGINT.
type Server struct {
	cmd     *exec.Cmd
	start   time.Time
	out     *bytes.Buffer
	errTail *tailBuffer
	done    chan error
	scanned chan struct{} // closed when standard output is fully read
	stopped *Usage
	stopErr error
	// Lines are the first lines the server printed on standard output, up to the one Start waited for.
	Lines []string
}

// StartServer starts c and waits (up to timeout) until it prints a line starting with ready on
// standard output, so the caller knows it listens.
func StartServer(ctx context.Context, c Cmd, ready string, timeout time.Duration) (*Server, error) {
	cmd, out, errTail := c.command(context.WithoutCancel(ctx))
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	s := &Server{cmd: cmd, out: out, errTail: errTail, done: make(chan error, 1), scanned: make(chan struct{})}
	s.start = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", c.Path, err)
	}
	go func() {
		err := cmd.Wait()
		pw.CloseWithError(io.EOF)
		s.done <- err
	}()
	found := make(chan []string, 1)
	go func() {
		defer close(s.scanned)
		sc := bufio.NewScanner(pr)
		var lines []string
		sent := false
		for sc.Scan() {
			line := sc.Text()
			if !sent {
				lines = append(lines, line)
				if strings.HasPrefix(line, ready) {
					found <- lines
					sent = true
				}
				continue
			}
			out.WriteString(line + "\n")
		}
		if !sent {
			found <- nil
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	select {
	case lines := <-found:
		if lines == nil {
			u, _ := s.Stop()
			return nil, fmt.Errorf("start %s: exited before printing %q (exit %d): %s", c.Path, ready, u.ExitCode, lastLines(u.Stderr, 5))
		}
		s.Lines = lines
		return s, nil
	case <-time.After(timeout):
		_, _ = s.Stop()
		return nil, fmt.Errorf("start %s: no %q line within %s", c.Path, ready, timeout)
	case <-ctx.Done():
		_, _ = s.Stop()
		return nil, ctx.Err()
	}
}

// Line returns the text after prefix on the first startup line that has it.
func (s *Server) Line(prefix string) (string, bool) {
	for _, l := range s.Lines {
		if rest, ok := strings.CutPrefix(l, prefix); ok {
			return rest, true
		}
	}
	return "", false
}

// Stop interrupts the server, waits for it and returns what it cost over its whole life.
func (s *Server) Stop() (Usage, error) {
	if s.stopped != nil {
		return *s.stopped, s.stopErr
	}
	if s.cmd.ProcessState == nil {
		_ = s.cmd.Process.Signal(os.Interrupt)
	}
	var err error
	select {
	case err = <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		err = <-s.done
	}
	<-s.scanned
	u := usageOf(s.cmd, s.start, s.out, s.errTail)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		s.stopErr = fmt.Errorf("stop %s: %w", s.cmd.Path, err)
	}
	s.stopped = &u
	return u, s.stopErr
}

// lastLines returns the last n lines of s, for error messages.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
