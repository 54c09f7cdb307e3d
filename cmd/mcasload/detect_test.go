package main

import (
	"bufio"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
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

// wireLines reads an NDJSON file of findings (absent: none).
func wireLines(t *testing.T, path string) []delivery.Finding {
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
	for sc.Scan() {
		var w delivery.Finding
		if err := json.Unmarshal(sc.Bytes(), &w); err != nil {
			t.Fatalf("%s: %v: %s", path, err, sc.Bytes())
		}
		out = append(out, w)
	}
	return out
}

// TestDetectWeek scans a tenant night by night while the simulator's clock moves a day at a
// time, with detect after each scan: every planted incident a detection answers is delivered
// exactly once, on a night by which its records are visible, to a file and to a signed webhook;
// nights without new findings exit 0. The webhook is down one night: that night exits 9, and the
// findings it missed arrive the next night, once each, with the same ids. Decoys are never
// delivered, and no night delivers what one detect over the whole week would not find.
func TestDetectWeek(t *testing.T) {
	end := time.Now().UTC().Truncate(24 * time.Hour).Add(-48 * time.Hour).Add(6 * time.Hour)
	tn := weekTenant(end)
	clk := clock.NewVirtual(end.Add(-7*24*time.Hour), false)
	srv := startScanSim(t, tn, simulator.Config{Clock: clk})
	dir := filepath.Join(t.TempDir(), "wh")
	rcv := &receiver{key: []byte("0123456789abcdef0123456789abcdef"), got: map[string]int{}}
	hook, ca := testkit.TLSServer(t, rcv)
	secret := filepath.Join(t.TempDir(), "hook.key")
	if err := os.WriteFile(secret, rcv.key, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "findings.ndjson")
	webhook := hook.URL + "/hook#secret=" + secret + "&ca=" + ca + "&attempts=1"

	created := map[string]time.Time{}
	for i := range tn.Len() {
		a := tn.Activity(i)
		created[a.ID] = time.UnixMilli(a.Created).UTC()
	}
	nightOf := map[string]int{} // finding id → night first delivered to the file
	// The whole week (and a quiet night after it) in make reliability; make test runs three
	// nights: the first scan, the night the webhook is down and the one after.
	first, last, downNight := 2, 4, 3
	if os.Getenv("MCASLOAD_RELIABILITY") == "long" {
		first, last = 0, 8
	}
	for night := first; night <= last; night++ {
		clk.Set(end.Add(time.Duration(night-7) * 24 * time.Hour))
		rcv.down.Store(night == downNight)
		before := len(wireLines(t, file))
		code, out, errs := runScanCLI(t, tokenEnv, "scan", "--url", srv.URL, "-w", dir, "--progress=false", "--rate-limit", "6000",
			"--threads", "2", "--detect", "--deliver", "file://"+file, "--deliver", webhook)
		lines := wireLines(t, file)
		for _, f := range lines[before:] {
			if _, ok := nightOf[f.ID]; !ok {
				nightOf[f.ID] = night
			}
		}
		newOnes := len(lines) - before
		switch {
		case night == downNight && code != exitUndelivered:
			t.Fatalf("night %d (webhook down): exit %d, want %d\n%s%s", night, code, exitUndelivered, out, errs)
		case night != downNight && newOnes == 0 && code != exitOK:
			t.Fatalf("night %d: nothing delivered but exit %d, want 0\n%s", night, code, errs)
		case night != downNight && newOnes > 0 && code != exitNewFindings:
			t.Fatalf("night %d: %d findings delivered, exit %d, want %d\n%s", night, newOnes, code, exitNewFindings, errs)
		}
		t.Logf("night %d (%s): exit %d, %d findings to the file", night, clk.Now().Format(time.DateTime), code, newOnes)
	}
	// The file got every notification once: the night the webhook was down, the file sink
	// accepted and is not offered them again.
	lines := wireLines(t, file)
	seen := map[string]bool{}
	for _, f := range lines {
		k := fmt.Sprintf("%s.%d", f.ID, f.Notification)
		if seen[k] {
			t.Errorf("finding %s notification %d written to the file twice", f.ID, f.Notification)
		}
		seen[k] = true
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if len(rcv.bad) > 0 {
		t.Errorf("the receiver refused %d requests: %v", len(rcv.bad), rcv.bad)
	}
	for k, n := range rcv.got {
		if n != 1 || !seen[k] {
			t.Errorf("webhook got %s %d times (in the file: %v), want once", k, n, seen[k])
		}
	}
	if len(rcv.got) != len(seen) {
		t.Errorf("webhook got %d notifications, the file %d", len(rcv.got), len(seen))
	}
	// Every incident of a detection visible by the last night is delivered once, on a night by
	// which its records were visible and not before its first was; decoys never.
	for _, inc := range tn.GroundTruth().Incidents {
		inv, err := queries.Lookup(inc.Kind)
		if err != nil || inv.Kind != queries.Detection {
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
		var lastCreated time.Time
		for _, id := range inc.IDs {
			if created[id].After(lastCreated) {
				lastCreated = created[id]
			}
		}
		if lastCreated.After(clk.Now()) {
			continue
		}
		if len(hits) != 1 {
			t.Errorf("incident %s (%s, %s) delivered %d times, want once", inc.Kind, inc.User, inc.Start.Format(time.DateTime), len(hits))
			continue
		}
		var first, last time.Time
		for _, id := range inc.IDs {
			c := created[id]
			if first.IsZero() || c.Before(first) {
				first = c
			}
			if c.After(last) {
				last = c
			}
		}
		n := nightOf[hits[0].ID]
		at := end.Add(time.Duration(n-7) * 24 * time.Hour)
		if at.Before(first) || at.Add(-24*time.Hour).After(last) {
			t.Errorf("incident %s visible from %s to %s delivered on night %d (%s)", inc.Kind, first, last, n, at)
		}
	}
	// The report's triage section lists the findings with evidence in its window, highest
	// severity first, each with its portal links.
	html := filepath.Join(t.TempDir(), "report.html")
	if code, out, errs := runScanCLI(t, nil, "report", "-w", dir, "--since", end.Add(-21*24*time.Hour).Format(time.RFC3339),
		"--until", clk.Now().Format(time.RFC3339), "--out", html, "--progress=false"); code != exitOK {
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
	if len(sevs) != len(seen) {
		t.Errorf("the triage section lists %d findings, want %d", len(sevs), len(seen))
	}
	for i := 1; i < len(sevs); i++ {
		if delivery.Severity(sevs[i][1]).Rank() > delivery.Severity(sevs[i-1][1]).Rank() {
			t.Errorf("triage: %s listed after %s", sevs[i][1], sevs[i-1][1])
		}
	}
	if !strings.Contains(triage, `class="portal" href="`+strings.TrimSuffix(srv.URL, "/")) {
		t.Error("the triage section has no portal link at the scanned host")
	}

	// Night by night finds what one detect over the whole week finds: the same keys. A
	// detection runs over whole days and judges each against the history before it, so where a
	// night's new activities start changes neither its verdict nor its keys.
	once := oneShotKeys(t, dir)
	for _, f := range lines {
		if _, ok := once[f.ID]; f.Notification == 1 && !ok {
			t.Errorf("finding %s of %s (%+v, %s) is not found by one detect over the whole week", f.ID, f.Key.Investigation, f.Key.Entities, f.Key.Bucket)
		}
		delete(once, f.ID)
	}
	for id, what := range once {
		t.Errorf("one detect over the whole week finds %s, %s, which no night delivered", id, what)
	}
	if !strings.Contains(strings.Join(slices.Collect(func(yield func(string) bool) {
		for k := range rcv.got {
			if !yield(k) {
				return
			}
		}
	}), " "), ".1") {
		t.Error("the webhook got no first notification")
	}
}

// oneShotKeys runs every detection once over everything the warehouse holds, as a first detect
// would, and returns the finding ids of its candidates.
func oneShotKeys(t *testing.T, dir string) map[string]string {
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
	invs, err := detect.Select(nil, nil)
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
