package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/delivery"
	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// TestDetectKilled runs the real binary: `mcasload detect` killed (SIGKILL) at each of its
// failpoints, between committing the findings and delivering them and between sending them
// and recording the delivery, then run again. The receiver gets every finding, with the same id
// and notification, at most once more than it accepted before the kill and none is lost; the
// next run has nothing new (exit 0). Then the DuckDB file is thrown away: repair --from parquet
// brings back every finding with its delivery state, and a detect after it delivers nothing.
// What a kill does to the outbox does not depend on which detections found what, so the runs
// take three cheap detections over ten days, which find a few findings; the simulated week with
// kills (TestDetectWeekKilled, make reliability) runs every detection.
func TestDetectKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	tn := synth.New(synth.Config{Seed: 11, Users: 30, Days: 10, End: end, Incidents: true, LateArrivals: -1})
	srv := startScanSim(t, tn, simulator.Config{})
	env := []string{"MCAS_TOKEN=" + scanTestToken}
	base := filepath.Join(t.TempDir(), "base")
	if r := testkit.Run(t, bin, env, "scan", "--url", srv.URL, "-w", base, "--progress=false", "--rate-limit", "60000"); r.Code != 0 {
		t.Fatalf("scan: %s", r)
	}
	for _, fp := range failpoint.DetectNames {
		t.Run(fp, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "wh")
			if err := os.CopyFS(dir, os.DirFS(base)); err != nil {
				t.Fatal(err)
			}
			rcv := &receiver{key: []byte("0123456789abcdef0123456789abcdef"), got: map[string]int{}}
			hook, ca := testkit.TLSServer(t, rcv)
			secret := filepath.Join(t.TempDir(), "hook.key")
			if err := os.WriteFile(secret, rcv.key, 0o600); err != nil {
				t.Fatal(err)
			}
			detectArgs := []string{"detect", "-w", dir, "--investigations", "new-country,unusual-admin-activity,admin-untrusted-ip",
				"--deliver", hook.URL + "/hook#secret=" + secret + "&ca=" + ca}
			marker := filepath.Join(t.TempDir(), "marker")
			r := testkit.Run(t, bin, append([]string{failpoint.EnvName + "=" + fp, failpoint.EnvMarker + "=" + marker}, env...), detectArgs...)
			if got, err := os.ReadFile(marker); !r.Killed || strings.TrimSpace(string(got)) != fp {
				t.Fatalf("detect was not killed at %s (marker %q, %v): %s", fp, got, err, r)
			}
			sentBefore := rcv.snapshot()
			r = testkit.Run(t, bin, env, detectArgs...)
			if r.Code != exitNewFindings {
				t.Fatalf("detect after the kill: %s", r)
			}
			got := rcv.snapshot()
			if len(got) == 0 {
				t.Fatal("no finding delivered")
			}
			for k, n := range got {
				if n != sentBefore[k]+1 {
					t.Errorf("%s: %d requests accepted, %d of them before the kill; want one more after it", k, n, sentBefore[k])
				}
			}
			for k := range sentBefore {
				if _, ok := got[k]; !ok {
					t.Errorf("%s was sent before the kill and then lost", k)
				}
			}
			if r := testkit.Run(t, bin, env, detectArgs...); r.Code != 0 || !strings.Contains(r.Stderr, "delivered 0") {
				t.Fatalf("a detect with nothing new: %s", r)
			}
			if r := testkit.Run(t, bin, env, "verify", "-w", dir); r.Code != 0 {
				t.Fatalf("verify: %s", r)
			}
			list := func() string {
				r := testkit.Run(t, bin, env, "findings", "list", "-w", dir, "--format", "json")
				if r.Code != 0 {
					t.Fatalf("findings list: %s", r)
				}
				var doc struct{ Rows []map[string]any }
				if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil || len(doc.Rows) != len(got) {
					t.Fatalf("findings list: %d rows (%v), want %d\n%s", len(doc.Rows), err, len(got), r.Stdout)
				}
				return r.Stdout
			}
			id := slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(strings.Split(k, ".")[0]) {
						return
					}
				}
			})[0]
			if r := testkit.Run(t, bin, env, "findings", "ack", id[:8], "-w", dir, "--reason", "on it"); r.Code != 0 {
				t.Fatalf("ack: %s", r)
			}
			before := list()
			for _, f := range []string{warehouse.DatabaseFile, warehouse.DatabaseFile + ".wal"} {
				os.Remove(filepath.Join(dir, f))
			}
			if r := testkit.Run(t, bin, env, "repair", "--from", "parquet", "-w", dir); r.Code != 0 {
				t.Fatalf("repair: %s", r)
			}
			if after := list(); after != before {
				t.Errorf("findings after repair:\n%s\nbefore:\n%s", after, before)
			}
			if !strings.Contains(before, `"status":"acknowledged"`) || !strings.Contains(before, `"status_reason":"on it"`) {
				t.Errorf("the acknowledgement is not listed:\n%s", before)
			}
			if r := testkit.Run(t, bin, env, detectArgs...); r.Code != 0 {
				t.Fatalf("detect after repair: %s", r)
			}
			if again := rcv.snapshot(); len(again) != len(got) {
				t.Errorf("detect after repair delivered again: %d notifications, had %d", len(again), len(got))
			}
		})
	}
}

