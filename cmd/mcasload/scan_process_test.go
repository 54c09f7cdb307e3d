package main

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testkit/sinks"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/warehouse"
)

// TestScanProcess drives the real binary against the simulator served by the test on loopback:
// it kills `mcasload scan` at every failpoint of the scan path and at random moments, reruns the
// same command and checks that both sinks hold exactly the tenant's activities; it stops scans
// with SIGINT and --max-duration and checks they exit 6 and resume exactly.
func TestScanProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	tn := scanTenant()
	want := sinks.WantTenant(tn, time.Time{})
	srv := startScanSim(t, tn, simulator.Config{})
	env := []string{"MCAS_TOKEN=" + scanTestToken}
	// 500-record pages committed one by one over three days give several pages, commits and
	// Parquet files per day, so every failpoint is reached mid-run; --compact-over 1 makes Close
	// compact.
	scanArgs := func(url, dir string, extra ...string) []string {
		return append([]string{"scan", "--url", url, "-w", dir, "--limit", "500", "--batch-rows", "300", "--progress=false",
			"--rate-limit", "60000", "--parallel", "2", "--threads", "2", "--compact-over", "1"}, extra...)
	}

	var uninterrupted time.Duration
	t.Run("uninterrupted", func(t *testing.T) {
		dir := t.TempDir()
		start := time.Now()
		if r := testkit.Run(t, bin, env, scanArgs(srv.URL, dir)...); r.Code != 0 {
			t.Fatalf("exit %d: %s", r.Code, r.Stderr)
		}
		uninterrupted = time.Since(start)
		sinks.ExactlyOnce(t, dir, want)
	})

	// A tenant without the tie burst: the burst is fetched in one 5,000-record page, so the
	// scan of the first tenant commits two to five times depending on where its slices end, and
	// two commits leave too few row groups to merge. This one's six 500-record pages are six
	// commits whatever the timing.
	even := evenScanTenant()
	evenSrv := startScanSim(t, even, simulator.Config{})
	cases := []struct {
		point string
		prior []string
		args  []string // flags added to every run of the case
		even  bool     // scan the tenant without the tie burst
	}{
		{point: "fetch@3"},
		{point: "convert@4"},
		{point: "ids-before-commit@2"},
		{point: "ids-merge@1"},
		{point: "duckdb-before-commit@2"},
		{point: "duckdb-after-commit@2"},
		{point: "parquet-write@3"},
		{point: "parquet-before-rename@3"},
		{point: "parquet-after-rename@3"},
		{point: "reconcile@1", prior: []string{"parquet-before-rename@2"}},
		{point: "compact-before-rename@1"},
		{point: "compact-after-rename@1"},
		// Commits that close the file each leave a row group to merge (as a scan slower than
		// the hold does); held ones share row groups and leave nothing to merge.
		{point: "merge-before-commit@1", args: []string{"--hold-file", "0"}, even: true},
		// A fresh warehouse: the new DuckDB file made under its temporary name, not renamed.
		{point: "create-database@1"},
	}
	covered := map[string]bool{}
	for _, tc := range cases {
		name, _, _ := strings.Cut(tc.point, "@")
		covered[name] = true
		t.Run("kill at "+tc.point, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			url, want := srv.URL, want
			if tc.even {
				url, want = evenSrv.URL, sinks.WantTenant(even, time.Time{})
			}
			for _, fp := range append(tc.prior, tc.point) {
				marker := filepath.Join(t.TempDir(), "marker")
				r := testkit.Run(t, bin, append([]string{failpoint.EnvName + "=" + fp, failpoint.EnvMarker + "=" + marker}, env...), scanArgs(url, dir, tc.args...)...)
				if !r.Killed {
					t.Fatalf("failpoint %s: process was not killed (exit %d): %s", fp, r.Code, r.Stderr)
				}
				got, err := os.ReadFile(marker)
				fpName, _, _ := strings.Cut(fp, "@")
				if err != nil || strings.TrimSpace(string(got)) != fpName {
					t.Fatalf("failpoint %s: marker %q (%v); the process died elsewhere", fp, got, err)
				}
			}
			r := testkit.Run(t, bin, env, scanArgs(url, dir)...)
			if r.Code != 0 {
				t.Fatalf("rerun exit %d: %s", r.Code, r.Stderr)
			}
			sinks.ExactlyOnce(t, dir, want)
		})
	}
	for _, n := range append([]string{"fetch"}, failpoint.Names...) {
		if !covered[n] {
			t.Errorf("failpoint %s is not exercised by a scan kill test", n)
		}
	}

	t.Run("kill at random moments", func(t *testing.T) {
		t.Parallel()
		seed := uint64(time.Now().UnixNano())
		t.Logf("seed %d", seed)
		rng := rand.New(rand.NewPCG(seed, 1))
		span := max(uninterrupted, 500*time.Millisecond)
		for round := range 2 {
			dir := t.TempDir()
			for kill := range 3 {
				cmd := exec.Command(bin, scanArgs(srv.URL, dir)...)
				cmd.Env = append(os.Environ(), env...)
				var errb bytes.Buffer
				cmd.Stderr = &errb
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				time.Sleep(time.Duration(rng.Int64N(int64(span))))
				_ = cmd.Process.Signal(syscall.SIGKILL)
				err := cmd.Wait()
				var ee *exec.ExitError
				if err != nil && !errors.As(err, &ee) {
					t.Fatalf("round %d kill %d: %v", round, kill, err)
				}
			}
			r := testkit.Run(t, bin, env, scanArgs(srv.URL, dir)...)
			if r.Code != 0 {
				t.Fatalf("round %d: rerun exit %d: %s", round, r.Code, r.Stderr)
			}
			sinks.ExactlyOnce(t, dir, want)
		}
	})

	// A simulator with slow pages keeps the scan busy long enough to stop it half-way.
	slow := startScanSim(t, tn, simulator.Config{PageLatency: 8 * time.Second})

	t.Run("SIGINT commits and exits 6", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		cmd := exec.Command(bin, scanArgs(slow.URL, dir)...)
		cmd.Env = append(os.Environ(), env...)
		var outb, errb testkit.Buffer
		cmd.Stdout, cmd.Stderr = &outb, &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		// Interrupt once the scan is under way (its plan is logged), a page or two in.
		deadline := time.Now().Add(30 * time.Second)
		for !strings.Contains(errb.String(), "scan planned") {
			if time.Now().After(deadline) {
				t.Fatalf("the scan never started:\n%s", errb.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(700 * time.Millisecond)
		if err := cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitStopped {
			t.Fatalf("after SIGINT: %v, want exit %d\n%s%s", err, exitStopped, outb.String(), errb.String())
		}
		if !strings.Contains(outb.String(), "scan stopped early") || !strings.Contains(errb.String(), "rerun the same command") {
			t.Errorf("SIGINT output:\n%s%s", outb.String(), errb.String())
		}
		// The run log says the run was stopped, for monitoring.
		st, err := warehouse.ReadStatus(t.Context(), warehouse.ReaderOptions{Dir: dir})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Runs) == 0 || !strings.Contains(st.Runs[0].Summary, `"stopped": true`) && !strings.Contains(st.Runs[0].Summary, `"stopped":true`) {
			t.Errorf("run log of the stopped run: %+v", st.Runs)
		}
		if r := testkit.Run(t, bin, env, scanArgs(slow.URL, dir)...); r.Code != 0 {
			t.Fatalf("rerun exit %d: %s", r.Code, r.Stderr)
		}
		sinks.ExactlyOnce(t, dir, want)
	})

	t.Run("max-duration commits and exits 6", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		r := testkit.Run(t, bin, env, scanArgs(slow.URL, dir, "--max-duration", "1s")...)
		if r.Code != exitStopped || !strings.Contains(r.Stderr, "--max-duration") {
			t.Fatalf("exit %d, want %d naming --max-duration:\n%s%s", r.Code, exitStopped, r.Stdout, r.Stderr)
		}
		if r := testkit.Run(t, bin, env, scanArgs(slow.URL, dir)...); r.Code != 0 {
			t.Fatalf("rerun exit %d: %s", r.Code, r.Stderr)
		}
		sinks.ExactlyOnce(t, dir, want)
	})
}
