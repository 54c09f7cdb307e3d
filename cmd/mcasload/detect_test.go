package main

import (
	"bufio"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcasload/mcasload/delivery"
	"github.com/mcasload/mcasload/detect"
	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/queries"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// weekTenant is a small tenant whose planted incidents fall in its last six days; the incidents
// of every third kind arrive late: each record of theirs is stored (created) 26 hours after it
// happened, so it becomes visible a night later, in a day already scanned.
func weekTenant(end time.Time) *synth.Tenant {
	tn := synth.New(synth.Config{Seed: 11, Users: 30, Days: 20, End: end, Incidents: true})
	late := map[string]bool{}
	for k, inc := range tn.GroundTruth().Incidents {
		if !inc.Decoy && k%3 == 0 {
			for _, id := range inc.IDs {
				late[id] = true
			}
		}
	}
	for i := range tn.Len() {
		if a := tn.Activity(i); late[a.ID] {
			a.Created = a.Timestamp + 26*time.Hour.Milliseconds()
		}
	}
	return tn
}

// receiver is an HTTPS webhook receiver that checks every request's signature and timestamp and
// counts each (finding id, notification) it accepted; while down it answers 500.
type receiver struct {
	key  []byte
	down atomic.Bool
	mu   sync.Mutex
	got  map[string]int // "id.notification" → accepted requests
	bad  []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	ts := req.Header.Get("X-Mcasload-Timestamp")
	want := delivery.Sign(r.key, ts, body)
	r.mu.Lock()
	defer r.mu.Unlock()
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || time.Since(time.Unix(sec, 0)).Abs() > 5*time.Minute || !hmac.Equal([]byte(want), []byte(req.Header.Get("X-Mcasload-Signature"))) {
		r.bad = append(r.bad, ts)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if r.down.Load() {
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
		return
	}
	var f delivery.Finding
	if err := json.Unmarshal(body, &f); err != nil || f.ID != req.Header.Get("X-Mcasload-Finding-Id") {
		r.bad = append(r.bad, "body: "+string(body))
		http.Error(w, "bad body", http.StatusBadRequest)
		return
	}
	r.got[fmt.Sprintf("%s.%d", f.ID, f.Notification)]++
	w.WriteHeader(http.StatusAccepted)
}

// snapshot copies what the receiver accepted so far.
func (r *receiver) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.got))
	for k, v := range r.got {
		out[k] = v
	}
	return out
}

// wireLines reads an NDJSON file of findings (absent: none). A line that is not JSON fails the
// test unless torn is set: then it is a line a killed run left half-written, which the next run's
// append put on a line of its own, and it is counted in *torn instead.
func wireLines(t *testing.T, path string, torn *int) []delivery.Finding {
	t.Helper()
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []delivery.Finding
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	bad := 0
	for sc.Scan() {
		var w delivery.Finding
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			if torn == nil {
				t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
			}
			bad++
			continue
		}
		out = append(out, w)
	}
	if torn != nil {
		*torn = bad
	}
	return out
}

// weekShort are the detections of the simulated week in make test: the kinds of planted incidents
// visible by its last night, among them late arrivals (impossible-travel, failed-login-burst,
// ediscovery-export) and decoys, judged against a baseline (new-country) or none (mass-download,
// mass-delete). Under MCASLOAD_RELIABILITY=long (make reliability) the week runs every detection.
var weekShort = []string{"impossible-travel", "failed-login-burst", "new-country", "mass-download", "mass-delete", "ediscovery-export"}

// week is a simulated week: a tenant served by a simulator whose clock the test moves a day at a
// time, a warehouse scanned night by night with scan --detect delivering to an NDJSON file and to
// a signed webhook, and what those received.
type week struct {
	tn      *synth.Tenant
	end     time.Time // the tenant's end; night n is at end + (n-7) days
	clk     *clock.Virtual
	srv     *simulator.Server
	dir     string
	file    string
	webhook string
	rcv     *receiver
	// invs are the detections run (--investigations); nil runs every detection.
	invs []string
	// tornOK accepts lines of the file that killed runs left half-written (torn counts them).
	tornOK  bool
	torn    int
	created map[string]time.Time // activity id → when the simulator stores it
	nightOf map[string]int       // finding id → the night it was first written to the file
}

