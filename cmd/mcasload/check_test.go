package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/clock"
	"github.com/mcasload/mcasload/simulator"
)

const (
	checkToken  = "check-token-0123456789abcdef0123456789"
	checkSecret = "entra-secret-value-never-print"
	checkTenant = "tenant-0001"
)

// checkAPI is a minimal activities endpoint and Entra token endpoint for the check command.
type checkAPI struct {
	status   atomic.Int32 // forced status of the activities endpoint, 0 = normal
	requests atomic.Int32
}

func (a *checkAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/"+checkTenant+"/v2.0/.well-known/openid-configuration" {
		base := "https://" + r.Host + "/" + checkTenant
		_ = json.NewEncoder(w).Encode(map[string]string{"token_endpoint": base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0"})
		return
	}
	if r.URL.Path == "/"+checkTenant+"/oauth2/v2.0/token" {
		_ = r.ParseForm()
		if r.PostForm.Get("client_secret") != checkSecret {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}`))
			return
		}
		_, _ = w.Write([]byte(`{"token_type":"Bearer","expires_in":3599,"access_token":"entra-access-token-xyz"}`))
		return
	}
	a.requests.Add(1)
	if r.URL.Path != "/api/v1/activities/" {
		http.NotFound(w, r)
		return
	}
	auth := r.Header.Get("Authorization")
	switch {
	case a.status.Load() != 0:
		w.WriteHeader(int(a.status.Load()))
		_, _ = w.Write([]byte(`{"error":{"message":"Insufficient role based permissions"}}`))
	case auth == "Token "+checkToken || auth == "Bearer entra-access-token-xyz":
		_ = json.NewEncoder(w).Encode(map[string]any{"total": 1234, "hasNext": true, "data": []any{map[string]any{"_id": "a"}}})
	default:
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"error":{"message":"Invalid token"}}`))
	}
}

// runCheck runs `mcasload check` with vars as the process environment seen through getenv.
func runCheck(t *testing.T, vars map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, getenv: func(k string) string { return vars[k] }}
	code := e.run(t.Context(), append([]string{"mcasload", "check"}, args...))
	return code, out.String(), errb.String()
}

