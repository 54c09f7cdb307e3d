package main

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mcasload/mcasload/internal/testkit"
	"github.com/mcasload/mcasload/simulator"
	"github.com/mcasload/mcasload/simulator/synth"
)

// Secrets of the sign-in process tests, distinctive so that a leak cannot be a coincidence.
const (
	signinSecret     = "signinClientSecret~Rk2Lm4Np6Qr8St0Uv"
	signinPFXPass    = "signinPfxPassword-Gh7Jk9Lm1"
	signinUserMI     = "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f70"
	signinSubject    = "system:serviceaccount:security:mcasload"
	assertionPS256   = "eyJhbGciOiJQUzI1NiIs" // the start of every certificate assertion azidentity signs
	federatedRS256ID = "eyJhbGciOiJSUzI1NiIs" // the start of the simulator's federated tokens
)

// signinCert is a test client certificate.
type signinCert struct{ *simulator.ClientCertificate }

func newSigninCert(t *testing.T, cn string, notBefore, notAfter time.Time) signinCert {
	t.Helper()
	c, err := simulator.NewClientCertificate(cn, notBefore, notAfter)
	if err != nil {
		t.Fatal(err)
	}
	return signinCert{c}
}

// pemFile writes certificate and key into one PEM file, the key first (the order is free).
func (c signinCert) pemFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "client.pem")
	if err := os.WriteFile(p, append(append([]byte(nil), c.KeyPEM...), c.CertPEM...), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// pfxFile exports the certificate as PFX with openssl, the way an operator would; the password
// travels in a file, never in argv. legacy picks the encryption Microsoft's Go library reads.
func (c signinCert) pfxFile(t *testing.T, password string, legacy bool) string {
	t.Helper()
	dir := t.TempDir()
	in, pw, out := filepath.Join(dir, "in.pem"), filepath.Join(dir, "pw"), filepath.Join(dir, "client.pfx")
	if err := os.WriteFile(in, c.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(pw, []byte(password), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"pkcs12", "-export", "-in", in, "-out", out, "-passout", "file:" + pw}
	if legacy {
		args = append(args, "-legacy")
	}
	if b, err := exec.Command("openssl", args...).CombinedOutput(); err != nil {
		t.Fatalf("openssl %v: %v\n%s", args, err, b)
	}
	return out
}

// signinSim is a TLS simulator with a registered certificate, a trusted federated subject and a
// user-assigned managed identity, plus the CA file the binary trusts through SSL_CERT_FILE.
type signinSim struct {
	*simulator.Server
	caFile string
}

func startSigninSim(t *testing.T, certs ...*x509.Certificate) signinSim {
	t.Helper()
	tn := synth.New(synth.Config{Seed: 9, Users: 5, Days: 1, End: time.Now().Add(-time.Hour).UTC(), Total: 300, LateArrivals: -1})
	srv := simulator.NewTLSServer(simulator.Config{Tenant: tn, ClientSecret: signinSecret, RateLimit: simulator.NoRateLimit,
		Identity: simulator.IdentityConfig{Certificates: certs, FederatedSubjects: []string{signinSubject}, UserAssigned: []string{signinUserMI}}})
	t.Cleanup(srv.Close)
	ca := filepath.Join(t.TempDir(), "sim-ca.pem")
	if err := srv.CA.WriteFile(ca); err != nil {
		t.Fatal(err)
	}
	return signinSim{Server: srv, caFile: ca}
}

// signinEnv is the process environment without any credential or identity variable of the
// machine running the tests, plus extra.
func signinEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "MCAS_") || strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "IDENTITY_") ||
			strings.HasPrefix(k, "MSI_") || k == "IMDS_ENDPOINT" || strings.HasPrefix(k, "SSL_CERT_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// runSignin runs the binary with exactly env. It refuses a run that could make azidentity probe
// the VM metadata address: managed identity must come from IDENTITY_ENDPOINT, or be left out of
// --auth auto's chain.
func runSignin(t *testing.T, bin string, env []string, args ...string) testkit.Result {
	t.Helper()
	auth := ""
	for i, a := range args {
		if a == "--auth" && i+1 < len(args) {
			auth = args[i+1]
		}
	}
	hasEndpoint := slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "IDENTITY_ENDPOINT=") })
	chainOK := slices.ContainsFunc(args, func(a string) bool { return strings.HasPrefix(a, "--auth-chain") }) &&
		!slices.ContainsFunc(args, func(a string) bool { return strings.Contains(a, "managed-identity") })
	if (auth == "managed-identity" || auth == "auto") && !hasEndpoint && !chainOK {
		t.Fatalf("test bug: --auth %s without IDENTITY_ENDPOINT could contact 169.254.169.254", auth)
	}
	return testkit.RunExact(t, bin, env, args...)
}

