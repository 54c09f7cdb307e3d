package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/delivery"
	"github.com/mcasload/mcasload/simulator/synth"
)

// TestDetectStream: detect over the stream, which has no created time: a stream row is new when
// the commit that loaded it is past the detect watermark. From the stream alone (loaded with
// mcasload stream, the export a local folder) detect delivers each planted incident of the
// detections that read the stream once, and a second run delivers nothing (exit 0). With both
// sources each incident is delivered once, and exactly the findings of the activities alone: an
// event in both counts once. Loading the activities after the stream's findings were delivered
// delivers nothing again.
func TestDetectStream(t *testing.T) {
	dir := t.TempDir()
	api, export, truthFile := filepath.Join(dir, "api.ndjson"), filepath.Join(dir, "export"), filepath.Join(dir, "truth.json")
	sim := []string{"sim", "--users", "20", "--days", "3", "--seed", "4", "--incidents", "--late-arrivals", "-1", "--end", "2026-11-20T12:00:00Z"}
	if code, _, errs := runMcasload(t, nil, append(slices.Clone(sim), "--ndjson", api, "--truth", truthFile)...); code != exitOK {
		t.Fatalf("sim --ndjson: exit %d: %s", code, errs)
	}
	if code, _, errs := runMcasload(t, nil, append(slices.Clone(sim), "--stream-to", export, "--stream-only")...); code != exitOK {
		t.Fatalf("sim --stream-to: exit %d: %s", code, errs)
	}
	var truth synth.GroundTruth
	if err := json.Unmarshal([]byte(readFile(t, truthFile)), &truth); err != nil {
		t.Fatal(err)
	}
	kinds := []string{"mass-download", "failed-login-burst"}
	load := func(t *testing.T, wh string, args ...string) {
		t.Helper()
		if code, out, errs := runMcasload(t, nil, append(args[:1:1], append([]string{"-w", wh, "--tenant-label", "contoso", "--progress=false"}, args[1:]...)...)...); code != exitOK {
			t.Fatalf("%s: exit %d\n%s%s", args[0], code, out, errs)
		}
	}
	// detect runs the kinds' detections and returns the findings it delivered to a file.
	detect := func(t *testing.T, wh string, wantCode int) []delivery.Finding {
		t.Helper()
		file := filepath.Join(t.TempDir(), "findings.ndjson")
		code, out, errs := runMcasload(t, nil, "detect", "-w", wh, "--investigations", strings.Join(kinds, ","), "--deliver", "file://"+file)
		if code != wantCode {
			t.Fatalf("detect: exit %d, want %d\n%s%s", code, wantCode, out, errs)
		}
		t.Logf("detect: %s", strings.TrimSpace(errs))
		return wireLines(t, file, nil)
	}
	// planted counts the findings of each planted incident (and decoy) of kinds: a finding of
	// its kind whose evidence holds one of its records, by the activity's id or the stream's
	// ReportId (the id, bare or with _<ApplicationId>).
	planted := func(t *testing.T, found []delivery.Finding) {
		t.Helper()
		seen := map[string]bool{}
		for _, f := range found {
			if seen[f.ID] {
				t.Errorf("finding %s delivered twice in one run", f.ID)
			}
			seen[f.ID] = true
		}
		for _, inc := range truth.Incidents {
			if !slices.Contains(kinds, inc.Kind) {
				continue
			}
			n := 0
			for _, f := range found {
				if f.Key.Investigation == inc.Kind && slices.ContainsFunc(f.EvidenceIDs, func(e string) bool {
					base, _, _ := strings.Cut(e, "_")
					return slices.Contains(inc.IDs, e) || slices.Contains(inc.IDs, base)
				}) {
					n++
				}
			}
			want := 1
			if inc.Decoy {
				want = 0
			}
			if n != want {
				t.Errorf("%s (decoy %v, %s): delivered %d times, want %d", inc.Kind, inc.Decoy, inc.User, n, want)
			}
		}
	}
	keys := func(found []delivery.Finding) []string {
		var out []string
		for _, f := range found {
			out = append(out, f.Key.ID()+" "+f.Key.Investigation+" "+f.Key.Entities.User+" "+f.Key.Bucket)
		}
		slices.Sort(out)
		return out
	}

	streamOnly := filepath.Join(dir, "wh-stream")
	load(t, streamOnly, "stream", "--folder", export)
	fromStream := detect(t, streamOnly, exitNewFindings)
	planted(t, fromStream)
	if again := detect(t, streamOnly, exitOK); len(again) != 0 {
		t.Errorf("a second detect over the same stream delivered %d findings: %v", len(again), keys(again))
	}
	// The activities of the same events arrive later: nothing is new to deliver.
	load(t, streamOnly, "load", api)
	if late := detect(t, streamOnly, exitOK); len(late) != 0 {
		t.Errorf("the activities of events the stream brought delivered %d findings again: %v", len(late), keys(late))
	}

	apiOnly, both := filepath.Join(dir, "wh-api"), filepath.Join(dir, "wh-both")
	load(t, apiOnly, "load", api)
	load(t, both, "load", api)
	load(t, both, "stream", "--folder", export)
	fromAPI, fromBoth := detect(t, apiOnly, exitNewFindings), detect(t, both, exitNewFindings)
	planted(t, fromBoth)
	if !slices.Equal(keys(fromBoth), keys(fromAPI)) {
		t.Errorf("both sources delivered\n%s\nthe activities alone\n%s", strings.Join(keys(fromBoth), "\n"), strings.Join(keys(fromAPI), "\n"))
	}
	if again := detect(t, both, exitOK); len(again) != 0 {
		t.Errorf("a second detect over both sources delivered %d findings", len(again))
	}
}