func newWeek(t *testing.T) *week {
	t.Helper()
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour).Add(6 * time.Hour)
	w := &week{tn: weekTenant(end), end: end, clk: clock.NewVirtual(end.Add(-7*24*time.Hour), false),
		dir: filepath.Join(t.TempDir(), "wh"), file: filepath.Join(t.TempDir(), "findings.ndjson"),
		rcv: &receiver{key: []byte("0123456789abcdef0123456789abcdef"), got: map[string]int{}}, invs: weekShort,
		created: map[string]time.Time{}, nightOf: map[string]int{}}
	if os.Getenv("MCASLOAD_RELIABILITY") == "long" {
		w.invs = nil
	}
	w.srv = startScanSim(t, w.tn, simulator.Config{Clock: w.clk})
	hook, ca := testkit.TLSServer(t, w.rcv)
	secret := filepath.Join(t.TempDir(), "hook.key")
	if err := os.WriteFile(secret, w.rcv.key, 0o600); err != nil {
		t.Fatal(err)
	}
	w.webhook = hook.URL + "/hook#secret=" + secret + "&ca=" + ca + "&attempts=1"
	for i := range w.tn.Len() {
		a := w.tn.Activity(i)
		w.created[a.ID] = time.UnixMilli(a.Created).UTC()
	}
	return w
}

// lines reads the findings written to the file so far.
func (w *week) lines(t *testing.T) []delivery.Finding {
	t.Helper()
	if w.tornOK {
		return wireLines(t, w.file, &w.torn)
	}
	return wireLines(t, w.file, nil)
}

// at moves the simulator's clock to night n.
func (w *week) at(n int) { w.clk.Set(w.end.Add(time.Duration(n-7) * 24 * time.Hour)) }

// scanArgs are a night's scan --detect.
func (w *week) scanArgs() []string {
	args := []string{"scan", "--url", w.srv.URL, "-w", w.dir, "--progress=false", "--rate-limit", "6000",
		"--threads", "2", "--detect", "--deliver", "file://" + w.file, "--deliver", w.webhook}
	if w.invs != nil {
		args = append(args, "--investigations", strings.Join(w.invs, ","))
	}
	return args
}

// noteNight records the night of the findings written to the file since it held before lines,
// and returns how many were written.
func (w *week) noteNight(t *testing.T, night, before int) int {
	t.Helper()
	lines := w.lines(t)
	for _, f := range lines[before:] {
		if _, ok := w.nightOf[f.ID]; !ok {
			w.nightOf[f.ID] = night
		}
	}
	return len(lines) - before
}

// quiet reruns the last night's scan --detect with the clock where it was: nothing new was
// stored, so detect finds only what it already delivered and the run must deliver nothing and
// exit 0.
func (w *week) quiet(t *testing.T, run func(args ...string) (int, string)) {
	t.Helper()
	before, sent := len(w.lines(t)), w.rcv.snapshot()
	code, errs := run(w.scanArgs()...)
	if code != exitOK || !strings.Contains(errs, "delivered 0, kept for the next run 0") {
		t.Fatalf("quiet night (nothing new stored): exit %d, want 0 with nothing delivered\n%s", code, errs)
	}
	if n := len(w.lines(t)) - before; n != 0 {
		t.Errorf("quiet night: %d findings written to the file", n)
	}
	if got := w.rcv.snapshot(); !maps.Equal(got, sent) {
		t.Errorf("quiet night: the webhook got %d notifications, had %d", len(got), len(sent))
	}
	t.Logf("quiet night (%s, nothing new stored): exit 0, nothing delivered", w.clk.Now().Format(time.DateTime))
}

