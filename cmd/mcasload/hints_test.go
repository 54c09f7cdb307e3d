package main

import (
	"bytes"
	"database/sql"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/mcas"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
	"github.com/mcasload/mcasload/warehouse"
)

// cliWords are what only the CLI may say: its flags and its environment variables.
var cliWords = regexp.MustCompile(`(^|[^\w-])--[a-z][a-z0-9-]*|\b(MCAS|AZURE)_[A-Z0-9_]*[A-Z0-9]\b`)

// errorAndHint splits the CLI's stderr into the error line ("mcasload: …") and the hint line
// ("hint: …"), skipping log lines.
func errorAndHint(t *testing.T, stderr string) (msg, hint string) {
	t.Helper()
	for _, l := range strings.Split(stderr, "\n") {
		if m, ok := strings.CutPrefix(l, "mcasload: "); ok {
			msg = m
		}
		if h, ok := strings.CutPrefix(l, "hint: "); ok {
			hint = h
		}
	}
	if msg == "" {
		t.Fatalf("no error line in stderr:\n%s", stderr)
	}
	return msg, hint
}

// TestLibraryErrorsGetCLIHints pins, end to end, failures whose library error says what is wrong
// in the library's terms (no flag, no environment variable) while the CLI's hint names the flag
// or variable that fixes it, with the exit code operators script against.
func TestLibraryErrorsGetCLIHints(t *testing.T) {
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "") // the auto chain below must find nothing configured
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("AZURE_CLIENT_ID", "")
	sim := startScanSim(t, synth.New(synth.Config{Seed: 3, Users: 5, Days: 1, End: time.Now().Add(-time.Hour).UTC(), Total: 200, LateArrivals: -1}), simulator.Config{})
	api := &checkAPI{}
	tlsSrv := httptest.NewTLSServer(api)
	t.Cleanup(tlsSrv.Close)
	caFile := serverCAFile(t, tlsSrv)
	dir := filepath.Join(t.TempDir(), "wh")
	scan := []string{"scan", "--url", sim.URL, "-w", dir, "--progress=false", "--rate-limit", "6000"}
	checkToken := map[string]string{"MCAS_TOKEN": checkToken}

	tests := []struct {
		name   string
		vars   map[string]string
		args   []string
		status int32 // forced status of the TLS check API
		code   int
		msg    string // in the error line
		hint   string // in the hint line
		// cliMsg: the error line may name a flag (the CLI's own prefix, e.g. "--filter: …").
		cliMsg bool
	}{
		{name: "credentials in the URL", vars: tokenEnv,
			args: []string{"scan", "--url", "https://user:hunter2pass@contoso.example", "-w", dir},
			code: exitUsage, msg: "must not contain credentials", hint: "MCAS_TOKEN or --token-file, never in --url"},
		{name: "untrusted TLS certificate", vars: checkToken, args: []string{"check", "--url", tlsSrv.URL},
			code: exitFailure, msg: "TLS certificate is not trusted", hint: "pass its PEM certificate with --ca-file"},
		{name: "wrong API URL", vars: checkToken, args: []string{"check", "--url", tlsSrv.URL, "--ca-file", caFile}, status: 404,
			code: exitFailure, msg: "HTTP 404", hint: "check --url: it should be the API URL from the portal's About page"},
		{name: "auto chain with nothing configured", args: []string{"check", "--url", tlsSrv.URL, "--ca-file", caFile, "--auth", "auto", "--auth-chain", "client-secret,workload-identity"},
			code: exitAuth, msg: "none of client-secret, workload-identity is configured", hint: "set MCAS_TOKEN or --token-file, or sign in to Entra ID (--auth)"},
		{name: "refused client secret", vars: map[string]string{"MCAS_CLIENT_SECRET": "not-the-secret"},
			args: []string{"check", "--url", tlsSrv.URL, "--ca-file", caFile, "--tenant-id", checkTenant, "--client-id", "app-1", "--authority-url", tlsSrv.URL},
			code: exitAuth, msg: "AADSTS7000215", hint: "check --tenant-id, --client-id and the client secret"},
		{name: "refused token during a scan", vars: map[string]string{"MCAS_TOKEN": "wrong-token-0123456789"}, args: scan,
			code: exitAuth, msg: "HTTP 403", hint: "needs Investigation.read; check the credential with `mcasload check`"},
		{name: "time bounds in the filter", vars: tokenEnv, args: append(scan[:len(scan):len(scan)], "--filter", `{"created":{"gte":1}}`),
			code: exitUsage, msg: "time bounds belong in the scan's window", hint: "give time bounds with --since/--until, not in --filter", cliMsg: true},
		{name: "empty window on the service's clock", vars: tokenEnv,
			args: append(scan[:len(scan):len(scan)], "--full", "--since", "1h", "--until", time.Now().Add(-48*time.Hour).UTC().Format(time.RFC3339)),
			code: exitUsage, msg: "the scan window is empty", hint: "--since must be before --until"},
		{name: "audit scope that cannot be counted", vars: tokenEnv,
			args: []string{"audit", "--url", sim.URL, "-w", dir, "--filter", `{"ip.category":{"eq":[3]}}`},
			code: exitFailure, msg: `the filter "ip.category" cannot be counted`, hint: "--service, --user or --event-type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api.status.Store(tt.status)
			code, out, errs := runScanCLI(t, tt.vars, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tt.code, out, errs)
			}
			msg, hint := errorAndHint(t, errs)
			if !strings.Contains(msg, tt.msg) || !strings.Contains(hint, tt.hint) {
				t.Errorf("error %q, hint %q; want %q in the error and %q in the hint", msg, hint, tt.msg, tt.hint)
			}
			if w := cliWords.FindString(msg); w != "" && !tt.cliMsg {
				t.Errorf("the library's error names %q, which only the CLI's hint should: %q", w, msg)
			}
			if strings.Contains(out+errs, "hunter2pass") || strings.Contains(out+errs, "not-the-secret") {
				t.Errorf("a secret appears in the output:\n%s%s", out, errs)
			}
		})
	}
}

