package main

import (
	"bytes"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mcasload/mcasload/internal/testserver"
	"github.com/mcasload/mcasload/streaming"
)

// TestStreamCommand: sim writes a stream to a real Azurite, stream loads it (every line a row),
// a rerun finds nothing new without reading a blob again, and the usage mistakes are refused
// with what to do.
func TestStreamCommand(t *testing.T) {
	az := testserver.StartAzurite(t)
	code, out, errs := runMcasload(t, nil, "sim", "--users", "15", "--days", "2", "--records", "800", "--seed", "9",
		"--stream-to", az.BlobEndpoint, "--stream-only")
	if code != exitOK {
		t.Fatalf("sim: exit %d: %s", code, errs)
	}
	m := regexp.MustCompile(`\((\d+) lines received`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("sim stdout %q", out)
	}
	dir := filepath.Join(t.TempDir(), "wh")
	args := []string{"stream", "-w", dir, "--account-url", az.BlobEndpoint, "--progress=false"}
	code, out, errs = runMcasload(t, nil, args...)
	if code != exitOK || !strings.Contains(out, "stream done: "+m[1]+" records read") || !strings.Contains(out, m[1]+" new, 0 duplicate") {
		t.Fatalf("stream: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runMcasload(t, nil, args...)
	if code != exitOK || !strings.Contains(out, "stream done: 0 records read") {
		t.Fatalf("second stream run: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runMcasload(t, nil, "sql", "-w", dir, "--format", "csv", "SELECT count(*) AS n, count(DISTINCT report_id) AS ids FROM cloud_app_events")
	if code != exitOK || !strings.Contains(out, m[1]+","+m[1]) {
		t.Errorf("sql over cloud_app_events: exit %d %q, want %s rows", code, out, m[1])
	}
	code, out, _ = runMcasload(t, nil, "verify", "-w", dir)
	if code != exitOK {
		t.Errorf("verify: exit %d %s", code, out)
	}

	for _, tt := range []struct {
		name string
		vars map[string]string
		args []string
		code int
		want string
	}{
		{"no account", nil, []string{"stream", "-w", dir}, exitUsage, "--account-url"},
		{"sas in the url", nil, []string{"stream", "-w", dir, "--account-url", "https://acct.blob.core.windows.net/?sv=1&sig=c2VjcmV0"}, exitUsage, streaming.EnvSAS},
		{"since after until", nil, []string{"stream", "-w", dir, "--account-url", az.BlobEndpoint, "--since", "2026-02-01", "--until", "2026-01-01"}, exitUsage, "--since"},
		{"legacy token", nil, []string{"stream", "-w", dir, "--account-url", "https://acct.blob.core.windows.net", "--auth", "token"}, exitUsage, "legacy token"},
		{"two secrets", map[string]string{streaming.EnvSAS: "sv=1&sig=abcdefgh", streaming.EnvConnectionString: "AccountName=a;AccountKey=b"},
			[]string{"stream", "-w", dir, "--account-url", "https://acct.blob.core.windows.net"}, exitAuth, "give one"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return tt.vars[k] }}
			code, errs := e.run(t.Context(), append([]string{"mcasload"}, tt.args...)), stderr.String()
			if code != tt.code || !strings.Contains(errs, tt.want) || strings.Contains(errs, "c2VjcmV0") || strings.Contains(errs, "abcdefgh") {
				t.Errorf("exit %d, want %d; stderr %q should name %q and no secret", code, tt.code, errs, tt.want)
			}
		})
	}
}

// TestStreamFolder: sim writes the stream to a local folder as files, stream --folder loads it
// (every line a row, the same whether the folder is a path or a file:// URL), and the mistakes of
// a folder location are refused with what to do.
func TestStreamFolder(t *testing.T) {
	export := t.TempDir()
	code, out, errs := runMcasload(t, nil, "sim", "--users", "15", "--days", "2", "--records", "600", "--seed", "9",
		"--stream-to", export, "--stream-only")
	m := regexp.MustCompile(`stream: (\S+) \((\d+) lines received`).FindStringSubmatch(out)
	if code != exitOK || m == nil || m[1] != filepath.Join(export, streaming.DefaultContainer) {
		t.Fatalf("sim: exit %d %q %s", code, out, errs)
	}
	dir := filepath.Join(t.TempDir(), "wh")
	code, out, errs = runMcasload(t, nil, "stream", "-w", dir, "--folder", export, "--progress=false")
	if code != exitOK || !strings.Contains(out, "stream done: "+m[2]+" records read") || !strings.Contains(out, m[2]+" new, 0 duplicate") {
		t.Fatalf("stream --folder: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runMcasload(t, nil, "stream", "-w", dir, "--folder", streaming.FolderURL(export), "--progress=false")
	if code != exitOK || !strings.Contains(out, "stream done: 0 records read") {
		t.Fatalf("stream --folder file://: exit %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runMcasload(t, nil, "sql", "-w", dir, "--format", "csv", "SELECT count(DISTINCT report_id) AS ids FROM cloud_app_events")
	if code != exitOK || !strings.Contains(out, "\n"+m[2]+"\n") {
		t.Errorf("sql over cloud_app_events: exit %d %q, want %s rows", code, out, m[2])
	}

	for _, tt := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"folder and account", []string{"stream", "-w", dir, "--folder", export, "--account-url", "https://acct.blob.core.windows.net"}, exitUsage, "drop --account-url"},
		{"no such folder", []string{"stream", "-w", dir, "--folder", filepath.Join(export, "none")}, exitUsage, "--folder"},
		{"no container folder", []string{"stream", "-w", dir, "--folder", t.TempDir()}, exitFailure, "--container"},
		{"a path as account url", []string{"stream", "-w", dir, "--account-url", export}, exitUsage, "--folder DIR"},
		{"sim: host:port without a scheme", []string{"sim", "--records", "10", "--stream-to", "127.0.0.1:10000/devstoreaccount1", "--stream-only"}, exitUsage, "http://127.0.0.1:10000"},
		{"sim: another scheme", []string{"sim", "--records", "10", "--stream-to", "s3://bucket", "--stream-only"}, exitUsage, "file:// URL"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errs := runMcasload(t, nil, tt.args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, want %d; stderr %q should name %q", code, tt.code, errs, tt.want)
			}
		})
	}
}