// listedFinding is a row of `findings list --format json`.
type listedFinding struct {
	ID            string
	Status        string
	Severity      string
	Investigation string
	Notification  int
	Delivered     int
}

// listFindings runs `findings list --format json` on the warehouse in dir.
func listFindings(t *testing.T, bin, dir string) map[string]listedFinding {
	t.Helper()
	r := testkit.Run(t, bin, nil, "findings", "list", "-w", dir, "--format", "json")
	if r.Code != 0 {
		t.Fatalf("findings list: %s", r)
	}
	var doc struct{ Rows []listedFinding }
	if err := json.Unmarshal([]byte(r.Stdout), &doc); err != nil {
		t.Fatalf("findings list: %v\n%s", err, r.Stdout)
	}
	out := map[string]listedFinding{}
	for _, f := range doc.Rows {
		out[f.ID] = f
	}
	return out
}

// syslogSeverity is the RFC 5424 severity docs/detect.md gives each finding severity.
var syslogSeverity = map[string]int{"high": 2, "medium": 4, "low": 5, "informational": 6}

var (
	cefExternalID   = regexp.MustCompile(`\|externalId=([0-9a-f]+)(?: |$)`)
	cefNotification = regexp.MustCompile(`(?:^| )cn1=([0-9]+)(?: |$)`)
)

