package warehouse

import (
	"context"
	"testing"
	"time"
)

// openHold opens a writer that holds the file for idle after each commit.
func openHold(t *testing.T, dir string, idle time.Duration) *Writer {
	t.Helper()
	w, err := Open(t.Context(), Options{Dir: dir, Sinks: SinkBoth, MemoryLimit: "300MB", Threads: 2, Logger: testLogger(nil),
		Source: "simulator", LockWait: 5 * time.Second, HoldIdle: idle, Tenant: testTenant})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

// readerFrom opens a reader that waits at most wait for the DuckDB file and says where it reads.
func readerFrom(t *testing.T, dir string, wait time.Duration) string {
	t.Helper()
	r, err := OpenReader(t.Context(), ReaderOptions{Dir: dir, LockWait: wait, Logger: testLogger(nil)})
	if err != nil {
		t.Fatalf("open reader: %v", err)
	}
	defer r.Close()
	return r.From
}

func TestHoldKeepsTheFileBetweenCommits(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	w := openHold(t, dir, time.Hour) // never idle long enough within the test
	commitRows(t, w, mem, rows("a", 20, day0, time.Minute))
	if !w.hold.attached {
		t.Fatal("the file was released right after a commit")
	}
	// Another use of the file (status) releases the hold; the next commit attaches again and
	// still knows every stored id.
	if _, err := w.Status(t.Context()); err != nil {
		t.Fatalf("status during a hold: %v", err)
	}
	if w.hold.attached || w.ids != nil {
		t.Fatalf("status left attached=%v ids=%v", w.hold.attached, w.ids != nil)
	}
	res := commitRows(t, w, mem, append(rows("a", 20, day0, time.Minute), rows("b", 5, day0, time.Minute)...))
	if res.Inserted != 5 || res.Duplicates != 20 {
		t.Fatalf("after a release: inserted %d duplicates %d, want 5 and 20", res.Inserted, res.Duplicates)
	}
}

func TestHoldEndsWhenIdle(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	w := openHold(t, dir, 20*time.Millisecond)
	commitRows(t, w, mem, rows("a", 10, day0, time.Minute))
	deadline := time.Now().Add(5 * time.Second)
	for {
		w.hold.mu.Lock()
		attached := w.hold.attached
		w.hold.mu.Unlock()
		if !attached {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the file is still held 5 s after the last commit (idle 20ms)")
		}
		time.Sleep(5 * time.Millisecond)
	}
	// (DuckDB's file locks are per process, so a reader in this process would get in either
	// way; TestReaderDuringLoad in cmd/mcasload covers another process.)
	if got := readerFrom(t, dir, time.Second); got != FromDuckDB {
		t.Fatalf("reader after the hold reads %s, want %s", got, FromDuckDB)
	}
	// The set of stored hashes survives the release: the writer is still the only one.
	res := commitRows(t, w, mem, rows("a", 12, day0, time.Minute))
	if res.Inserted != 2 || res.Duplicates != 10 {
		t.Fatalf("after an idle release: inserted %d duplicates %d, want 2 and 10", res.Inserted, res.Duplicates)
	}
}

func TestHoldOff(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	w := openHold(t, dir, -1)
	commitRows(t, w, mem, rows("a", 10, day0, time.Minute))
	if w.hold.attached {
		t.Fatal("HoldIdle < 0 still holds the file after a commit")
	}
}

// TestStoredHashesSurviveRuns: a second writer reads the first one's hashes from DuckDB.
func TestIDSetSurvivesRuns(t *testing.T) {
	dir := t.TempDir()
	mem := newMem(t)
	w := openTest(t, dir, SinkBoth)
	commitRows(t, w, mem, rows("a", 30, day0, time.Hour))
	if err := w.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	w = openTest(t, dir, SinkBoth)
	defer w.Close(context.Background())
	res := commitRows(t, w, mem, rows("a", 40, day0, time.Hour))
	if res.Inserted != 10 || res.Duplicates != 30 {
		t.Fatalf("second run: inserted %d duplicates %d, want 10 and 30", res.Inserted, res.Duplicates)
	}
	if x := w.ids[knownKey{&activitiesTable, testTenant}]; x == nil || x.Count() != 40 {
		t.Fatalf("id set after the second run's commit: %v, want 40 ids", x)
	}
}
