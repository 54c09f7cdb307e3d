package reliability

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// mountTmpfs mounts a tmpfs of the given size (e.g. "7m") on a fresh folder and unmounts it when
// the test ends. It skips, saying why, where mounting is impossible (not root, no privilege).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipped: mounting a tmpfs needs root (CI runs as root); chmod alone does not stop root's writes")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("skipped: cannot mount a tmpfs here (%v: %s)", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Logf("umount %s: %v %s; detaching it lazily", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return dir
}

// remount changes the options of the tmpfs at dir (ro, rw, size=…).
func remount(t *testing.T, dir, opts string) {
	t.Helper()
	if out, err := exec.Command("mount", "-o", "remount,"+opts, dir).CombinedOutput(); err != nil {
		t.Fatalf("remount %s %s: %v %s", dir, opts, err, out)
	}
}

// diskData is a generated tenant written as a small first file and the whole file: about 4 MB
// of warehouse after the first, 12 MB after the whole.
func diskData(t *testing.T) (small, all string, want map[string]string) {
	t.Helper()
	tn := synth.New(synth.Config{Seed: 17, Users: 25, Days: 3, End: hostileEnd, Total: 3000, LateArrivals: -1})
	var lines []string
	var buf []byte
	for i := range tn.Len() {
		buf = tn.AppendJSON(buf[:0], i)
		lines = append(lines, string(buf))
	}
	dir := t.TempDir()
	small, all = filepath.Join(dir, "small.ndjson"), filepath.Join(dir, "all.ndjson")
	if err := os.WriteFile(small, []byte(strings.Join(lines[:200], "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(all, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return small, all, sinks.WantTenant(tn, time.Time{})
}

// assertConsistentSubset checks a warehouse that stopped part-way: DuckDB holds only wanted rows,
// each once, raw intact and in its day, and Parquet holds only rows DuckDB holds.
func assertConsistentSubset(t *testing.T, dir string, want map[string]string) (duck int) {
	t.Helper()
	d := sinks.Rows(t, dir, "duckdb")
	for id, v := range d {
		if want[id] != v {
			t.Errorf("duckdb holds %s as %.80q, which the source does not", id, v)
			break
		}
	}
	for id, v := range sinks.Rows(t, dir, "parquet") {
		if d[id] != v {
			t.Errorf("parquet holds %s, which duckdb does not hold the same", id)
			break
		}
	}
	return len(d)
}

// assertCleanFailure checks that a failed run says why in one clear line and did not panic.
func assertCleanFailure(t *testing.T, r testkit.Result, words ...string) {
	t.Helper()
	if r.Code == 0 || r.Killed {
		t.Fatalf("the run did not fail cleanly: %s", r)
	}
	if strings.Contains(r.Stderr, "panic") || strings.Contains(r.Stderr, "goroutine ") {
		t.Errorf("the run panicked: %s", r)
	}
	// Every user-facing failure says what to do (team rules): a hint line after the error.
	if !strings.Contains(r.Stderr, "\nhint: ") {
		t.Errorf("the error gives no hint saying what to do: %s", r)
	}
	low := strings.ToLower(r.Stderr)
	for _, w := range words {
		if strings.Contains(low, w) {
			return
		}
	}
	t.Errorf("the error does not say %q: %s", words, r)
}

// assertReadable runs the readers (status, sql) against the warehouse and returns the row count
// sql reports.
func assertReadable(t *testing.T, dir string) string {
	t.Helper()
	if r := run(t, nil, "status", "-w", dir); r.Code != 0 {
		t.Errorf("status of the warehouse: %s", r)
	}
	r := run(t, nil, "sql", "-w", dir, "--format", "csv", "SELECT count(*) AS n FROM activities")
	if r.Code != 0 {
		t.Errorf("sql over the warehouse: %s", r)
	}
	return strings.TrimSpace(r.Stdout)
}

// TestReliabilityDiskFull loads into a warehouse on a tmpfs too small for the data: the load fails
// with a clear error, the warehouse stays readable and consistent, and once the tmpfs is grown
// the same load completes exactly and verify agrees.
func TestReliabilityDiskFull(t *testing.T) {
	binary(t)
	row := record(t, "full disk", "load 3,000 records (12 MB of warehouse) into a warehouse on a 7 MB tmpfs, read it, grow the tmpfs, verify, load again")
	mnt := mountTmpfs(t, "7m")
	small, all, want := diskData(t)
	dir := filepath.Join(mnt, "wh")
	if r := run(t, nil, "load", "-w", dir, "--progress=false", small); r.Code != 0 {
		t.Fatalf("first small load: %s", r)
	}
	r := run(t, nil, "load", "-w", dir, "--progress=false", "--batch-rows", "500", all)
	assertCleanFailure(t, r, "no space", "disk", "full")
	t.Logf("full disk: %s", r.Stderr)
	n := assertReadable(t, dir)
	rows := assertConsistentSubset(t, dir, want)
	remount(t, mnt, "size=64m")
	if r := run(t, nil, "verify", "-w", dir); r.Code != 0 {
		t.Errorf("verify after space was freed: %s", r)
	}
	if r := run(t, nil, "load", "-w", dir, "--progress=false", all); r.Code != 0 {
		t.Fatalf("load after space was freed: %s", r)
	}
	sinks.ExactlyOnce(t, dir, want)
	if r := run(t, nil, "verify", "-w", dir); r.Code != 0 {
		t.Errorf("verify after the complete load: %s", r)
	}
	row.set(1, "load failed cleanly (%q); readers answered (%s rows committed, %d in DuckDB, a consistent subset); after growing the tmpfs verify ok and the rerun exact (%d ids)",
		firstLine(r.Stderr), n[strings.LastIndex(n, "\n")+1:], rows, len(want))
}

// TestReliabilityDiskFullScan scans from the simulator into a warehouse on a tmpfs too small for
// the data: the scan fails with the same storage hint a load gets (it got none before the finish
// path was shared), the warehouse stays consistent, and once the tmpfs is grown the same scan
// completes exactly.
func TestReliabilityDiskFullScan(t *testing.T) {
	binary(t)
	row := record(t, "full disk (scan)", "scan 3,000 records (12 MB of warehouse) from the simulator into a warehouse on a 7 MB tmpfs, read it, grow the tmpfs, scan again")
	tn := crashTenant()
	srv := simulator.NewServer(simulator.Config{Tenant: tn, Token: crashToken, RateLimit: simulator.NoRateLimit})
	t.Cleanup(srv.Close)
	mnt := mountTmpfs(t, "7m")
	dir := filepath.Join(mnt, "wh")
	scan := func() testkit.Result {
		return run(t, []string{"MCAS_TOKEN=" + crashToken}, "scan", "--url", srv.URL, "-w", dir, "--limit", "500",
			"--batch-rows", "500", "--progress=false", "--rate-limit", "60000", "--threads", "2")
	}
	r := scan()
	assertCleanFailure(t, r, "no space", "disk", "full")
	if !strings.Contains(r.Stderr, "hint: the disk under the warehouse is full") {
		t.Errorf("a full disk during a scan gets no storage hint: %s", r)
	}
	t.Logf("full disk: %s", r.Stderr)
	want := sinks.WantTenant(tn, time.Time{})
	rows := assertConsistentSubset(t, dir, want)
	remount(t, mnt, "size=64m")
	if r := scan(); r.Code != 0 {
		t.Fatalf("scan after space was freed: %s", r)
	}
	sinks.ExactlyOnce(t, dir, want)
	if r := run(t, nil, "verify", "-w", dir); r.Code != 0 {
		t.Errorf("verify after the complete scan: %s", r)
	}
	row.set(1, "scan failed cleanly with the storage hint (%q); %d rows committed, a consistent subset; after growing the tmpfs the rerun exact (%d ids) and verify ok",
		firstLine(r.Stderr), rows, len(want))
}

// TestReliabilityReadOnly loads into a warehouse whose tmpfs was remounted read-only: the load
// fails at once with a clear error, the readers still answer, and once the tmpfs is writable
// again the same load completes exactly.
func TestReliabilityReadOnly(t *testing.T) {
	binary(t)
	row := record(t, "read-only folder", "load into a warehouse on a tmpfs remounted read-only (as root, where chmod does not stop writes), read it, remount read-write, load again")
	mnt := mountTmpfs(t, "64m")
	small, all, want := diskData(t)
	dir := filepath.Join(mnt, "wh")
	if r := run(t, nil, "load", "-w", dir, "--progress=false", small); r.Code != 0 {
		t.Fatalf("first small load: %s", r)
	}
	before := sinks.Rows(t, dir, "duckdb")
	remount(t, mnt, "ro")
	r := run(t, nil, "load", "-w", dir, "--progress=false", all)
	assertCleanFailure(t, r, "read-only", "read only", "permission")
	t.Logf("read-only: %s", r.Stderr)
	assertReadable(t, dir)
	if got := assertConsistentSubset(t, dir, want); got != len(before) {
		t.Errorf("the read-only warehouse changed: %d rows, %d before", got, len(before))
	}
	remount(t, mnt, "rw")
	if r := run(t, nil, "load", "-w", dir, "--progress=false", all); r.Code != 0 {
		t.Fatalf("load after remounting read-write: %s", r)
	}
	sinks.ExactlyOnce(t, dir, want)
	if r := run(t, nil, "verify", "-w", dir); r.Code != 0 {
		t.Errorf("verify: %s", r)
	}
	row.set(1, "load refused cleanly (%q); readers answered; after remounting read-write the rerun exact (%d ids) and verify ok", firstLine(r.Stderr), len(want))
}

// firstLine returns the error line of a run's stderr (the one starting "mcasload:"), shortened.
func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, "mcasload: ") {
			s = l
			break
		}
	}
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}