// TestDamagedWatermarkHint: a scan that meets a watermark it cannot read names the key in the
// hint's reset command, and that command, run as given, lets the next scan start afresh.
func TestDamagedWatermarkHint(t *testing.T) {
	sim := startScanSim(t, synth.New(synth.Config{Seed: 4, Users: 5, Days: 1, End: time.Now().Add(-time.Hour).UTC(), Total: 200, LateArrivals: -1}), simulator.Config{})
	dir := filepath.Join(t.TempDir(), "wh")
	scan := []string{"scan", "--url", sim.URL, "-w", dir, "--progress=false", "--rate-limit", "6000", "--user", "o'brien@contoso.com"}
	if code, out, errs := runScanCLI(t, tokenEnv, scan...); code != exitOK {
		t.Fatalf("first scan: exit %d\n%s%s", code, out, errs)
	}
	db, err := sql.Open("duckdb", filepath.Join(dir, warehouse.DatabaseFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE state SET value = '{"created_ms": "garbage"' WHERE starts_with(key, 'scan ')`); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	code, out, errs := runScanCLI(t, tokenEnv, scan...)
	if code != exitFailure {
		t.Fatalf("scan over a damaged watermark: exit %d, want %d\n%s%s", code, exitFailure, out, errs)
	}
	msg, hint := errorAndHint(t, errs)
	reset, ok := strings.CutPrefix(hint, "forget it with mcasload state reset --key ")
	if !strings.Contains(msg, "is damaged") || !ok {
		t.Fatalf("error %q, hint %q; want a damaged watermark and the reset command", msg, hint)
	}
	if w := cliWords.FindString(msg); w != "" {
		t.Errorf("the library's error names %q: %q", w, msg)
	}
	code, out, errs = runScanCLI(t, nil, "state", "show", "-w", dir)
	if _, showHint := errorAndHint(t, errs); code != exitFailure || showHint != hint {
		t.Errorf("state show over a damaged watermark: exit %d, hint %q; want %d and the scan's hint %q\n%s", code, showHint, exitFailure, hint, out)
	}
	// The hint quotes the key for a POSIX shell: undo that quoting as sh would.
	key := strings.ReplaceAll(strings.TrimSuffix(strings.TrimPrefix(reset, "'"), "'"), `'\''`, "'")
	if code, out, errs := runScanCLI(t, nil, "state", "reset", "-w", dir, "--key", key); code != exitOK {
		t.Fatalf("state reset --key %s (from the hint): exit %d\n%s%s", reset, code, out, errs)
	}
	if code, out, errs := runScanCLI(t, tokenEnv, scan...); code != exitOK || !strings.Contains(errs, "mode=first") {
		t.Fatalf("scan after the reset: exit %d, want a first run\n%s%s", code, out, errs)
	}
}

// TestSignInHintNamesMissingFlags: a sign-in method that lacks settings (a Go caller's config;
// the CLI's own checks catch most before) gets a hint naming the flags or variables of exactly
// the missing ones.
func TestSignInHintNamesMissingFlags(t *testing.T) {
	t.Setenv("AZURE_TENANT_ID", "")
	t.Setenv("AZURE_CLIENT_ID", "")
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", "")
	for _, tt := range []struct {
		auth      mcas.EntraAuth
		want, not []string
	}{
		{mcas.EntraAuth{TenantID: "t", ClientID: "c"}, []string{"give MCAS_CLIENT_SECRET or --client-secret-file"}, []string{"--tenant-id"}},
		{mcas.EntraAuth{Method: mcas.ClientCertificate, ClientID: "c"}, []string{"give --tenant-id; --client-certificate"}, []string{"--client-id"}},
		{mcas.EntraAuth{Method: mcas.WorkloadIdentity}, []string{"--tenant-id or AZURE_TENANT_ID", "--client-id or AZURE_CLIENT_ID", "--federated-token-file or AZURE_FEDERATED_TOKEN_FILE"}, nil},
	} {
		_, err := mcas.NewClient(mcas.Config{URL: "https://contoso.example", Auth: tt.auth})
		ee, ok := clientSetupError(err, exitUsage).(*exitError)
		if !ok || ee.code != exitAuth {
			t.Fatalf("NewClient(%v): %v, want an auth failure", tt.auth, err)
		}
		for _, w := range tt.want {
			if !strings.Contains(ee.hint, w) {
				t.Errorf("%v: hint %q lacks %q", tt.auth, ee.hint, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(ee.hint, w) {
				t.Errorf("%v: hint %q names %q, which is given", tt.auth, ee.hint, w)
			}
		}
	}
}

// TestDamagedDatabaseHint: a DuckDB file with a block whose checksum no longer matches (what a
// failing disk, or a copy taken mid-write, leaves) makes every command that opens it fail with
// exit 1 and the same way out: verify, then repair --from parquet, which rebuilds it; after the
// repair the warehouse answers again with the rows it held.
func TestDamagedDatabaseHint(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "wh")
	records := writeLines(t, testRecords(7, 300))
	if code, _, errs := runMcasload(t, nil, "load", "-w", dir, "--progress=false", records); code != exitOK {
		t.Fatalf("load: exit %d\n%s", code, errs)
	}
	f, err := os.OpenFile(filepath.Join(dir, warehouse.DatabaseFile), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	// The first block after DuckDB's three 4 KiB headers; bytes inside it, past its checksum.
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xde, 0xad}, 16), 3*4096+200); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"status", "-w", dir},
		{"query", "user-timeline", "-w", dir, "--param", "user=user1@contoso.com"},
		{"load", "-w", dir, "--progress=false", records},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, _, errs := runMcasload(t, nil, args...)
			if code != exitFailure {
				t.Fatalf("exit %d, want %d\n%s", code, exitFailure, errs)
			}
			msg, hint := errorAndHint(t, errs)
			if !strings.Contains(msg, "Corrupt database file") || !strings.Contains(hint, "repair --from parquet") {
				t.Errorf("error %q, hint %q; want DuckDB's reason and the repair", msg, hint)
			}
		})
	}
	if code, _, errs := runMcasload(t, nil, "verify", "-w", dir); code != exitFailure || !strings.Contains(errs, "repair --from parquet") {
		t.Fatalf("verify: exit %d, want %d with the repair hint\n%s", code, exitFailure, errs)
	}
	if code, _, errs := runMcasload(t, nil, "repair", "--from", "parquet", "-w", dir); code != exitOK {
		t.Fatalf("repair: exit %d\n%s", code, errs)
	}
	code, out, errs := runMcasload(t, nil, "status", "-w", dir, "--format", "json")
	if code != exitOK || !strings.Contains(out, `"rows": 300`) {
		t.Fatalf("status after the repair: exit %d, want the 300 rows\n%s%s", code, out, errs)
	}
}
