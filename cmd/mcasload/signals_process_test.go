package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// notInterruptible names the commands that have no signal case, and why: each ends as soon as
// it has read or written a few small things, with no moment where a signal finds it working.
// A new command must be added here or to signalCases.
var notInterruptible = map[string]string{
	"help":          "prints the help and ends",
	"version":       "prints four lines and ends",
	"completion":    "prints a fixed script and ends",
	completeCommand: "prints the completions of one word and ends",
	"man":           "prints the manual page, generated in memory, and ends",
	"schema":        "prints the data dictionary, compiled in, and ends",
	"config":        "checks or converts one small file",
	"status":        "reads a few small tables and prints them",
	"state":         "show reads one table; reset is one short transaction",
	"findings":      "list and show read one table; ack, suppress and resolve are one short transaction each",
}

// signalCase is one command stopped by a signal while it provably works: waiting at a pause
// point (failpoint.EnvPause), on a server that has not answered yet, or on a stdout that
// nobody reads.
type signalCase struct {
	name  string
	args  []string
	env   []string
	sig   syscall.Signal
	pause string   // wait until the process pauses at this point
	block *blocker // wait until the command's first request reached this server
	// stdoutPipe: wait until the command wrote to a stdout that is then not read (its answer
	// is far larger than a pipe holds, so it cannot have finished).
	stdoutPipe bool
	readyOut   string // wait until stdout holds this
	stdin      string // written to stdin, which then stays open: the command waits for more
	serves     bool   // a server, which a signal ends as it should: exit 0 instead of 6
	stderr     []string
	after      func(t *testing.T)
}

// blocker is a loopback server whose requests wait, once armed, until the client gives up (the
// signal): arrived is closed when the first of them comes. Unarmed it hands requests to next.
type blocker struct {
	URL     string
	CA      string // the certificate of a TLS blocker
	armed   atomic.Bool
	arrived chan struct{}
	once    sync.Once
	release chan struct{}
	next    http.Handler
}

func newBlocker(t *testing.T, next http.Handler, tls bool) *blocker {
	b := &blocker{arrived: make(chan struct{}), release: make(chan struct{}), next: next}
	b.armed.Store(next == nil)
	if tls {
		srv, ca := testkit.TLSServer(t, b)
		b.URL, b.CA = srv.URL, ca
	} else {
		srv := httptest.NewServer(b)
		t.Cleanup(srv.Close)
		b.URL = srv.URL
	}
	t.Cleanup(func() { close(b.release) }) // runs before the server closes
	return b
}

func (b *blocker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !b.armed.Load() {
		b.next.ServeHTTP(w, r)
		return
	}
	b.once.Do(func() { close(b.arrived) })
	select {
	case <-r.Context().Done():
	case <-b.release:
	}
}

