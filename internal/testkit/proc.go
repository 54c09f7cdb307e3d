package testkit

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MCASLoad is the import path of the product binary.
const MCASLoad = "github.com/mcasload/mcasload/cmd/mcasload"

// The binaries built by Build, once per test process.
var builds struct {
	sync.Mutex
	dir  string
	bins map[string]string
}

// Build builds the main package pkg (an import path, with cgo and the duckdb_arrow tag) once per
// test process and returns the binary's path. The first build of a test run links DuckDB (slow on
// a cold cache); the binaries are removed by RemoveBuilds, which TestMain calls (see Main).
func Build(t testing.TB, pkg string) string {
	t.Helper()
	builds.Lock()
	defer builds.Unlock()
	if bin, ok := builds.bins[pkg]; ok {
		return bin
	}
	if builds.dir == "" {
		dir, err := os.MkdirTemp("", "mcasload-test-bin-")
		if err != nil {
			t.Fatalf("build %s: %v", pkg, err)
		}
		builds.dir, builds.bins = dir, map[string]string{}
	}
	// One folder per package keeps each binary's own name (it shows in usage and error lines).
	sub := filepath.Join(builds.dir, fmt.Sprint(len(builds.bins)))
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatalf("build %s: %v", pkg, err)
	}
	bin := filepath.Join(sub, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", bin, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build %s: %v\n%s", pkg, err, out)
	}
	builds.bins[pkg] = bin
	return bin
}

// RemoveBuilds deletes what Build built.
func RemoveBuilds() {
	builds.Lock()
	defer builds.Unlock()
	if builds.dir != "" {
		_ = os.RemoveAll(builds.dir)
		builds.dir, builds.bins = "", nil
	}
}

// Main is a TestMain for packages that use Build: it runs the tests, then removes the binaries.
func Main(m *testing.M) {
	code := m.Run()
	RemoveBuilds()
	os.Exit(code)
}

// CleanEnv is the test's environment without MCAS_* and MCASLOAD_* settings, so that a variable
// in the shell running the suite cannot change what a run of the binary does.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MCAS_") || strings.HasPrefix(kv, "MCASLOAD_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// Result is how one run of a binary ended.
type Result struct {
	Code    int  // exit code, -1 when ended by a signal
	Killed  bool // ended by SIGKILL (a failpoint or the test)
	Stdout  string
	Stderr  string
	Elapsed time.Duration
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d (killed %v) after %s\nstdout:\n%s\nstderr:\n%s", r.Code, r.Killed, r.Elapsed.Round(time.Millisecond), r.Stdout, r.Stderr)
}

// procTimeout bounds every run, so a hung binary fails its test instead of the whole suite;
// waitDelay bounds the wait for output after the process ended (a child it left behind may hold
// the pipes open).
const (
	procTimeout = 5 * time.Minute
	waitDelay   = 10 * time.Second
)

// Run runs bin to its end (at most 5 minutes) with env added to CleanEnv and collects its output.
func Run(t testing.TB, bin string, env []string, args ...string) Result {
	t.Helper()
	return RunExact(t, bin, append(CleanEnv(), env...), args...)
}

// RunExact is Run with exactly the environment env: for tests that must control every variable
// a library reads (sign-in: AZURE_*, IDENTITY_*, SSL_CERT_FILE).
func RunExact(t testing.TB, bin string, env []string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), procTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.WaitDelay = waitDelay
	cmd.Env = env
	var out, errb Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	return exited(t, bin, err, out.String(), errb.String(), time.Since(start))
}

func exited(t testing.TB, bin string, err error, stdout, stderr string, elapsed time.Duration) Result {
	t.Helper()
	res := Result{Stdout: stdout, Stderr: stderr, Elapsed: elapsed}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.Killed = true
		}
	default:
		t.Fatalf("run %s: %v", filepath.Base(bin), err)
	}
	return res
}

// Proc is a run of a binary in the background; its output can be read while it runs.
type Proc struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *Buffer
	bin            string
	start          time.Time
	done           chan struct{}
	err            error
}

// Start runs bin in the background (at most 5 minutes) with env added to CleanEnv; the process is
// killed when the test ends.
func Start(t testing.TB, bin string, env []string, args ...string) *Proc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), procTimeout)
	p := &Proc{Cmd: exec.CommandContext(ctx, bin, args...), Stdout: &Buffer{}, Stderr: &Buffer{}, bin: bin, done: make(chan struct{})}
	p.Cmd.WaitDelay = waitDelay
	p.Cmd.Env = append(CleanEnv(), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	p.start = time.Now()
	if err := p.Cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	go func() { p.err = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = p.Cmd.Process.Kill()
		<-p.done
		cancel()
	})
	return p
}

// Wait waits for the process to end.
func (p *Proc) Wait(t testing.TB) Result {
	t.Helper()
	<-p.done
	return exited(t, p.bin, p.err, p.Stdout.String(), p.Stderr.String(), time.Since(p.start))
}

// Kill sends SIGKILL and waits.
func (p *Proc) Kill(t testing.TB) Result {
	t.Helper()
	_ = p.Cmd.Process.Signal(syscall.SIGKILL)
	return p.Wait(t)
}

// Running reports whether the process has not ended yet.
func (p *Proc) Running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}