func TestCheckCommand(t *testing.T) {
	api := &checkAPI{}
	srv := httptest.NewTLSServer(api) // Microsoft's sign-in library wants an HTTPS authority
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	caFile := serverCAFile(t, srv)
	tokenFile := filepath.Join(dir, "token")
	secretFile := filepath.Join(dir, "secret")
	wrongFile := filepath.Join(dir, "wrong")
	for f, v := range map[string]string{tokenFile: checkToken + "\n", secretFile: checkSecret, wrongFile: "wrong-secret-value"} {
		if err := os.WriteFile(f, []byte(v), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	entraArgs := []string{"--tenant-id", checkTenant, "--client-id", "app-1", "--authority-url", srv.URL}
	tests := []struct {
		name   string
		env    map[string]string
		args   []string
		status int32
		code   int
		out    []string // substrings of stdout
		errOut []string // substrings of stderr
	}{
		{"token from env", map[string]string{"MCAS_TOKEN": checkToken}, nil, 0, exitOK,
			[]string{"ok    credential  legacy token", "ok    url", "about 1234", "29 of 30 requests left"}, nil},
		{"token file", nil, []string{"--token-file", tokenFile}, 0, exitOK, []string{"ok    permission"}, nil},
		{"entra secret from env", map[string]string{"MCAS_CLIENT_SECRET": checkSecret}, entraArgs, 0, exitOK,
			[]string{"ok    credential  entra client secret; token valid until", "ok    permission"}, nil},
		{"entra secret file", nil, append([]string{"--client-secret-file", secretFile}, entraArgs...), 0, exitOK, []string{"ok    permission"}, nil},
		{"wrong token", map[string]string{"MCAS_TOKEN": "wrong-token-value-123"}, nil, 0, exitAuth,
			[]string{"FAIL  permission"}, []string{"HTTP 403", "Invalid token", "Investigation.read"}},
		{"wrong entra secret", nil, append([]string{"--client-secret-file", wrongFile}, entraArgs...), 0, exitAuth,
			[]string{"FAIL  credential"}, []string{"AADSTS7000215", "check --tenant-id"}},
		{"unknown auth", nil, []string{"--auth", "kerberos"}, 0, exitUsage, nil, []string{"unknown --auth", "managed-identity"}},
		{"unknown cloud", nil, []string{"--auth", "azure-cli", "--cloud", "mars"}, 0, exitUsage, nil, []string{"unknown --cloud", "usgov"}},
		{"certificate without file", nil, []string{"--auth", "client-certificate", "--tenant-id", checkTenant, "--client-id", "app-1"}, 0, exitUsage, nil, []string{"--client-certificate FILE"}},
		{"missing certificate file", nil, []string{"--client-certificate", filepath.Join(dir, "nope.pem"), "--tenant-id", checkTenant, "--client-id", "app-1"}, 0, exitAuth, nil, []string{"read client certificate"}},
		{"plain http authority", map[string]string{"MCAS_CLIENT_SECRET": checkSecret}, append([]string{"--authority-url", "http://127.0.0.1:1"}, entraArgs[:4]...), 0, exitFailure, nil, []string{"refusing authority URL", "https"}},
		{"chain without auto", nil, []string{"--auth", "azure-cli", "--auth-chain", "azure-cli"}, 0, exitUsage, nil, []string{"only to --auth auto"}},
		{"missing role", map[string]string{"MCAS_TOKEN": checkToken}, nil, 403, exitAuth, nil, []string{"Insufficient role based permissions"}},
		{"server failing", map[string]string{"MCAS_TOKEN": checkToken}, nil, 502, exitFailure, []string{"FAIL  request"}, []string{"HTTP 502"}},
		{"throttled", map[string]string{"MCAS_TOKEN": checkToken}, nil, 429, exitFailure, []string{"FAIL  budget"}, []string{"HTTP 429"}},
		{"no credentials", nil, nil, 0, exitUsage, nil, []string{"no credentials: set MCAS_TOKEN"}},
		{"missing token file", nil, []string{"--token-file", filepath.Join(dir, "nope")}, 0, exitAuth, nil, []string{"read secret file"}},
		{"half entra", map[string]string{"MCAS_CLIENT_SECRET": checkSecret}, []string{"--tenant-id", checkTenant}, 0, exitUsage, nil, []string{"--client-id"}},
		{"both credentials", nil, append([]string{"--token-file", tokenFile}, entraArgs...), 0, exitUsage, nil, []string{"choose one credential"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api.status.Store(tt.status)
			args := append([]string{"--url", srv.URL, "--log-level", "debug", "--ca-file", caFile}, tt.args...)
			code, out, errOut := runCheck(t, tt.env, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errOut)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.errOut {
				if !strings.Contains(errOut, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errOut)
				}
			}
			for _, s := range []string{checkToken, checkSecret, "entra-access-token-xyz", "wrong-secret-value", "wrong-token-value-123"} {
				if strings.Contains(out+errOut, s) {
					t.Errorf("a secret leaked into the output: %q", s)
				}
			}
		})
	}
}

func TestCheckMissingURL(t *testing.T) {
	t.Setenv("MCAS_URL", "")
	code, _, errOut := runCheck(t, map[string]string{"MCAS_TOKEN": checkToken})
	if code != exitUsage || !strings.Contains(errOut, "--url") {
		t.Fatalf("exit %d, stderr %q; want a usage error naming --url", code, errOut)
	}
}

// No connection flag takes a secret's value: secrets come from the environment or files.
func TestConnectionFlagsTakeNoSecret(t *testing.T) {
	for _, f := range connectionFlags() {
		for _, name := range f.Names() {
			if (strings.Contains(name, "token") || strings.Contains(name, "secret") || strings.Contains(name, "password")) && !strings.HasSuffix(name, "-file") {
				t.Errorf("flag --%s would take a secret on the command line", name)
			}
		}
	}
}

// TestCheckReportsClockSkew: check says how far the local clock is from the service's.
func TestCheckReportsClockSkew(t *testing.T) {
	for offset, want := range map[time.Duration]string{
		-2 * time.Hour:        "the local clock is about 2h0m0s ahead of the service's",
		24 * time.Hour:        "the local clock is about 24h0m0s behind the service's",
		0:                     "in step with the service's Date header",
		30 * time.Second:      "in step with the service's Date header",
		-365 * 24 * time.Hour: "8760h0m0s ahead",
	} {
		srv := startScanSim(t, scanTenant(), simulator.Config{Clock: clock.NewOffset(clock.Real{}, offset)})
		code, out, errs := runScanCLI(t, tokenEnv, "check", "--url", srv.URL)
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("check against a service %s off: exit %d, want %q:\n%s%s", offset, code, want, out, errs)
		}
	}
}

// serverCAFile writes the certificate of an httptest TLS server to a PEM file for --ca-file.
func serverCAFile(t *testing.T, srv *httptest.Server) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