// checkSyslog checks what rsyslog wrote: every finding of want once as CEF (APP-NAME mcasload,
// over TLS) and once as JSON (APP-NAME mcasload-json, over TCP), each an RFC 5424 message that
// rsyslog parsed into its fields: version 1, MSGID finding, the origin element, the PRI of
// local0 and the finding's severity.
func checkSyslog(t *testing.T, msgs []testserver.SyslogMessage, want map[string]listedFinding) {
	t.Helper()
	got := map[string]int{} // "app id.notification" → messages
	for _, m := range msgs {
		if m.Version != "1" || m.MsgID != "finding" || !strings.HasPrefix(m.StructuredData, `[origin software="mcasload" swVersion="`) {
			t.Errorf("not a finding's RFC 5424 message: %+v", m)
			continue
		}
		if listener := map[string]string{"mcasload": "tls", "mcasload-json": "tcp"}[m.AppName]; m.Listener != listener {
			t.Errorf("%s message received on the %s listener, want %s", m.AppName, m.Listener, listener)
		}
		var id string
		var n int
		switch m.AppName {
		case "mcasload":
			ext, nn := cefExternalID.FindStringSubmatch(m.Msg), cefNotification.FindStringSubmatch(m.Msg)
			if !strings.HasPrefix(m.Msg, "CEF:0|mcasload|mcasload|") || ext == nil || nn == nil {
				t.Errorf("not a finding's CEF event: %q", m.Msg)
				continue
			}
			id, n = ext[1], atoi(t, nn[1])
			if f := want[id]; !strings.Contains(m.Msg, "|"+f.Investigation+"|") {
				t.Errorf("CEF event of %s does not name %s as its signature: %q", id, f.Investigation, m.Msg)
			}
		case "mcasload-json":
			var f delivery.Finding
			if err := json.Unmarshal([]byte(m.Msg), &f); err != nil {
				t.Errorf("JSON message is not the wire finding: %v\n%s", err, m.Msg)
				continue
			}
			id, n = f.ID, f.Notification
			if w := want[id]; f.Key.Investigation != w.Investigation || string(f.Severity) != w.Severity {
				t.Errorf("JSON message of %s: %s %s, listed as %s %s", id, f.Key.Investigation, f.Severity, w.Investigation, w.Severity)
			}
		default:
			t.Errorf("message from an unexpected APP-NAME %q: %+v", m.AppName, m)
			continue
		}
		f, ok := want[id]
		if !ok {
			t.Errorf("%s received finding %s, which is not in the warehouse", m.AppName, id)
			continue
		}
		if wantPri := 16*8 + syslogSeverity[f.Severity]; m.Priority != wantPri || n != f.Notification {
			t.Errorf("%s: finding %s (%s, notification %d) came with PRI %d and notification %d, want %d and %d",
				m.AppName, id, f.Severity, f.Notification, m.Priority, n, wantPri, f.Notification)
		}
		got[fmt.Sprintf("%s %s.%d", m.AppName, id, n)]++
	}
	for id, f := range want {
		for _, app := range []string{"mcasload", "mcasload-json"} {
			if k := fmt.Sprintf("%s %s.%d", app, id, f.Notification); got[k] != 1 {
				t.Errorf("%s: finding %s received %d times, want once", app, id, got[k])
			}
		}
	}
	if len(got) != 2*len(want) {
		t.Errorf("rsyslog received %d distinct findings, want %d (the warehouse's, in two formats)", len(got), 2*len(want))
	}
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDetectSyslog runs the real binary's nightly scan --detect against Debian's rsyslog, started
// on loopback, with two syslog sinks: CEF over TLS (rsyslog-gnutls) and JSON over TCP. Each
// finding arrives once per sink as an RFC 5424 message rsyslog parses. The next night rsyslog is
// down (connection refused): the run exits 9 and keeps that night's findings; with rsyslog back
// on the same ports, the next run delivers them once each (exit 10) and none of the first
// night's again, and a run after that is quiet (exit 0).
func TestDetectSyslog(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	rs := testserver.StartRsyslog(t)
	bin := testkit.Build(t, testkit.MCASLoad)
	w := newWeek(t)
	w.invs = weekShort
	// one sink per receiver address: CEF over TLS, JSON over plain TCP
	deliver := []string{"--investigations", strings.Join(w.invs, ","),
		"--deliver", "syslog+tls://" + rs.TLSAddr + "?ca=" + rs.CAFile + "&server-name=localhost",
		"--deliver", "syslog+tcp://" + rs.TCPAddr + "?format=json&app-name=mcasload-json&attempts=2"}
	scan := append([]string{"scan", "--url", w.srv.URL, "-w", w.dir, "--progress=false", "--rate-limit", "6000", "--detect"}, deliver...)
	env := []string{"MCAS_TOKEN=" + scanTestToken}

	w.at(2)
	if r := testkit.Run(t, bin, env, scan...); r.Code != exitNewFindings {
		t.Fatalf("night 2: %s", r)
	}
	first := listFindings(t, bin, w.dir)
	if len(first) == 0 {
		t.Fatal("night 2 found nothing")
	}
	checkSyslog(t, rs.WaitReceived(t, 2*len(first)), first)
	t.Logf("night 2: %d findings received by rsyslog in both formats", len(first))

	rs.Stop(t)
	w.at(3)
	r := testkit.Run(t, bin, env, scan...)
	if r.Code != exitUndelivered || !strings.Contains(r.Stderr, "connection refused") || !strings.Contains(r.Stderr, "kept for the next run") {
		t.Fatalf("night 3, rsyslog down: %s", r)
	}
	all := listFindings(t, bin, w.dir)
	kept := 0
	for id, f := range all {
		_, before := first[id]
		switch {
		case !before && (f.Status != "new" || f.Delivered != 0):
			t.Errorf("finding %s found while rsyslog was down is %s with %d delivered, want new and none", id, f.Status, f.Delivered)
		case before && f.Delivered == 0:
			t.Errorf("finding %s of night 2 lost its delivery: %+v", id, f)
		}
		if f.Delivered < f.Notification {
			kept++
		}
	}
	if kept == 0 {
		t.Fatal("night 3 found nothing new, so nothing was kept")
	}

	rs.Restart(t)
	if r := testkit.Run(t, bin, env, append([]string{"detect", "-w", w.dir}, deliver...)...); r.Code != exitNewFindings || !strings.Contains(r.Stderr, fmt.Sprintf("delivered %d,", kept)) {
		t.Fatalf("detect with rsyslog back: %s", r)
	}
	all = listFindings(t, bin, w.dir)
	checkSyslog(t, rs.WaitReceived(t, 2*len(all)), all)
	if r := testkit.Run(t, bin, env, append([]string{"detect", "-w", w.dir}, deliver...)...); r.Code != exitOK {
		t.Fatalf("detect with nothing new: %s", r)
	}
	if n := len(rs.Received(t)); n != 2*len(all) {
		t.Errorf("rsyslog received %d messages after a quiet run, want %d", n, 2*len(all))
	}
	t.Logf("night 3: %d findings kept while rsyslog was down, delivered once each when it was back", kept)
}

// weekKill is how a night's scan --detect is killed.
type weekKill string

const (
	killScan      weekKill = "scan"               // at a scan failpoint (fetch, convert, commit, publish …)
	killCommitted weekKill = "findings-committed" // detect: findings stored, none delivered yet
	killAfterSend weekKill = "detect-after-send"  // detect: every sink answered, delivery not recorded
	killInstant   weekKill = "instant"            // at a random instant of the run
)

// TestDetectWeekKilled is the simulated week of TestDetectWeek run by the real binary and killed
// (SIGKILL) on some nights: during the scan (at one of its failpoints), during detect after it
// stored the findings and before it delivered them, between sending them and recording the
// delivery, or at a random instant within the length of the last run. A killed run is run again
// with the clock where it was until it completes (at most three kills a night). At the end every
// planted incident of a detection was delivered as exactly one notification, on its night, and
// none was lost; a notification reached a receiver more than once only with the same id and only
// as often as a kill could have come between its sending and its recording; one detect over the
// whole warehouse finds the same findings; the night after is quiet; verify agrees. Every
// detection runs. Only in make reliability (MCASLOAD_RELIABILITY=long); each kind of kill happens
// at least once (a kind whose point a night does not reach moves to the next night), and
// MCASLOAD_RELIABILITY_SEED=N replays the kills of a run.
func TestDetectWeekKilled(t *testing.T) {
	if os.Getenv("MCASLOAD_RELIABILITY") != "long" {
		t.Skip("the simulated week with kills runs in make reliability (MCASLOAD_RELIABILITY=long)")
	}
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("MCASLOAD_RELIABILITY_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("MCASLOAD_RELIABILITY_SEED=%q: %v", v, err)
		}
		seed = n
	}
	t.Logf("seed %d (MCASLOAD_RELIABILITY_SEED=%[1]d replays these kills)", seed)
	rng := rand.New(rand.NewPCG(seed, 20))
	w := newWeek(t)
	w.tornOK = true
	env := []string{"MCAS_TOKEN=" + scanTestToken}
	scanPoints := slices.DeleteFunc(slices.Clone(failpoint.Names), func(n string) bool { return n == "reconcile" })
	// Kills start no later than budget after the test did, so the week ends in bounded time:
	// at most 3 kills and one completed run a night, each run at most 5 minutes (testkit.Run).
	const budget = 25 * time.Minute
	started := time.Now()
	todo := []weekKill{killScan, killCommitted, killAfterSend, killInstant}
	rng.Shuffle(len(todo), func(i, j int) { todo[i], todo[j] = todo[j], todo[i] })
	kinds := []weekKill{killScan, killCommitted, killAfterSend, killInstant}
	kills := map[weekKill]int{}
	resends := 0 // kills that may have come between sending a notification and recording it
	last := 30 * time.Second

	// runNight runs the night's scan --detect once, armed to die as kill says; it reports
	// whether the run was killed, and where.
	runNight := func(kill weekKill) (testkit.Result, bool, string) {
		args := w.scanArgs()
		switch kill {
		case "":
			return testkit.Run(t, bin, env, args...), false, ""
		case killInstant:
			p := testkit.Start(t, bin, env, args...)
			at := time.Duration(rng.Int64N(int64(last)))
			for deadline := time.Now().Add(at); p.Running() && time.Now().Before(deadline); {
				time.Sleep(20 * time.Millisecond)
			}
			if p.Running() {
				return p.Kill(t), true, fmt.Sprintf("instant %s", at.Round(time.Millisecond))
			}
			return p.Wait(t), false, ""
		}
		fp := string(kill)
		if kill == killScan {
			fp = fmt.Sprintf("%s@%d", scanPoints[rng.IntN(len(scanPoints))], 1+rng.IntN(2))
		}
		marker := filepath.Join(t.TempDir(), "marker")
		r := testkit.Run(t, bin, append([]string{failpoint.EnvName + "=" + fp, failpoint.EnvMarker + "=" + marker}, env...), args...)
		got, _ := os.ReadFile(marker)
		if reached := len(got) > 0; reached != r.Killed {
			t.Fatalf("failpoint %s: marker %q but killed %v: %s", fp, got, r.Killed, r)
		}
		return r, r.Killed, fp
	}

	for night := 0; night <= 8; night++ {
		w.at(night)
		before := len(w.lines(t))
		var plan []weekKill
		if time.Since(started) < budget {
			if len(todo) > 0 {
				plan, todo = append(plan, todo[0]), todo[1:]
			}
			for len(plan) < 3 && rng.IntN(3) == 0 {
				plan = append(plan, kinds[rng.IntN(len(kinds))])
			}
		}
		var r testkit.Result
		var done []string
		for _, kill := range append(plan, "") {
			var killed bool
			var where string
			if r, killed, where = runNight(kill); !killed {
				if kill != "" && kills[kill] == 0 && !slices.Contains(todo, kill) {
					todo = append(todo, kill) // its point not reached tonight: try again tomorrow
				}
				break
			}
			kills[kill]++
			if kill == killAfterSend || kill == killInstant {
				resends++
			}
			done = append(done, where)
		}
		if r.Code != exitOK && r.Code != exitNewFindings {
			t.Fatalf("night %d after kills %v: %s", night, done, r)
		}
		last = r.Elapsed
		newOnes := w.noteNight(t, night, before)
		t.Logf("night %d (%s): killed %v, then exit %d in %s, %d findings to the file", night, w.clk.Now().Format(time.DateTime),
			done, r.Code, r.Elapsed.Round(time.Millisecond), newOnes)
		if w.torn > 0 {
			t.Logf("the file holds %d lines a killed run left half-written", w.torn)
		}
	}
	for _, k := range kinds {
		if kills[k] == 0 {
			t.Errorf("no night was killed %s (seed %d)", k, seed)
		}
	}
	w.quiet(t, func(args ...string) (int, string) {
		r := testkit.Run(t, bin, env, args...)
		return r.Code, r.Stderr
	})
	lines := w.check(t, 1+resends)
	if r := testkit.Run(t, bin, env, "verify", "-w", w.dir); r.Code != 0 {
		t.Errorf("verify after the week: %s", r)
	}
	copies := 0
	for _, n := range w.rcv.snapshot() {
		copies += n - 1
	}
	t.Logf("the week with kills: %d kills (scan %d, findings-committed %d, detect-after-send %d, at random instants %d), %d findings delivered, %d notifications sent again after a kill between sending and recording (same id), none lost, in %s",
		kills[killScan]+kills[killCommitted]+kills[killAfterSend]+kills[killInstant], kills[killScan], kills[killCommitted],
		kills[killAfterSend], kills[killInstant], len(lines), copies, time.Since(started).Round(time.Second))
}
