package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/failpoint"
	"github.com/mcasload/mcasload/internal/testkit"
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
func TestDetectKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	end := time.Now().Add(-time.Hour).UTC().Truncate(time.Millisecond)
	tn := synth.New(synth.Config{Seed: 11, Users: 30, Days: 20, End: end, Incidents: true, LateArrivals: -1})
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
			detectArgs := []string{"detect", "-w", dir, "--deliver", hook.URL + "/hook#secret=" + secret + "&ca=" + ca}
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
