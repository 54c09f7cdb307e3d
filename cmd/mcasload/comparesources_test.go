package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/simulator/xdrstream"
)

// TestCompareSourcesCommand: the simulated API's records (load) and its stream with planted
// differences (sim --stream-to, stream) in one warehouse; compare-sources exits 11 and lists
// exactly the truth's differences, in JSON {meta, rows}; without planted differences it exits 0;
// usage mistakes are refused.
func TestCompareSourcesCommand(t *testing.T) {
	az := testserver.StartAzurite(t)
	dir := t.TempDir()
	wh, records, truthFile := filepath.Join(dir, "wh"), filepath.Join(dir, "api.ndjson"), filepath.Join(dir, "truth.json")
	sim := []string{"sim", "--users", "15", "--days", "2", "--records", "900", "--seed", "5", "--end", "2026-03-01T12:00:00Z"}
	if code, _, errs := runMcasload(t, nil, append(sim, "--ndjson", records)...); code != exitOK {
		t.Fatalf("sim --ndjson: exit %d: %s", code, errs)
	}
	streamed := append(sim, "--stream-to", az.BlobEndpoint, "--stream-only", "--truth", truthFile,
		"--stream-drop", "4", "--stream-reid", "3", "--stream-extra", "2")
	if code, _, errs := runMcasload(t, nil, streamed...); code != exitOK {
		t.Fatalf("sim --stream-to: exit %d: %s", code, errs)
	}
	if code, out, errs := runMcasload(t, nil, "load", "-w", wh, "--tenant-label", "contoso", "--progress=false", records); code != exitOK {
		t.Fatalf("load: exit %d\n%s\n%s", code, out, errs)
	}
	if code, out, errs := runMcasload(t, nil, "stream", "-w", wh, "--tenant-label", "contoso", "--account-url", az.BlobEndpoint, "--progress=false"); code != exitOK {
		t.Fatalf("stream: exit %d\n%s\n%s", code, out, errs)
	}
	f, err := os.Open(truthFile)
	if err != nil {
		t.Fatal(err)
	}
	truth, err := xdrstream.ReadTruth(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runMcasload(t, nil, "compare-sources", "-w", wh, "--rows", "differences", "--format", "json")
	if code != exitDisagree || !strings.Contains(errs, "the sources differ") {
		t.Fatalf("compare-sources: exit %d, want %d\n%s", code, exitDisagree, errs)
	}
	var doc struct {
		Meta struct {
			Command string   `json:"command"`
			Notes   []string `json:"notes"`
		} `json:"meta"`
		Rows []struct {
			Tenant, Status, Mapping string
			APIID                   string `json:"api_id"`
			ReportID                string `json:"report_id"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got, want []string
	for _, r := range doc.Rows {
		got = append(got, r.Tenant+" "+r.Status+" "+strings.TrimSuffix(r.Mapping, "_no_ip")+" "+r.APIID+" "+r.ReportID)
	}
	for _, c := range truth.Dropped {
		want = append(want, "contoso only_api  "+c.ActivityID+" ")
	}
	for _, c := range truth.Extra {
		want = append(want, "contoso only_stream   "+c.ReportID)
	}
	for _, c := range truth.ReIDs {
		want = append(want, "contoso both fingerprint "+c.ActivityID+" "+c.ReportID)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) || len(want) != 9 || doc.Meta.Command != "compare-sources" || len(doc.Meta.Notes) == 0 {
		t.Errorf("differences:\n%s\nthe truth's:\n%s\nmeta %+v", strings.Join(got, "\n"), strings.Join(want, "\n"), doc.Meta)
	}
	// The summary in CSV: one row per day and app, the differences counted.
	code, out, _ = runMcasload(t, nil, "compare-sources", "-w", wh, "--format", "csv")
	if code != exitDisagree || !strings.HasPrefix(out, "tenant,day,app,in_both,by_id,by_fingerprint,only_api,only_stream,") {
		t.Errorf("summary: exit %d\n%s", code, out)
	}

	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"bad rows", []string{"--rows", "some"}, "--rows"},
		{"until before since", []string{"--since", "2026-02-10", "--until", "2026-02-01"}, "--until"},
		{"argument", []string{"extra"}, "no arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runMcasload(t, nil, append([]string{"compare-sources", "-w", wh}, tt.args...)...)
			if code != exitUsage || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d naming %s", code, errs, exitUsage, tt.want)
			}
		})
	}
}
