package testserver

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Time limits for a server process. Starts take well under a second on an idle machine; the
// limits leave room for a shared 2-core machine under a full `make test`.
const (
	readyTimeout = 30 * time.Second
	stopTimeout  = 5 * time.Second
	pollInterval = 10 * time.Millisecond
)

// process is one server child process whose stdout and stderr go to a log file in its dir, so a
// failing test can show what the server said.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	started time.Time
	exited  chan struct{} // closed when Wait returned
	waitErr error         // valid once exited is closed

	stopOnce sync.Once
}

// startProcess starts bin in dir and registers its stop with t.Cleanup. The server is put in its
// own process group and dies with the test process (Linux), so a killed `go test` leaves none behind.
func startProcess(t testing.TB, name, dir string, env []string, bin string, args ...string) *process {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	setProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", name, bin, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, started: time.Now(), exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// hasExited reports whether the process is gone.
func (p *process) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// stop ends the process (SIGTERM, then SIGKILL after stopTimeout) and fails t if the server had
// died on its own during the test. It is safe to call more than once.
func (p *process) stop(t testing.TB) {
	t.Helper()
	p.stopOnce.Do(func() {
		if p.hasExited() {
			t.Errorf("%s exited during the test: %v\n%s", p.name, p.waitErr, p.logTail())
			return
		}
		signalGroup(p.cmd, terminate)
		select {
		case <-p.exited:
		case <-time.After(stopTimeout):
			signalGroup(p.cmd, kill)
			<-p.exited
		}
		if t.Failed() {
			t.Logf("%s log (%s):\n%s", p.name, p.logPath, p.logTail())
		}
	})
}

// waitReady polls ready until it reports true. It fails, with the server's log, if the process
// exits, ready fails, or readyTimeout passes.
func (p *process) waitReady(ready func() (bool, error)) error {
	deadline := time.Now().Add(readyTimeout)
	for {
		ok, err := ready()
		if err != nil {
			return fmt.Errorf("start %s: %w\n%s", p.name, err, p.logTail())
		}
		if ok {
			return nil
		}
		if p.hasExited() {
			return fmt.Errorf("start %s: exited before it was ready: %v\n%s", p.name, p.waitErr, p.logTail())
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("start %s: not ready after %s\n%s", p.name, readyTimeout, p.logTail())
		}
		time.Sleep(pollInterval)
	}
}

// logReady records in the test log where the server listens and how long its start took.
func (p *process) logReady(t testing.TB, version, where string) {
	t.Helper()
	t.Logf("%s %s ready on %s in %s", p.name, version, where, time.Since(p.started).Round(time.Millisecond))
}

// forget marks a process that failed to start as handled, so its cleanup neither signals it nor
// reports its exit; the caller has already reported or retried.
func (p *process) forget() {
	if !p.hasExited() {
		signalGroup(p.cmd, kill)
		<-p.exited
	}
	p.stopOnce.Do(func() {})
}

// logTail returns the end of the server's log.
func (p *process) logTail() string {
	const max = 4096
	f, err := os.Open(p.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if info, err := f.Stat(); err == nil && info.Size() > max {
		if _, err := f.Seek(-max, io.SeekEnd); err != nil {
			return fmt.Sprintf("(read log: %v)", err)
		}
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return fmt.Sprintf("(read log: %v)", err)
	}
	return string(b)
}

// freeLoopbackPort asks the kernel for a free port on 127.0.0.1, for servers that cannot listen
// on port 0 and report the port they got. Another process may take it before the server binds;
// callers retry a start that fails that way.
func freeLoopbackPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// dialable reports whether something accepts TCP connections on addr.
func dialable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// readPortFile reads a port number a server wrote to path; ok is false while the file is absent
// or not yet complete.
func readPortFile(path string) (port int, ok bool, err error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("read port file: %w", err)
	}
	port, err = strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || port <= 0 {
		return 0, false, nil
	}
	return port, true, nil
}
