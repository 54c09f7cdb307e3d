package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
)

// buildBinary builds the real mcasload binary into dir; the first build of a test run links
// DuckDB (slow), later ones reuse the build cache.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "mcasload")
	cmd := exec.Command("go", "build", "-tags", "duckdb_arrow", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build mcasload: %v\n%s", err, out)
	}
	return bin
}

// procResult is how a process ended.
type procResult struct {
	code   int  // exit code, -1 when killed by a signal
	killed bool // ended by SIGKILL (a failpoint)
	stdout string
	stderr string
}

func runBinary(t *testing.T, bin string, env []string, args ...string) procResult {
	t.Helper()
	return runInEnv(t, bin, append(os.Environ(), env...), args...)
}

// runInEnv runs bin with exactly the environment env.
func runInEnv(t *testing.T, bin string, env []string, args ...string) procResult {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	res := procResult{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			res.killed = true
		}
	default:
		t.Fatalf("run %s: %v", bin, err)
	}
	return res
}

// TestLoadProcess drives the real binary: it kills `mcasload load` at every failpoint of the
// load path, reruns it and compares with an uninterrupted load; runs two writers; reads status
// during a load; and interrupts a load with SIGINT.
func TestLoadProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := buildBinary(t, t.TempDir())
	lines := testRecords(7, 1200)
	file := writeLines(t, lines)
	want := wantRows(t, lines)
	// Small commits over three days give several commits and Parquet files per day, so every
	// failpoint is reached mid-run; --compact-over 2 makes Close compact.
	loadArgs := func(dir string) []string {
		return []string{"load", "-w", dir, "--batch-rows", "200", "--progress=false", "--compact-over", "2", "--threads", "2", file}
	}

	t.Run("uninterrupted", func(t *testing.T) {
		dir := t.TempDir()
		if r := runBinary(t, bin, nil, loadArgs(dir)...); r.code != 0 {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		assertSinks(t, dir, want)
	})

	// Each case kills the process at the failpoint named (after the given number of hits), then
	// reruns the same load until it succeeds; prior lists crashes to cause first (reconciliation
	// only has work to do after a crash).
	cases := []struct {
		point string
		prior []string
	}{
		{point: "convert@3"},
		{point: "duckdb-before-commit@2"},
		{point: "duckdb-after-commit@2"},
		{point: "parquet-write@2"},
		{point: "parquet-before-rename@3"},
		{point: "parquet-after-rename@3"},
		{point: "reconcile@1", prior: []string{"parquet-before-rename@2"}},
		{point: "compact-before-rename@1"},
		{point: "compact-after-rename@2"},
	}
	covered := map[string]bool{"fetch": true} // fetch belongs to the scan loop
	for _, tc := range cases {
		name, _, _ := strings.Cut(tc.point, "@")
		covered[name] = true
		t.Run("kill at "+tc.point, func(t *testing.T) {
			// Most of a run is fsync and process start-up; cases overlap well even on 2 cores.
			t.Parallel()
			dir := t.TempDir()
			for _, fp := range append(tc.prior, tc.point) {
				marker := filepath.Join(t.TempDir(), "marker")
				r := runBinary(t, bin, []string{failpoint.EnvName + "=" + fp, failpoint.EnvMarker + "=" + marker}, loadArgs(dir)...)
				if !r.killed {
					t.Fatalf("failpoint %s: process was not killed (exit %d): %s", fp, r.code, r.stderr)
				}
				got, err := os.ReadFile(marker)
				fpName, _, _ := strings.Cut(fp, "@")
				if err != nil || strings.TrimSpace(string(got)) != fpName {
					t.Fatalf("failpoint %s: marker %q (%v); the process died elsewhere", fp, got, err)
				}
			}
			r := runBinary(t, bin, nil, loadArgs(dir)...)
			if r.code != 0 {
				t.Fatalf("rerun exit %d: %s", r.code, r.stderr)
			}
			assertSinks(t, dir, want)
			if len(tc.prior) > 0 {
				if r := runBinary(t, bin, nil, "verify", "-w", dir); r.code != 0 {
					t.Errorf("verify after recovery: %s%s", r.stdout, r.stderr)
				}
			}
		})
	}
	for _, n := range failpoint.Names {
		if !covered[n] {
			t.Errorf("failpoint %s is not exercised by a kill test", n)
		}
	}

	t.Run("two writers, a reader, and SIGINT", func(t *testing.T) {
		dir := t.TempDir()
		// The first writer reads a pipe that stays open: it commits the first full chunk
		// (5000 records) and then waits for more input, holding the lock.
		first := exec.Command(bin, "load", "-w", dir, "--batch-rows", "5000", "--progress=false", "-")
		stdin, err := first.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		var errb, outb bytes.Buffer
		first.Stderr, first.Stdout = &errb, &outb
		if err := first.Start(); err != nil {
			t.Fatal(err)
		}
		defer first.Process.Kill()
		more := testRecords(8, 5600)
		go func() {
			stdin.Write([]byte(strings.Join(more, "\n") + "\n"))
			// keep the pipe open: the writer is now a long-running load
		}()
		// A reader sees the committed rows while the load runs.
		var rows string
		deadline := time.Now().Add(60 * time.Second)
		for {
			code, out, _ := runMcasload(t, nil, "status", "-w", dir, "--format", "json")
			if code == exitOK && strings.Contains(out, `"rows": 5000`) {
				rows = out
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("status never showed the first commit during the load: exit %d %s\nwriter: %s", code, out, errb.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
		if !strings.Contains(rows, `"finished": null`) {
			t.Errorf("status during the load should show the running run as unfinished:\n%s", rows)
		}
		// A second writer fails at once, naming the first.
		start := time.Now()
		r := runBinary(t, bin, nil, "load", "-w", dir, "--progress=false", file)
		if r.code != exitLocked || !strings.Contains(r.stderr, fmt.Sprintf("pid %d", first.Process.Pid)) || !strings.Contains(r.stderr, "mcasload load") {
			t.Errorf("second writer: exit %d, %q; want %d naming pid %d", r.code, r.stderr, exitLocked, first.Process.Pid)
		}
		if el := time.Since(start); el > 10*time.Second {
			t.Errorf("second writer took %s to refuse", el)
		}
		// SIGINT: the first writer commits what it handed over and exits 6.
		if err := first.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		werr := first.Wait()
		var ee *exec.ExitError
		if !errors.As(werr, &ee) || ee.ExitCode() != exitStopped {
			t.Fatalf("after SIGINT: %v, want exit %d\n%s", werr, exitStopped, errb.String())
		}
		if !strings.Contains(outb.String(), "load stopped early") || !strings.Contains(errb.String(), "rerun the same command") {
			t.Errorf("SIGINT output: %s%s", outb.String(), errb.String())
		}
		// The rerun completes the load exactly; the lock was released.
		stdinFile := writeLines(t, more)
		if r := runBinary(t, bin, nil, "load", "-w", dir, "--progress=false", stdinFile); r.code != 0 {
			t.Fatalf("rerun: exit %d %s", r.code, r.stderr)
		}
		assertSinks(t, dir, wantRows(t, more))
	})
}
