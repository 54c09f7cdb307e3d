package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/simulator/xdrstream"
	"github.com/mcasload/mcasload/streaming"
)

// TestSimStream: `mcasload sim --stream-to` writes the tenant's CloudAppEvents to a real Azurite
// with its public development key, says how many lines, and records the blobs in the truth file.
func TestSimStream(t *testing.T) {
	az := testserver.StartAzurite(t)
	run := func(vars map[string]string, args ...string) (int, string, string) {
		var stdout, stderr bytes.Buffer
		e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return vars[k] }}
		code := e.run(t.Context(), append([]string{"mcasload", "sim", "--users", "20", "--days", "3", "--records", "1500", "--seed", "5"}, args...))
		return code, stdout.String(), stderr.String()
	}
	truthPath := filepath.Join(t.TempDir(), "truth.json")
	code, out, errs := run(nil, "--stream-to", az.BlobEndpoint, "--stream-only", "--truth", truthPath, "--incidents")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	m := regexp.MustCompile(`(?m)^stream: (\S+) \((\d+) lines received through `).FindStringSubmatch(out)
	if m == nil || m[1] != az.BlobEndpoint+"/"+streaming.DefaultContainer {
		t.Fatalf("stdout %q", out)
	}
	lines, _ := strconv.Atoi(m[2])
	f, err := os.Open(truthPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, _ := io.ReadAll(f)
	gt, err := synth.ReadGroundTruth(bytes.NewReader(raw))
	if err != nil || len(gt.Incidents) == 0 {
		t.Fatalf("ground truth: %v, %d incidents", err, len(gt.Incidents))
	}
	st, err := xdrstream.ReadTruth(bytes.NewReader(raw))
	if err != nil || st.Events != lines || lines < 1000 || len(st.Blobs) < 24 {
		t.Fatalf("stream truth: %v, %d events in %d blobs, stdout says %d", err, st.Events, len(st.Blobs), lines)
	}
	store, err := streaming.Open(streaming.Config{Credential: streaming.Credential{ConnectionString: mcas.NewSecret(az.ConnectionString())}})
	if err != nil {
		t.Fatal(err)
	}
	blobs, err := store.List(t.Context(), streaming.Window{})
	if err != nil || len(blobs) != len(st.Blobs) {
		t.Fatalf("listed %d blobs (%v), truth has %d", len(blobs), err, len(st.Blobs))
	}
	for _, b := range blobs {
		i := 0
		for i < len(st.Blobs) && st.Blobs[i].Name != b.Name {
			i++
		}
		if i == len(st.Blobs) || st.Blobs[i].Bytes != b.Size || b.Hour.IsZero() {
			t.Errorf("blob %s (%d bytes) not in the truth as written", b.Name, b.Size)
		}
	}

	for _, tt := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"no secret for a real account", nil, []string{"--stream-to", "https://acct.blob.core.windows.net", "--stream-only"}, exitUsage, streaming.EnvConnectionString},
		{"sas on the command line", nil, []string{"--stream-to", "https://acct.blob.core.windows.net/?sv=1&sig=c2VjcmV0c2ln", "--stream-only"}, exitUsage, "off the command line"},
		{"only without target", nil, []string{"--stream-only"}, exitUsage, "needs --stream-to"},
		{"refused sas", map[string]string{streaming.EnvSAS: "sv=2025-11-05&sig=c2VjcmV0c2lnbmF0dXJl"}, []string{"--stream-to", az.BlobEndpoint, "--stream-only"}, exitFailure, "write stream"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := run(tt.vars, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) || strings.Contains(errs, "c2VjcmV0") {
				t.Errorf("exit %d, stderr %q; want %d mentioning %q and no secret", code, errs, tt.code, tt.want)
			}
		})
	}
}