// check asserts what the week delivered: every notification in the file and at the webhook, at
// least once and at most copies times (more than once only after a kill between sending and
// recording, which sends the same id and notification again); every planted incident of a
// detection run and visible by the last night as exactly one finding notification, delivered on
// a night by which its records were visible; no decoy; and the same finding ids as one detect
// over the whole warehouse. It returns the file's findings, each notification once.
func (w *week) check(t *testing.T, copies int) []delivery.Finding {
	t.Helper()
	var lines []delivery.Finding
	inFile := map[string]int{}
	for _, f := range w.lines(t) {
		k := fmt.Sprintf("%s.%d", f.ID, f.Notification)
		if inFile[k]++; inFile[k] == 1 {
			lines = append(lines, f)
		} else if inFile[k] > copies {
			t.Errorf("finding %s notification %d written to the file %d times, want at most %d", f.ID, f.Notification, inFile[k], copies)
		}
	}
	got := w.rcv.snapshot()
	w.rcv.mu.Lock()
	if len(w.rcv.bad) > 0 {
		t.Errorf("the receiver refused %d requests: %v", len(w.rcv.bad), w.rcv.bad)
	}
	w.rcv.mu.Unlock()
	for k, n := range got {
		if n < 1 || n > copies || inFile[k] == 0 {
			t.Errorf("webhook got %s %d times (in the file %d times), want 1 to %d", k, n, inFile[k], copies)
		}
	}
	if len(got) != len(inFile) {
		t.Errorf("webhook got %d notifications, the file %d", len(got), len(inFile))
	}
	if !slices.ContainsFunc(slices.Collect(maps.Keys(got)), func(k string) bool { return strings.HasSuffix(k, ".1") }) {
		t.Error("the webhook got no first notification")
	}
	// Every incident of a detection run and visible by the last night is delivered once, on a
	// night by which its records were visible and not before its first was; decoys never.
	for _, inc := range w.tn.GroundTruth().Incidents {
		inv, err := queries.Lookup(inc.Kind)
		if err != nil || inv.Kind != queries.Detection || (w.invs != nil && !slices.Contains(w.invs, inc.Kind)) {
			continue
		}
		var hits []delivery.Finding
		for _, f := range lines {
			if f.Key.Investigation == inc.Kind && slices.ContainsFunc(f.EvidenceIDs, func(id string) bool { return slices.Contains(inc.IDs, id) }) {
				hits = append(hits, f)
			}
		}
		if inc.Decoy {
			if len(hits) > 0 {
				t.Errorf("decoy of %s delivered: %+v", inc.Kind, hits[0].Key)
			}
			continue
		}
		var first, last time.Time
		for _, id := range inc.IDs {
			c := w.created[id]
			if first.IsZero() || c.Before(first) {
				first = c
			}
			if c.After(last) {
				last = c
			}
		}
		if last.After(w.clk.Now()) {
			continue
		}
		if len(hits) != 1 {
			t.Errorf("incident %s (%s, %s) delivered as %d notifications, want one", inc.Kind, inc.User, inc.Start.Format(time.DateTime), len(hits))
			continue
		}
		n := w.nightOf[hits[0].ID]
		at := w.end.Add(time.Duration(n-7) * 24 * time.Hour)
		if at.Before(first) || at.Add(-24*time.Hour).After(last) {
			t.Errorf("incident %s visible from %s to %s delivered on night %d (%s)", inc.Kind, first, last, n, at)
		}
	}
	// Night by night finds what one detect over the whole week finds: the same keys. A
	// detection runs over whole days and judges each against the history before it, so where a
	// night's new activities start changes neither its verdict nor its keys.
	once := oneShotKeys(t, w.dir, w.invs)
	for _, f := range lines {
		if _, ok := once[f.ID]; f.Notification == 1 && !ok {
			t.Errorf("finding %s of %s (%+v, %s) is not found by one detect over the whole week", f.ID, f.Key.Investigation, f.Key.Entities, f.Key.Bucket)
		}
		delete(once, f.ID)
	}
	for id, what := range once {
		t.Errorf("one detect over the whole week finds %s, %s, which no night delivered", id, what)
	}
	return lines
}