// run starts the case's command, waits until it provably works, signals it, and checks how it
// ended.
func (sc signalCase) run(t *testing.T, bin string) {
	env := sc.env
	marker := filepath.Join(t.TempDir(), "paused")
	if sc.pause != "" {
		env = append(env, failpoint.EnvPause+"="+sc.pause, failpoint.EnvMarker+"="+marker)
	}
	cmd := exec.Command(bin, sc.args...)
	cmd.Env = append(testkit.CleanEnv(), env...)
	var outb, errb testkit.Buffer
	cmd.Stdout, cmd.Stderr = &outb, &errb
	var stdout *os.File
	if sc.stdoutPipe {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		stdout, cmd.Stdout = r, w
		defer w.Close()
	}
	if sc.stdin != "" {
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		go func() { _, _ = io.WriteString(in, sc.stdin) }()
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if w, ok := cmd.Stdout.(*os.File); ok {
		w.Close() // the child holds its own copy
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	fail := func(what string) {
		_ = cmd.Process.Kill()
		<-exited
		t.Fatalf("%s %s\nstdout:\n%.2000s\nstderr:\n%s", sc.name, what, outb.String(), errb.String())
	}
	ready := make(chan struct{})
	go func() {
		defer close(ready)
		switch {
		case sc.pause != "":
			for {
				if _, err := os.Stat(marker); err == nil {
					return
				}
				time.Sleep(10 * time.Millisecond)
			}
		case sc.block != nil:
			<-sc.block.arrived
		case sc.stdoutPipe:
			_, _ = io.ReadFull(stdout, make([]byte, 4096))
		case sc.readyOut != "":
			for !strings.Contains(outb.String(), sc.readyOut) {
				time.Sleep(10 * time.Millisecond)
			}
		}
	}()
	select {
	case <-ready:
	case err := <-exited:
		t.Fatalf("%s ended before it was signalled: %v\nstdout:\n%s\nstderr:\n%s", sc.name, err, outb.String(), errb.String())
	case <-time.After(2 * time.Minute):
		fail("never reached the moment to signal it")
	}
	if err := cmd.Process.Signal(sc.sig); err != nil {
		fail("could not be signalled: " + err.Error())
	}
	if sc.stdoutPipe {
		// The pipe is full and the command blocked writing it; once the signal is handled
		// (a moment: it is not what the test waits on) the rest is drained.
		time.Sleep(100 * time.Millisecond)
		go func() { _, _ = io.Copy(io.Discard, stdout) }()
	}
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		fail("ignored " + sc.sig.String())
	}
	code, wantCode := cmd.ProcessState.ExitCode(), exitStopped
	if sc.serves {
		wantCode = exitOK
	}
	if code != wantCode {
		t.Fatalf("%s after %v: exit %d, want %d\nstdout:\n%.2000s\nstderr:\n%s", sc.name, sc.sig, code, wantCode, outb.String(), errb.String())
	}
	t.Logf("%s after %v: exit %d: %s", strings.Join(sc.args[:1], ""), sc.sig, code, strings.TrimSpace(errb.String()))
	want := sc.stderr
	if !sc.serves {
		want = append([]string{"stopped by a signal"}, want...)
	}
	for _, s := range want {
		if !strings.Contains(errb.String(), s) {
			t.Errorf("%s after %v: stderr lacks %q:\n%s", sc.name, sc.sig, s, errb.String())
		}
	}
	if sc.after != nil {
		sc.after(t)
	}
}

// testSignals stops every command that works for a while with SIGINT or SIGTERM at a moment it
// provably works, and checks it exits 6 saying so and leaves nothing half-written: every
// warehouse it wrote verifies. wh is a warehouse of records, tn the tenant a simulator serves.
func testSignals(t *testing.T, bin, wh, records string, tn *synth.Tenant) {
	run := func(t *testing.T, args ...string) testkit.Result { return testkit.Run(t, bin, nil, args...) }
	// verifies: the warehouse dir verifies (after the stop, or after the rerun that
	// finishes what the stopped run began, for migrate).
	verifies := func(dir string) func(t *testing.T) {
		return func(t *testing.T) {
			if r := run(t, "verify", "-w", dir); r.Code != exitOK {
				t.Errorf("verify after the stop: %s", r)
			}
		}
	}
	absent := func(path string) func(t *testing.T) {
		return func(t *testing.T) {
			if _, err := os.Stat(path); err == nil {
				t.Errorf("%s was written by the stopped run", path)
			}
		}
	}
	copyOf := func(t *testing.T, src string) string {
		dir := filepath.Join(t.TempDir(), "wh")
		if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	apiHandler := simulator.NewHandler(simulator.Config{Tenant: tn, Token: scanTestToken, RateLimit: simulator.NoRateLimit})
	token := []string{"MCAS_TOKEN=" + scanTestToken}
	lines := strings.SplitAfter(readFile(t, records), "\n")
	firstLines := strings.Join(lines[:200], "")
	s3 := []string{"AWS_ACCESS_KEY_ID=signal-test", "AWS_SECRET_ACCESS_KEY=signal-test", "AWS_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true"}

	cases := map[string][]func(t *testing.T) signalCase{
		// A load from a file that was read to its end before the signal commits it all and
		// exits 0; from a stdin that stays open, it is stopped half way.
		"load": {
			func(t *testing.T) signalCase {
				dir := filepath.Join(t.TempDir(), "wh")
				return signalCase{args: []string{"load", "-w", dir, "--progress=false", "--batch-rows", "100", "-"}, stdin: firstLines, sig: syscall.SIGTERM,
					pause: "duckdb-before-commit@2", stderr: []string{"what was read is committed", "rerun the same command"}, after: verifies(dir)}
			},
			func(t *testing.T) signalCase {
				dir := filepath.Join(t.TempDir(), "wh")
				return signalCase{args: []string{"load", "-w", dir, "--progress=false", "--batch-rows", "100", "-"}, stdin: firstLines, sig: syscall.SIGINT,
					pause: "duckdb-before-commit", stderr: []string{"what was read is committed"}, after: verifies(dir)}
			},
		},
		"scan": {
			func(t *testing.T) signalCase { // the first page never comes
				dir := filepath.Join(t.TempDir(), "wh")
				b := newBlocker(t, nil, false)
				return signalCase{args: []string{"scan", "--url", b.URL, "-w", dir, "--progress=false", "--rate-limit", "60000"}, env: token, sig: syscall.SIGINT,
					block: b, stderr: []string{"what was fetched is committed"}, after: verifies(dir)}
			},
			func(t *testing.T) signalCase { // a page fetched, not yet converted
				dir := filepath.Join(t.TempDir(), "wh")
				b := newBlocker(t, apiHandler, false)
				return signalCase{args: []string{"scan", "--url", b.URL, "-w", dir, "--progress=false", "--rate-limit", "60000", "--limit", "500"}, env: token, sig: syscall.SIGTERM,
					pause: "fetch", stderr: []string{"what was fetched is committed"}, after: verifies(dir)}
			},
		},
		"check": {func(t *testing.T) signalCase {
			b := newBlocker(t, nil, false)
			return signalCase{args: []string{"check", "--url", b.URL}, env: token, sig: syscall.SIGINT, block: b}
		}},
		"audit": {func(t *testing.T) signalCase {
			dir := filepath.Join(t.TempDir(), "wh")
			b := newBlocker(t, apiHandler, false)
			if r := testkit.Run(t, bin, token, "scan", "--url", b.URL, "-w", dir, "--progress=false", "--rate-limit", "60000"); r.Code != exitOK {
				t.Fatalf("scan before the audit: %s", r)
			}
			b.armed.Store(true)
			return signalCase{args: []string{"audit", "--url", b.URL, "-w", dir, "--progress=false", "--rate-limit", "60000"}, env: token, sig: syscall.SIGINT,
				block: b, after: verifies(dir)}
		}},
		"stream": {func(t *testing.T) signalCase { // a storage account that never lists
			dir := filepath.Join(t.TempDir(), "wh")
			b := newBlocker(t, nil, false)
			return signalCase{args: []string{"stream", "--account-url", b.URL + "/" + azuriteAccount, "-w", dir, "--progress=false"}, sig: syscall.SIGINT,
				block: b, stderr: []string{"what was read is committed"}, after: verifies(dir)}
		}},
		"push": {func(t *testing.T) signalCase { // an S3 endpoint that never answers
			dir := copyOf(t, wh)
			b := newBlocker(t, nil, false)
			return signalCase{args: []string{"push", "-w", dir, "--s3-endpoint", b.URL, "--s3-path-style", "s3://signals/dataset"}, env: s3, sig: syscall.SIGINT,
				block: b, after: verifies(dir)}
		}},
		"sync": {func(t *testing.T) signalCase {
			dir := filepath.Join(t.TempDir(), "copy")
			b := newBlocker(t, nil, false)
			return signalCase{args: []string{"sync", "-w", dir, "--s3-endpoint", b.URL, "--s3-path-style", "s3://signals/dataset"}, env: s3, sig: syscall.SIGINT,
				block: b, after: func(t *testing.T) {
					if files := testkit.Files(t, dir); len(files) > 0 && strings.Contains(strings.Join(files, " "), ".parquet") {
						t.Errorf("a stopped sync left Parquet files: %v", files)
					}
				}}
		}},
		"detect": {func(t *testing.T) signalCase { // a receiver that never answers
			dir := filepath.Join(t.TempDir(), "wh")
			incidents := filepath.Join(t.TempDir(), "incidents.ndjson")
			for _, args := range [][]string{
				{"sim", "--records", "300", "--days", "3", "--users", "10", "--incidents", "--ndjson", incidents},
				{"load", "-w", dir, "--progress=false", incidents},
			} {
				if r := run(t, args...); r.Code != exitOK {
					t.Fatalf("%s: %s", args[0], r)
				}
			}
			b := newBlocker(t, nil, true)
			secret := filepath.Join(t.TempDir(), "hook.key")
			writeFile(t, secret, "0123456789abcdef0123456789abcdef")
			return signalCase{args: []string{"detect", "-w", dir, "--investigations", "cloud-resource-abuse,admin-untrusted-ip", // the planted incidents' findings
				"--deliver", b.URL + "/hook#secret=" + secret + "&ca=" + b.CA}, sig: syscall.SIGINT,
				block: b, stderr: []string{"kept for the next run"}, after: verifies(dir)}
		}},
		"sql": {func(t *testing.T) signalCase { // an answer far larger than the pipe, not read
			return signalCase{args: []string{"sql", "-w", wh, "-f", "csv", "SELECT range AS n FROM range(3000000)"}, sig: syscall.SIGTERM, stdoutPipe: true}
		}},
		"query": {func(t *testing.T) signalCase {
			out := filepath.Join(t.TempDir(), "answer.json")
			return signalCase{args: []string{"query", "-w", wh, "failed-login-burst", "--since", "30d", "-f", "json", "-o", out}, sig: syscall.SIGINT,
				pause: "answer", after: absent(out)}
		}},
		"compare-sources": {func(t *testing.T) signalCase { // the sources differ (11) unless stopped
			return signalCase{args: []string{"compare-sources", "-w", wh}, sig: syscall.SIGINT, pause: "answer"}
		}},
		"domains": {func(t *testing.T) signalCase {
			return signalCase{args: []string{"domains", "-w", wh}, sig: syscall.SIGINT, pause: "answer"}
		}},
		"export": {func(t *testing.T) signalCase {
			out := filepath.Join(t.TempDir(), "activities.parquet")
			return signalCase{args: []string{"export", "-w", wh, "--since", "30d", "-o", out, "--progress=false"}, sig: syscall.SIGINT,
				pause: "answer", after: absent(out)}
		}},
		"report": {func(t *testing.T) signalCase {
			out := filepath.Join(t.TempDir(), "report.html")
			return signalCase{args: []string{"report", "-w", wh, "--since", "30d", "-o", out, "--progress=false"}, sig: syscall.SIGINT,
				pause: "report-step@2", after: absent(out)}
		}},
		"verify": {func(t *testing.T) signalCase {
			dir := copyOf(t, wh)
			return signalCase{args: []string{"verify", "-w", dir}, sig: syscall.SIGINT, pause: "verify", after: verifies(dir)}
		}},
		"repair": {func(t *testing.T) signalCase { // a day of Parquet rewritten, not yet renamed in
			dir := copyOf(t, wh)
			return signalCase{args: []string{"repair", "-w", dir, "--from", "duckdb"}, sig: syscall.SIGINT, pause: "repair-before-rename", after: verifies(dir)}
		}},
		"prune": {func(t *testing.T) signalCase { // days deleted, not yet committed
			dir := copyOf(t, wh)
			return signalCase{args: []string{"prune", "-w", dir, "--older-than", "1d"}, sig: syscall.SIGINT, pause: "prune-before-commit", after: verifies(dir)}
		}},
		"optimize": {func(t *testing.T) signalCase { // two loads' row groups copied into one, not yet committed
			dir := filepath.Join(t.TempDir(), "wh")
			for _, seed := range []string{"1", "2"} {
				f := filepath.Join(t.TempDir(), "records.ndjson")
				for _, args := range [][]string{
					{"sim", "--seed", seed, "--records", "400", "--days", "2", "--users", "5", "--ndjson", f},
					{"load", "-w", dir, "--progress=false", f},
				} {
					if r := run(t, args...); r.Code != exitOK {
						t.Fatalf("%s: %s", args[0], r)
					}
				}
			}
			return signalCase{args: []string{"optimize", "-w", dir}, sig: syscall.SIGINT, pause: "optimize-before-commit", after: verifies(dir)}
		}},
		"migrate": {func(t *testing.T) signalCase { // a warehouse from before tenants, half moved
			dir := filepath.Join(testkit.Untar(t, filepath.Join("..", "..", "warehouse", "testdata", "v2-warehouses.tar.gz"), t.TempDir()), "loaded-url")
			return signalCase{args: []string{"migrate", "-w", dir}, sig: syscall.SIGINT, pause: "layout-before-rename@2", after: verifies(dir)}
		}},
		"demo": {func(t *testing.T) signalCase {
			dir := filepath.Join(t.TempDir(), "demo")
			return signalCase{args: []string{"demo", "-w", dir, "--days", "2", "--users", "5", "--progress=false"}, sig: syscall.SIGINT,
				pause: "duckdb-before-commit", stderr: []string{"demo: stopped by a signal during the scan of tenant contoso"}}
		}},
		"sim": {
			func(t *testing.T) signalCase { // serving: a signal is how it ends
				return signalCase{args: []string{"sim", "--addr", "127.0.0.1:0", "--records", "10", "--users", "2", "--days", "1"}, sig: syscall.SIGINT,
					readyOut: simURLPrefix, serves: true}
			},
			func(t *testing.T) signalCase { // writing records to a stdout nobody reads
				return signalCase{args: []string{"sim", "--records", "20000", "--users", "20", "--days", "2", "--ndjson", "-"}, sig: syscall.SIGTERM, stdoutPipe: true}
			},
		},
	}

	for _, cmd := range (&env{}).commands() {
		_, stoppable := cases[cmd.Name]
		if why, ok := notInterruptible[cmd.Name]; ok == stoppable {
			t.Errorf("command %s: give it a signal case or a reason in notInterruptible (%q), not both or neither", cmd.Name, why)
		}
	}
	for name, list := range cases {
		for i, mk := range list {
			t.Run(name+"/"+string(rune('a'+i)), func(t *testing.T) {
				t.Parallel()
				sc := mk(t)
				sc.name = name
				sc.run(t, bin)
			})
		}
	}
}