// fakeAz writes a stand-in `az` into a new directory for PATH. It prints what
// `az account get-access-token -o json --resource …` prints (accessToken, expiresOn in local time,
// expires_on, subscription, tenant, tokenType) and logs its arguments; given loggedOut it fails
// as az does before `az login`.
func fakeAz(t *testing.T, token string, expires time.Time, loggedOut bool) (dir, argsLog string) {
	t.Helper()
	dir = t.TempDir()
	argsLog = filepath.Join(dir, "args.log")
	out, _ := json.MarshalIndent(map[string]any{
		"accessToken": token, "expiresOn": expires.Local().Format("2006-01-02 15:04:05.000000"), "expires_on": expires.Unix(),
		"subscription": "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", "tenant": simulator.DefaultTenantID, "tokenType": "Bearer",
	}, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "token.json"), out, 0o600); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("cat %q\n", filepath.Join(dir, "token.json"))
	if loggedOut {
		body = "echo \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n"
	}
	script := fmt.Sprintf("#!/bin/sh\n# stand-in for the Azure CLI\necho \"$*\" >> %q\n%s", argsLog, body)
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir, argsLog
}

// TestSigninProcess signs in with every method through the real binary against the simulator's
// HTTPS authority (trusted through SSL_CERT_FILE), then lists activities: client secret,
// certificate (PEM, PFX with password from a file and from the environment), managed identity
// (App Service form, system- and user-assigned), workload identity (the standard AZURE_*
// variables), Azure CLI (a stand-in az on PATH) and auto; and the failures an operator meets:
// an unregistered, expired or unreadable certificate, a wrong PFX password, an unknown
// managed identity, an untrusted federated subject, az not logged in. No secret, token,
// assertion or password appears in any output.
func TestSigninProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped in -short")
	}
	bin := testkit.Build(t, testkit.MCASLoad)
	now := time.Now()
	good := newSigninCert(t, "mcasload-good", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	unregistered := newSigninCert(t, "mcasload-unregistered", now.Add(-time.Hour), now.Add(30*24*time.Hour))
	expired := newSigninCert(t, "mcasload-expired", now.Add(-60*24*time.Hour), now.Add(-24*time.Hour))
	sim := startSigninSim(t, good.Cert, expired.Cert)
	h := sim.Handler
	base := []string{"SSL_CERT_FILE=" + sim.caFile}
	app := []string{"--tenant-id", h.TenantID(), "--client-id", h.ClientID(), "--authority-url", sim.URL}
	check := func(extra ...string) []string {
		return append([]string{"check", "--url", sim.URL, "--log-level", "debug"}, extra...)
	}
	pfxPass := filepath.Join(t.TempDir(), "pfx-pass")
	if err := os.WriteFile(pfxPass, []byte(signinPFXPass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fedToken := h.IssueFederatedToken(signinSubject, time.Hour)
	fedFile := filepath.Join(t.TempDir(), "azure-identity-token")
	if err := os.WriteFile(fedFile, []byte(fedToken), 0o600); err != nil {
		t.Fatal(err)
	}
	strangerFile := filepath.Join(t.TempDir(), "stranger-token")
	if err := os.WriteFile(strangerFile, []byte(h.IssueFederatedToken("system:serviceaccount:other:intruder", time.Hour)), 0o600); err != nil {
		t.Fatal(err)
	}
	cliToken, cliExpires := h.IssueAccessToken(time.Hour)
	azDir, azArgs := fakeAz(t, cliToken, cliExpires, false)
	azOutDir, _ := fakeAz(t, "", time.Time{}, true)
	path := os.Getenv("PATH")
	mi := []string{"IDENTITY_ENDPOINT=" + sim.IdentityEndpoint(), "IDENTITY_HEADER=" + h.IdentityHeader()}
	workload := []string{"AZURE_TENANT_ID=" + h.TenantID(), "AZURE_CLIENT_ID=" + h.ClientID(), "AZURE_FEDERATED_TOKEN_FILE=" + fedFile,
		"AZURE_AUTHORITY_HOST=" + sim.URL}

	cases := []struct {
		name  string
		env   []string
		args  []string
		code  int
		out   string // in stdout
		err   string // in stderr
		hint  string // in the hint line: what the CLI says to do, naming its flags
		grant string // the simulator issued a token this way
	}{
		{name: "client secret", env: []string{"MCAS_CLIENT_SECRET=" + signinSecret}, args: app, out: "ok    credential  entra client secret; token valid until", grant: simulator.GrantSecret},
		{name: "certificate pem", args: append([]string{"--client-certificate", good.pemFile(t)}, app...), out: "entra client certificate (thumbprint ", grant: simulator.GrantCertificate},
		{name: "certificate pfx, password file", args: append([]string{"--auth", "client-certificate", "--client-certificate", good.pfxFile(t, signinPFXPass, true), "--client-certificate-password-file", pfxPass}, app...),
			out: "ok    permission", grant: simulator.GrantCertificate},
		{name: "certificate pfx, password env", env: []string{"MCAS_CLIENT_CERTIFICATE_PASSWORD=" + signinPFXPass}, args: append([]string{"--client-certificate", good.pfxFile(t, signinPFXPass, true)}, app...),
			out: "ok    permission", grant: simulator.GrantCertificate},
		{name: "certificate not registered", args: append([]string{"--client-certificate", unregistered.pemFile(t)}, app...), code: exitAuth,
			out: "FAIL  credential", err: "not registered on application", hint: "check --tenant-id, --client-id, that this certificate is uploaded to the app registration"},
		{name: "certificate expired", args: append([]string{"--client-certificate", expired.pemFile(t)}, app...), code: exitAuth,
			out: "FAIL  credential", err: "expired on", hint: "point --client-certificate at the new certificate"},
		{name: "pfx wrong password", env: []string{"MCAS_CLIENT_CERTIFICATE_PASSWORD=not-the-password"}, args: append([]string{"--client-certificate", good.pfxFile(t, signinPFXPass, true)}, app...),
			code: exitAuth, err: "wrong password", hint: "--client-certificate-password-file or in MCAS_CLIENT_CERTIFICATE_PASSWORD"},
		{name: "pfx in openssl 3's default encryption", env: []string{"MCAS_CLIENT_CERTIFICATE_PASSWORD=" + signinPFXPass}, args: append([]string{"--client-certificate", good.pfxFile(t, signinPFXPass, false)}, app...),
			code: exitAuth, err: "-legacy"},
		{name: "managed identity, system-assigned", env: mi, args: []string{"--auth", "managed-identity"}, out: "entra managed identity (system-assigned); token valid until", grant: simulator.GrantManagedIdentity},
		{name: "managed identity, user-assigned", env: mi, args: []string{"--auth", "managed-identity", "--managed-identity-client-id", signinUserMI}, out: "user-assigned, client ID " + signinUserMI, grant: simulator.GrantManagedIdentity},
		{name: "managed identity, unknown", env: mi, args: []string{"--auth", "managed-identity", "--managed-identity-client-id", "11111111-0000-4000-8000-000000000000"}, code: exitAuth,
			err: "No User Assigned or Delegated Managed Identity found", hint: "--managed-identity-client-id for a user-assigned one"},
		{name: "workload identity", env: workload, args: []string{"--auth", "workload-identity"}, out: "entra workload identity; token valid until", grant: simulator.GrantFederated},
		{name: "workload identity, untrusted subject", env: append(workload, "AZURE_FEDERATED_TOKEN_FILE="+strangerFile), args: []string{"--auth", "workload-identity"}, code: exitAuth,
			err: "No matching federated identity record", hint: "check the federated credential of the app"},
		{name: "azure cli", env: []string{"PATH=" + azDir + ":" + path}, args: []string{"--auth", "azure-cli"}, out: "ok    credential  azure cli; token valid until"},
		{name: "azure cli not logged in", env: []string{"PATH=" + azOutDir + ":" + path}, args: []string{"--auth", "azure-cli"}, code: exitAuth, err: "az login", hint: "run `az login` (with --tenant for another tenant)"},
		{name: "auto: managed identity", env: mi, args: []string{"--auth", "auto"}, out: "entra auto: entra managed identity (system-assigned)", grant: simulator.GrantManagedIdentity},
		{name: "auto: falls through to azure cli", env: []string{"PATH=" + azDir + ":" + path}, args: []string{"--auth", "auto", "--auth-chain", "workload-identity,azure-cli"},
			out: "entra auto: azure cli"},
		{name: "auto: certificate first", env: mi, args: append([]string{"--auth", "auto", "--client-certificate", good.pemFile(t)}, app...), out: "entra auto: entra client certificate", grant: simulator.GrantCertificate},
	}
	secrets := []string{signinSecret, signinPFXPass, fedToken, cliToken, h.IdentityHeader(), assertionPS256, federatedRS256ID, "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9"}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := h.Grants()[c.grant]
			env := signinEnv(append(append([]string{}, base...), c.env...)...)
			r := runSignin(t, bin, env, check(c.args...)...)
			if r.Code != c.code || !strings.Contains(r.Stdout, c.out) || !strings.Contains(r.Stderr, c.err) {
				t.Fatalf("want exit %d, %q in stdout, %q in stderr; got exit %d\nstdout:\n%s\nstderr:\n%s", c.code, c.out, c.err, r.Code, r.Stdout, r.Stderr)
			}
			if c.hint != "" {
				if _, hint := errorAndHint(t, r.Stderr); !strings.Contains(hint, c.hint) {
					t.Errorf("hint %q, want %q in it", hint, c.hint)
				}
			}
			if c.grant != "" && h.Grants()[c.grant] <= before {
				t.Errorf("the simulator issued no %s token: %v", c.grant, h.Grants())
			}
			for _, s := range secrets {
				if strings.Contains(r.Stdout+r.Stderr, s) {
					t.Errorf("a secret (%.12s…) appears in the output:\n%s\n%s", s, r.Stdout, r.Stderr)
				}
			}
		})
	}
	t.Run("azure cli command", func(t *testing.T) {
		b, err := os.ReadFile(azArgs)
		if err != nil || !strings.Contains(string(b), "account get-access-token -o json --resource 05a65629-4c1b-48c1-a78b-804c4abdd4af") {
			t.Errorf("az was called with %q (%v), want account get-access-token for the API", b, err)
		}
	})
	t.Run("scan with a certificate", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "wh")
		args := append([]string{"scan", "--url", sim.URL, "-w", dir, "--progress=false", "--rate-limit", "6000", "--client-certificate", good.pemFile(t)}, app...)
		r := runSignin(t, bin, signinEnv(base...), args...)
		if r.Code != 0 {
			t.Fatalf("exit %d:\n%s", r.Code, r.Stderr)
		}
		if !strings.Contains(r.Stderr, "signed in to entra") || !strings.Contains(r.Stderr, "client certificate") {
			t.Errorf("the log does not say how it signed in:\n%s", r.Stderr)
		}
	})
	t.Run("untrusted authority", func(t *testing.T) {
		r := runSignin(t, bin, signinEnv("MCAS_CLIENT_SECRET="+signinSecret), check(append([]string{"--ca-file", sim.caFile}, app...)...)...)
		if r.Code != 0 {
			t.Fatalf("--ca-file should trust the authority too: exit %d\n%s", r.Code, r.Stderr)
		}
		r = runSignin(t, bin, signinEnv("MCAS_CLIENT_SECRET="+signinSecret), check(app...)...)
		if msg, hint := errorAndHint(t, r.Stderr); r.Code == 0 || !strings.Contains(msg, "certificate is not trusted") || !strings.Contains(hint, "--ca-file") {
			t.Errorf("an untrusted authority: want a failure naming the certificate, and a hint naming --ca-file: exit %d\n%s", r.Code, r.Stderr)
		}
	})
}