// TestDetectWeek scans a tenant night by night while the simulator's clock moves a day at a
// time, with detect after each scan: every planted incident a detection answers is delivered
// exactly once, on a night by which its records are visible, to a file and to a signed webhook.
// The webhook is down one night: that night exits 9, and the findings it missed arrive the next
// night, once each, with the same ids. A night on which nothing new was stored (the scan rerun
// with the clock where it was) exits 0 and delivers nothing. Decoys are never delivered, and no
// night delivers what one detect over the whole week would not find. make test runs three nights
// and the detections of weekShort; make reliability the whole week and every detection.
func TestDetectWeek(t *testing.T) {
	w := newWeek(t)
	// The first scan, the night the webhook is down and the one after; the whole week in
	// make reliability.
	first, last, downNight := 2, 4, 3
	if os.Getenv("MCASLOAD_RELIABILITY") == "long" {
		first, last = 0, 8
	}
	run := func(args ...string) (int, string) {
		code, out, errs := runScanCLI(t, tokenEnv, args...)
		return code, out + errs
	}
	for night := first; night <= last; night++ {
		w.at(night)
		w.rcv.down.Store(night == downNight)
		before := len(w.lines(t))
		code, errs := run(w.scanArgs()...)
		newOnes := w.noteNight(t, night, before)
		switch {
		case night == downNight && code != exitUndelivered:
			t.Fatalf("night %d (webhook down): exit %d, want %d\n%s", night, code, exitUndelivered, errs)
		case night != downNight && newOnes == 0 && code != exitOK:
			t.Fatalf("night %d: nothing delivered but exit %d, want 0\n%s", night, code, errs)
		case night != downNight && newOnes > 0 && code != exitNewFindings:
			t.Fatalf("night %d: %d findings delivered, exit %d, want %d\n%s", night, newOnes, code, exitNewFindings, errs)
		}
		t.Logf("night %d (%s): exit %d, %d findings to the file", night, w.clk.Now().Format(time.DateTime), code, newOnes)
	}
	w.quiet(t, run)
	lines := w.check(t, 1)

	// The report's triage section lists the findings with evidence in its window, highest
	// severity first, each with its portal links.
	html := filepath.Join(t.TempDir(), "report.html")
	if code, out, errs := runScanCLI(t, nil, "report", "-w", w.dir, "--since", w.end.Add(-21*24*time.Hour).Format(time.RFC3339),
		"--until", w.clk.Now().Format(time.RFC3339), "--out", html, "--progress=false"); code != exitOK {
		t.Fatalf("report: exit %d\n%s%s", code, out, errs)
	}
	page, err := os.ReadFile(html)
	if err != nil {
		t.Fatal(err)
	}
	triage := string(page)
	if i := strings.Index(triage, `<section id="triage"`); i < 0 {
		t.Fatal("the report has no triage section")
	} else {
		triage = triage[i : i+strings.Index(triage[i:], "</section>")]
	}
	sevs := regexp.MustCompile(`tok sev sev-(\w+)`).FindAllStringSubmatch(triage, -1)
	if len(sevs) != len(lines) {
		t.Errorf("the triage section lists %d findings, want %d", len(sevs), len(lines))
	}
	for i := 1; i < len(sevs); i++ {
		if delivery.Severity(sevs[i][1]).Rank() > delivery.Severity(sevs[i-1][1]).Rank() {
			t.Errorf("triage: %s listed after %s", sevs[i][1], sevs[i-1][1])
		}
	}
	if !strings.Contains(triage, `class="portal" href="`+strings.TrimSuffix(w.srv.URL, "/")) {
		t.Error("the triage section has no portal link at the scanned host")
	}
}

// oneShotKeys runs the detections named (every detection for nil) once over everything the
// warehouse holds, as a first detect would, and returns the finding ids of its candidates.
func oneShotKeys(t *testing.T, dir string, names []string) map[string]string {
	t.Helper()
	ctx := t.Context()
	r, err := warehouse.OpenReader(ctx, warehouse.ReaderOptions{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sp, err := detect.NewActivities(ctx, r.Conn(), warehouse.DetectMark{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := queries.Open(ctx, r.Conn(), queries.Lockdown{})
	if err != nil {
		t.Fatal(err)
	}
	invs, err := detect.Select(names, nil)
	if err != nil {
		t.Fatal(err)
	}
	cands, _, err := detect.Find(ctx, s, r.Conn(), sp, detect.Options{Tenant: r.Tenants[0], Investigations: invs, Now: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range cands {
		out[c.Key.ID()] = fmt.Sprintf("%s %+v %s (%s to %s)", c.Key.Investigation, c.Key.Entities, c.Key.Bucket, c.FirstSeen, c.LastSeen)
	}
	return out
}

// TestDetectBadInput: every mistake in what detect is given is a usage error (exit 2) that
// says what to do, before anything runs, so no finding is lost to it.
func TestDetectBadInput(t *testing.T) {
	dir := t.TempDir()
	open := filepath.Join(dir, "open.key")
	if err := os.WriteFile(open, []byte("0123456789abcdef0123456789abcdef"), 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--deliver", "/var/findings.ndjson"}, "no scheme: write file:///var/findings.ndjson"},
		{[]string{"--deliver", "https://hooks.example.com/x#secret=" + open}, "chmod 600"},
		{[]string{"--deliver", "syslog+tcp://siem.example.com?format=xml"}, `unknown format "xml"`},
		{[]string{"--investigations", "impossible-travl"}, `unknown investigation "impossible-travl"; the detections are: `},
		{[]string{"--investigations", "user-timeline"}, "pivots never run in detect"},
		{[]string{"--exclude", "nope"}, `unknown investigation "nope"`},
		{[]string{"--min-severity", "urgent"}, `"urgent" is not one of informational, low, medium, high`},
	}
	for _, tc := range cases {
		code, out, errs := runScanCLI(t, nil, append([]string{"detect", "-w", filepath.Join(dir, "wh")}, tc.args...)...)
		if code != exitUsage || !strings.Contains(errs, tc.want) {
			t.Errorf("detect %v: exit %d, want %d with %q\n%s%s", tc.args, code, exitUsage, tc.want, out, errs)
		}
	}
	// An unreachable syslog receiver and a webhook that hangs are not usage errors: the run
	// keeps the findings for the next run (exit 9), as TestDetectWeek shows for a webhook down.
}
