package warehouse

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/filelock"
)

func TestSecondWriterFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	first, err := Open(t.Context(), Options{Dir: dir, Command: "mcasload load first.ndjson", Logger: testLogger(nil)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(t.Context(), Options{Dir: dir, Command: "mcasload load second.ndjson", Logger: testLogger(nil)})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("second Open took %s; it must fail at once", d)
	}
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != os.Getpid() || le.Holder.Command != "mcasload load first.ndjson" {
		t.Errorf("error does not name the holder: %v", err)
	}
	for _, part := range []string{fmt.Sprintf("pid %d", os.Getpid()), "mcasload load first.ndjson"} {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q lacks %q", err, part)
		}
	}
	if err := first.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, LockFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after Close: %v", err)
	}
	again, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(nil)})
	if err != nil {
		t.Fatalf("Open after the first writer closed: %v", err)
	}
	again.Close(t.Context())
}

func TestStaleLockTakenOver(t *testing.T) {
	dir := t.TempDir()
	host, _ := os.Hostname()
	dead := LockHolder{PID: 2147483000, Host: host, Start: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Command: "mcasload scan (killed)"}
	b, _ := json.Marshal(dead)
	if err := os.WriteFile(filepath.Join(dir, LockFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	w, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(&log)})
	if err != nil {
		t.Fatalf("Open over a stale lock: %v", err)
	}
	defer w.Close(t.Context())
	if !strings.Contains(log.String(), "stale") || !strings.Contains(log.String(), "pid=2147483000") {
		t.Errorf("no warning naming the stale holder:\n%s", log.String())
	}
	h, err := filelock.ReadHolder(filepath.Join(dir, LockFile))
	if err != nil || h.PID != os.Getpid() {
		t.Errorf("lock file now holds %+v (%v), want this process", h, err)
	}
}

// startReader starts a child process that holds a Reader on dir until stop is called.
func startReader(t *testing.T, dir string) (stop func()) {
	stop, _ = startHolder(t, dir, "hold-reader")
	return stop
}

// startHolder starts a child process in role (hold-reader, hold-writer) until stop is called.
func startHolder(t *testing.T, dir, role string) (stop func(), pid int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+role, "WAREHOUSE_TEST_DIR="+dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if line != "ready\n" {
		t.Fatalf("%s child said %q", role, line)
	}
	return func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s child: %v", role, err)
		}
	}, cmd.Process.Pid
}

func TestSecondWriterInAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	stop, pid := startHolder(t, dir, "hold-writer")
	_, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(nil)})
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.PID != pid || le.Holder.Command != "mcasload load held.ndjson" {
		t.Errorf("Open while another process writes: %v, want ErrLocked naming pid %d", err, pid)
	}
	stop()
	w, err := Open(t.Context(), Options{Dir: dir, Logger: testLogger(nil)})
	if err != nil {
		t.Fatalf("Open after the other writer finished: %v", err)
	}
	w.Close(t.Context())
}

// TestWriterWaitsForReader: a reader in another process holds the DuckDB file; the writer
// retries for LockWait and then fails naming the file; once the reader is gone it commits.
func TestWriterWaitsForReader(t *testing.T) {
	mem := newMem(t)
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, mem, rows("a", 10, day0, time.Minute))
	stop := startReader(t, dir)
	w.opts.LockWait = 300 * time.Millisecond
	w.opts.Clock = clock.Real{}
	rec := batch(mem, rows("b", 10, day0, time.Minute))
	defer rec.Release()
	_, err := w.Commit(t.Context(), Commit{Records: recs(rec)})
	if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), filepath.Join(dir, DatabaseFile)) {
		t.Fatalf("commit while a reader holds the file: %v, want ErrBusy naming the file", err)
	}
	stop()
	res, err := w.Commit(t.Context(), Commit{Records: recs(rec)})
	if err != nil || res.Inserted != 10 {
		t.Fatalf("commit after the reader left: %+v, %v", res, err)
	}
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// TestReaderDuringWrites reads while a writer process commits 50-row batches: every answer is
// a whole number of commits (only committed data), with no duplicate, from DuckDB or, when the
// writer holds the file, from the committed Parquet (and the reader says so).
func TestReaderDuringWrites(t *testing.T) {
	dir := t.TempDir()
	w := openTest(t, dir, SinkBoth) // create the warehouse before the writer starts
	w.Close(t.Context())
	commits := 20
	if testing.Short() {
		commits = 8
	}
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"=writer-loop", "WAREHOUSE_TEST_DIR="+dir, fmt.Sprintf("WAREHOUSE_TEST_COMMITS=%d", commits))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	reads, fallbacks := 0, 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("writer: %v\n%s", err, out.String())
			}
			finished = true
		default:
		}
		r, err := OpenReader(t.Context(), ReaderOptions{Dir: dir, LockWait: 50 * time.Millisecond, Logger: testLogger(nil)})
		if err != nil {
			t.Fatalf("open reader: %v", err)
		}
		if r.From == FromParquet {
			fallbacks++
			if r.Fallback == "" {
				t.Error("parquet reader does not say why")
			}
		}
		var n, distinct int
		err = r.Conn().QueryRowContext(t.Context(), `SELECT count(*), count(DISTINCT id) FROM activities`).Scan(&n, &distinct)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		reads++
		// Leave the writer a window: a reader that reattaches at once could starve it.
		time.Sleep(30 * time.Millisecond)
		if n%50 != 0 || n != distinct {
			t.Fatalf("reader (%s) saw %d rows, %d distinct: not whole commits", r.From, n, distinct)
		}
		if finished && n != commits*50 {
			t.Fatalf("after the writer finished the reader sees %d rows, want %d", n, commits*50)
		}
	}
	t.Logf("%d reads, %d from parquet", reads, fallbacks)
}
