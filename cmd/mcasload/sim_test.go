package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// waitSimLines shows see every line an in-process `mcasload sim` printed so far, again and again
// until ready says it has what it needs; it fails the test when the sim exits first or 30 s pass.
func waitSimLines(t *testing.T, stdout, stderr *testkit.Buffer, done <-chan int, see func(line string), ready func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ready() {
		select {
		case code := <-done:
			t.Fatalf("sim exited early with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sim did not print what the test waits for: %q %q", stdout.String(), stderr.String())
		}
		sc := bufio.NewScanner(strings.NewReader(stdout.String()))
		for sc.Scan() {
			see(sc.Text())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSimServes starts `mcasload sim` in-process, reads the printed URL and token, lists
// activities, and stops it by cancelling the context.
func TestSimServes(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testkit.Buffer
	truth := filepath.Join(t.TempDir(), "truth.json")
	args := []string{"mcasload", "sim", "--addr", "127.0.0.1:0", "--records", "3000", "--users", "20", "--days", "3",
		"--seed", "5", "--truth", truth, "--rate-limit", "0"}
	done := make(chan int, 1)
	go func() { done <- Run(ctx, args, strings.NewReader(""), &stdout, &stderr) }()

	var url, token string
	waitSimLines(t, &stdout, &stderr, done, func(line string) {
		if u, ok := strings.CutPrefix(line, simURLPrefix); ok {
			url = u
		}
		if tk, ok := strings.CutPrefix(line, simTokenPrefix); ok {
			token = tk
		}
	}, func() bool { return url != "" && token != "" })
	if !strings.HasPrefix(url, "http://127.0.0.1:") || len(token) != 64 {
		t.Fatalf("url %q, token of %d characters", url, len(token))
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(`{"filters":{},"isScan":true,"limit":500}`))
	req.Header.Set("Authorization", "Token "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Total   int               `json:"total"`
		HasNext bool              `json:"hasNext"`
		Data    []json.RawMessage `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&env)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || env.Total == 0 || len(env.Data) == 0 || len(env.Data) > 500 {
		t.Fatalf("list: %v %d total %d, %d records", err, resp.StatusCode, env.Total, len(env.Data))
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sim did not stop after cancel")
	}
	f, err := os.Open(truth)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	g, err := synth.ReadGroundTruth(f)
	if err != nil || g.Seed != 5 || g.Activities != 3000 {
		t.Fatalf("ground truth: %v %+v", err, g)
	}
	if strings.Contains(stderr.String(), token) {
		t.Fatal("the token appears in the log")
	}
}

func TestSimTokenFromEnvironmentIsNotPrinted(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stdout, stderr testkit.Buffer
	const secret = "sim-token-from-env-0123456789abcdef0123456789abcdef0123456789ab"
	e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		if k == envSimToken {
			return secret
		}
		return ""
	}}
	done := make(chan int, 1)
	go func() {
		done <- e.run(ctx, []string{"mcasload", "sim", "--addr", "127.0.0.1:0", "--records", "500", "--users", "5", "--days", "2"})
	}()
	var url string
	for deadline := time.Now().Add(30 * time.Second); url == ""; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no URL: %q %q", stdout.String(), stderr.String())
		}
		for _, line := range strings.Split(stdout.String(), "\n") {
			if u, ok := strings.CutPrefix(line, simURLPrefix); ok {
				url = u
			}
		}
	}
	req, _ := http.NewRequest(http.MethodGet, url+"?limit=1", nil)
	req.Header.Set("Authorization", "Token "+secret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("token from %s refused: %d", envSimToken, resp.StatusCode)
	}
	cancel()
	<-done
	if strings.Contains(stdout.String()+stderr.String(), secret) {
		t.Fatal("a token given through the environment was printed")
	}
}

func TestSimRefusesRemoteAddress(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"mcasload", "sim", "--addr", "0.0.0.0:0", "--records", "100", "--users", "5", "--days", "2"},
		strings.NewReader(""), &stdout, &stderr)
	if code != exitUsage || !strings.Contains(stderr.String(), "--allow-remote") {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
}

func TestSimNDJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "records.ndjson")
	var stdout, stderr bytes.Buffer
	code := Run(t.Context(), []string{"mcasload", "sim", "--records", "1200", "--users", "10", "--days", "2", "--seed", "3",
		"--end", "2026-01-01T00:00:00Z", "--ndjson", out}, strings.NewReader(""), &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(b), []byte("\n"))
	tn := synth.New(synth.Config{Seed: 3, Users: 10, Days: 2, Total: 1200, End: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)})
	if len(lines) != tn.Len() { // the data ends in the past, so every record is visible
		t.Fatalf("%d lines, want %d", len(lines), tn.Len())
	}
	for i, l := range lines[:10] {
		if !json.Valid(l) || !bytes.Equal(l, tn.AppendJSON(nil, i)) {
			t.Fatalf("line %d differs from the generator's record", i)
		}
	}
}

func TestSimFlagParsers(t *testing.T) {
	if b, err := parseTieBurst("600@2026-11-01T10:00:00.123Z,created"); err != nil || b.Size != 600 || b.Field != "created" || b.At.UnixMilli()%1000 != 123 {
		t.Fatalf("tie burst: %+v %v", b, err)
	}
	for _, bad := range []string{"600", "x@2026-11-01T10:00:00Z", "5@yesterday", "5@2026-11-01T10:00:00Z,user"} {
		if _, err := parseTieBurst(bad); err == nil {
			t.Errorf("tie burst %q accepted", bad)
		}
	}
	if lo, hi, err := parseLatency("1s-3s"); err != nil || lo != time.Second || hi != 3*time.Second {
		t.Fatalf("latency range: %v %v %v", lo, hi, err)
	}
	if lo, hi, err := parseLatency("0"); err != nil || lo != 0 || hi != 0 {
		t.Fatalf("latency 0: %v %v %v", lo, hi, err)
	}
	if _, _, err := parseLatency("3s-1s"); err == nil {
		t.Fatal("reversed latency range accepted")
	}
	r, err := parseFaultRates([]string{"500=0.1,reset=0.05", "slow=0.01"})
	if err != nil || r[simulator.FaultInternalError] != 0.1 || r[simulator.FaultReset] != 0.05 || r[simulator.FaultSlow] != 0.01 {
		t.Fatalf("fault rates: %v %v", r, err)
	}
	if r, err := parseFaultRates([]string{"0.7"}); err != nil || math.Abs(r[simulator.FaultBadGateway]-0.1) > 1e-9 {
		t.Fatalf("spread rate: %v %v", r, err)
	}
	for _, bad := range []string{"teapot=0.1", "500=2", "500=0.6,502=0.6"} {
		if _, err := parseFaultRates([]string{bad}); err == nil {
			t.Errorf("fault rate %q accepted", bad)
		}
	}
}

// TestSimLookalikesFlag: the look-alikes come with --incidents unless --lookalikes=false, and
// --lookalikes adds them without incidents. (64 incidents: a plant and a decoy for each of the 32
// investigations with a planted kind.)
func TestSimLookalikesFlag(t *testing.T) {
	for _, c := range []struct {
		flags             []string
		incidents, lookas int
	}{
		{[]string{"--incidents"}, 64, len(synth.LookalikeKinds)},
		{[]string{"--incidents", "--lookalikes=false"}, 64, 0},
		{[]string{"--lookalikes"}, 0, len(synth.LookalikeKinds)},
		{nil, 0, 0},
	} {
		dir := t.TempDir()
		truth := filepath.Join(dir, "truth.json")
		args := append([]string{"mcasload", "sim", "--users", "40", "--days", "20", "--end", "2026-03-10T12:00:00Z",
			"--truth", truth, "--ndjson", filepath.Join(dir, "records.ndjson")}, c.flags...)
		var stdout, stderr testkit.Buffer
		if code := Run(t.Context(), args, strings.NewReader(""), &stdout, &stderr); code != 0 {
			t.Fatalf("%v: exit %d: %s", c.flags, code, stderr.String())
		}
		f, err := os.Open(truth)
		if err != nil {
			t.Fatal(err)
		}
		g, err := synth.ReadGroundTruth(f)
		f.Close()
		if err != nil || len(g.Incidents) != c.incidents || len(g.Lookalikes) != c.lookas {
			t.Errorf("%v: %d incidents and %d look-alikes (%v), want %d and %d", c.flags, len(g.Incidents), len(g.Lookalikes), err,
				c.incidents, c.lookas)
		}
	}
}
