package reliability

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/warehouse"
)

// waitForLock waits until the lock file of dir names pid.
func waitForLock(t *testing.T, dir string, p *testkit.Proc) {
	t.Helper()
	want := fmt.Sprintf(`"pid":%d`, p.Cmd.Process.Pid)
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dir, warehouse.LockFile)); err == nil && strings.Contains(string(b), want) {
			return
		}
		if !p.Running() {
			t.Fatalf("the first writer ended before taking the lock: %s", p.Wait(t))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the first writer never took the lock")
}

// TestReliabilityTwoWriters holds the warehouse with a slow scan and starts other writers: each
// refuses at once with exit 4 naming the holder, while readers keep answering.
func TestReliabilityTwoWriters(t *testing.T) {
	binary(t)
	row := record(t, "concurrency: two writers", "while a slow `mcasload scan` holds the warehouse: a second scan, a load, verify and repair; status alongside")
	tn := crashTenant()
	srv := simulator.NewServer(simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit, PageLatency: 20 * time.Second})
	t.Cleanup(srv.Close)
	env := []string{"MCAS_TOKEN=" + crashToken}
	dir := filepath.Join(t.TempDir(), "wh")
	scanArgs := []string{"scan", "--url", srv.URL, "-w", dir, "--limit", "500", "--progress=false", "--rate-limit", "60000"}
	first := start(t, env, scanArgs...)
	waitForLock(t, dir, first)

	file := filepath.Join(t.TempDir(), "a.ndjson")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.WriteNDJSON(f, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	rounds := pick(1, 5)
	tried := 0
	var slowest time.Duration
	for range rounds {
		for _, args := range [][]string{
			scanArgs,
			{"load", "-w", dir, "--progress=false", file},
			{"verify", "-w", dir},
			{"repair", "-w", dir, "--from", "duckdb"},
		} {
			r := run(t, env, args...)
			tried++
			slowest = max(slowest, r.Elapsed)
			if r.Code != 4 || !strings.Contains(r.Stderr, fmt.Sprint(first.Cmd.Process.Pid)) {
				t.Errorf("%s while another writer holds the warehouse: want exit 4 naming pid %d: %s", args[0], first.Cmd.Process.Pid, r)
			}
			if r.Elapsed > 10*time.Second {
				t.Errorf("%s took %s to refuse; it must refuse at once", args[0], r.Elapsed)
			}
		}
		if r := run(t, nil, "status", "-w", dir); r.Code != 0 {
			t.Errorf("status while a writer runs: %s", r)
		}
	}
	if !first.Running() {
		t.Fatalf("the first writer ended early: %s", first.Wait(t))
	}
	_ = first.Cmd.Process.Signal(syscall.SIGINT)
	if r := first.Wait(t); r.Code != 6 {
		t.Errorf("the first writer after SIGINT: want exit 6: %s", r)
	}
	row.set(tried, "every second writer refused with exit 4 naming the holder, the slowest in %s; status answered alongside; the holder then stopped with exit 6 on SIGINT", slowest.Round(time.Millisecond))
}

// TestReliabilityQueriesDuringLoad runs `mcasload sql` and `status` in a loop while a load
// commits 100 rows at a time: every answer comes from committed data only (each row complete,
// raw equal to the source, no id twice), and the final answer holds everything.
func TestReliabilityQueriesDuringLoad(t *testing.T) {
	binary(t)
	row := record(t, "concurrency: queries during a load", "`mcasload sql` (ids and md5 of raw) and `status` in a loop while `mcasload load` commits 100 rows at a time")
	tn := crashTenant()
	file := filepath.Join(t.TempDir(), "a.ndjson")
	f, err := os.Create(file)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tn.WriteNDJSON(f, time.Now()); err != nil {
		t.Fatal(err)
	}
	f.Close()
	sums := map[string]string{}
	for id, v := range sinks.WantTenant(tn, time.Time{}) {
		_, raw, _ := strings.Cut(v, " ")
		h := md5.Sum([]byte(raw))
		sums[id] = hex.EncodeToString(h[:])
	}
	queries, busy, loads := 0, 0, pick(1, 4)
	var seen []int
	for l := range loads {
		dir := filepath.Join(t.TempDir(), fmt.Sprint("wh", l))
		p := start(t, nil, "load", "-w", dir, "--progress=false", "--batch-rows", "100", "--threads", "1", file)
		for p.Running() {
			if _, err := os.Stat(filepath.Join(dir, warehouse.DatabaseFile)); err != nil {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			r := run(t, nil, "sql", "-w", dir, "--format", "csv", "SELECT id, md5(raw) AS h FROM activities")
			queries++
			if r.Code == 7 && strings.Contains(r.Stderr, "holds no activity at all") {
				// Before the first commit: an empty answer that says the warehouse holds nothing yet.
				seen = append(seen, checkAnswer(t, r.Stdout, sums))
				continue
			}
			if r.Code != 0 {
				// A reader may find the database between creation and its first commit; it must say
				// so clearly, never answer with partial data.
				busy++
				t.Logf("sql during the load: %s", r)
				continue
			}
			n := checkAnswer(t, r.Stdout, sums)
			seen = append(seen, n)
			if sr := run(t, nil, "status", "-w", dir); sr.Code != 0 {
				t.Errorf("status during the load: %s", sr)
			}
		}
		if r := p.Wait(t); r.Code != 0 {
			t.Fatalf("load: %s", r)
		}
		r := run(t, nil, "sql", "-w", dir, "--format", "csv", "SELECT id, md5(raw) AS h FROM activities")
		if n := checkAnswer(t, r.Stdout, sums); n != len(sums) {
			t.Errorf("after the load sql sees %d rows, want %d", n, len(sums))
		}
	}
	if len(seen) == 0 {
		t.Errorf("no query answered during the load; the test proved nothing")
	}
	if busy > 0 {
		t.Errorf("%d of %d queries during the load failed instead of answering from committed data", busy, queries)
	}
	t.Logf("row counts seen during the loads: %v", seen)
	row.set(queries, "%d answers during %d loads, each from committed rows only (complete rows, raw md5 equal to the source, no id twice; counts seen %v); %d failed", len(seen), loads, seen, busy)
}

// checkAnswer checks a CSV answer of (id, md5 of raw) against the source and returns its rows.
func checkAnswer(t *testing.T, csv string, sums map[string]string) int {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	ids := map[string]bool{}
	for _, l := range lines[1:] {
		id, h, ok := strings.Cut(strings.TrimSpace(l), ",")
		if !ok {
			t.Errorf("bad answer line %q", l)
			continue
		}
		if ids[id] {
			t.Errorf("answer holds id %s twice", id)
		}
		ids[id] = true
		if sums[id] != h {
			t.Errorf("answer holds id %s with raw md5 %s, want %s", id, h, sums[id])
		}
	}
	return len(ids)
}
